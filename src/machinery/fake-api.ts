// FakeApi: an in-memory stand-in for the API server, for unit tests of controllers. It keeps objects
// with uids and resourceVersions, implements the deletion semantics controllers rely on (propagation
// policy finalizers, deletionTimestamp while finalizers remain, removal once they are gone, uid and
// resourceVersion preconditions, Namespace finalize) and offers informer-shaped `ObjectSource`s that
// see every change synchronously, unless a test freezes or hides things to simulate a lagging cache.
// Not a replacement for the real API server's contract tests: only the paths controllers use.

import { errors } from '../api/errors.js';
import type { ResourceInfo } from '../api/resources.js';
import { isObject, type DeletionPropagation, type KubeObject } from '../api/types.js';
import type { InformerProvider, ObjectSource, SourceHandlers } from './object-source.js';

type Write = {
  verb: 'create' | 'delete' | 'patch' | 'update' | 'finalize';
  resource: string;
  namespace: string | undefined;
  name: string;
  detail?: unknown;
};

class FakeSource implements ObjectSource {
  readonly handlers = new Set<SourceHandlers>();
  synced = true;
  /** Objects (by uid) the cache pretends not to have, to simulate informer lag. */
  readonly hidden = new Set<string>();

  constructor(
    private readonly api: FakeApi,
    private readonly info: ResourceInfo,
  ) {}

  hasSynced(): boolean {
    return this.synced;
  }
  list(): readonly KubeObject[] {
    return this.api.list(this.info).filter((o) => !this.hidden.has(o.metadata.uid ?? ''));
  }
  addEventHandler(handlers: SourceHandlers): () => void {
    this.handlers.add(handlers);
    for (const obj of this.list()) handlers.onAdd?.(obj);
    return () => this.handlers.delete(handlers);
  }
}

function key(info: ResourceInfo, namespace: string | undefined, name: string): string {
  return `${info.group}/${info.resource}/${info.namespaced ? (namespace ?? '') : ''}/${name}`;
}

export class FakeApi implements InformerProvider {
  private readonly objects = new Map<string, { info: ResourceInfo; obj: KubeObject }>();
  private readonly sources = new Map<string, FakeSource>();
  private rv = 0;
  private uidSeq = 0;
  /** Every write, in order. */
  readonly writes: Write[] = [];
  /** Make the next matching writes fail with this error (consumed in order; `resource` narrows the match). */
  readonly failures: { verb: Write['verb']; resource?: string; error: Error }[] = [];
  now: () => string = () => '2024-01-01T00:00:00Z';

  informerFor(info: ResourceInfo): FakeSource {
    const k = `${info.group}/${info.resource}`;
    let s = this.sources.get(k);
    if (s === undefined) {
      s = new FakeSource(this, info);
      this.sources.set(k, s);
    }
    return s;
  }

  list(info: ResourceInfo): KubeObject[] {
    return [...this.objects.values()]
      .filter((e) => e.info === info || (e.info.group === info.group && e.info.resource === info.resource))
      .map((e) => e.obj);
  }

  find(info: ResourceInfo, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(key(info, namespace, name))?.obj;
  }

  /** Create; fills uid, resourceVersion and (for namespaces) `spec.finalizers: [kubernetes]`. */
  create(info: ResourceInfo, obj: KubeObject): KubeObject {
    const name = obj.metadata.name ?? '';
    const k = key(info, obj.metadata.namespace, name);
    if (this.objects.has(k)) throw errors.alreadyExists(info.resource, info.group, name);
    const stored: KubeObject = structuredClone(obj);
    stored.metadata.uid ??= `uid-${name}-${++this.uidSeq}`;
    stored.metadata.resourceVersion = String(++this.rv);
    if (info.kind === 'Namespace') {
      stored.spec = { finalizers: ['kubernetes'] };
      stored.status = { phase: 'Active' };
    }
    this.objects.set(k, { info, obj: stored });
    this.writes.push({ verb: 'create', resource: info.resource, namespace: obj.metadata.namespace, name });
    this.emit(info, 'add', undefined, stored);
    return stored;
  }

  async get(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined> {
    const o = this.find(info, namespace, name);
    return o === undefined ? undefined : structuredClone(o);
  }

  async delete(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    propagationPolicy: DeletionPropagation = 'Background',
    preconditionUid?: string,
  ): Promise<KubeObject> {
    this.maybeFail('delete', info.resource);
    const current = this.find(info, namespace, name);
    if (current === undefined) throw errors.notFound(info.resource, info.group, name);
    if (preconditionUid !== undefined && preconditionUid !== current.metadata.uid) {
      throw errors.conflict(info.resource, info.group, name, 'Precondition failed: UID');
    }
    this.writes.push({ verb: 'delete', resource: info.resource, namespace, name, detail: propagationPolicy });
    const next = structuredClone(current);
    const finalizers = new Set(next.metadata.finalizers ?? []);
    if (propagationPolicy === 'Foreground') finalizers.add('foregroundDeletion');
    if (propagationPolicy === 'Orphan') finalizers.add('orphan');
    if (info.kind === 'Namespace')
      next.status = { ...(isObject(next.status) ? next.status : {}), phase: 'Terminating' };
    const added = [...finalizers].some((f) => !(current.metadata.finalizers ?? []).includes(f));
    if (current.metadata.deletionTimestamp !== undefined && !added) return structuredClone(current);
    if (finalizers.size > 0 || this.specFinalizers(next).length > 0) {
      next.metadata.finalizers = [...finalizers];
      next.metadata.deletionTimestamp ??= this.now();
      return this.replace(info, current, next);
    }
    this.remove(info, current);
    return current;
  }

  /** JSON merge patch of the object (metadata fields and whole top-level fields only). */
  async patch(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    mergePatch: Record<string, unknown>,
  ): Promise<KubeObject> {
    this.maybeFail('patch', info.resource);
    const current = this.find(info, namespace, name);
    if (current === undefined) throw errors.notFound(info.resource, info.group, name);
    const next = structuredClone(current);
    const meta = isObject(mergePatch.metadata) ? mergePatch.metadata : {};
    if (
      typeof meta.resourceVersion === 'string' &&
      meta.resourceVersion !== current.metadata.resourceVersion
    ) {
      throw errors.conflict(info.resource, info.group, name);
    }
    const m = next.metadata as Record<string, unknown>;
    for (const [k, v] of Object.entries(meta)) {
      if (k === 'resourceVersion') continue;
      if (v === null) delete m[k];
      else m[k] = structuredClone(v);
    }
    for (const [k, v] of Object.entries(mergePatch)) {
      if (k === 'metadata') continue;
      if (v === null) delete next[k];
      else next[k] = structuredClone(v);
    }
    this.writes.push({ verb: 'patch', resource: info.resource, namespace, name, detail: mergePatch });
    return this.replace(info, current, next);
  }

  /** PUT of the status subresource: only `status` changes. Conflict on a stale resourceVersion. */
  async updateStatus(info: ResourceInfo, obj: KubeObject): Promise<KubeObject> {
    this.maybeFail('update', info.resource);
    const name = obj.metadata.name ?? '';
    const current = this.find(info, obj.metadata.namespace, name);
    if (current === undefined) throw errors.notFound(info.resource, info.group, name);
    if (
      obj.metadata.resourceVersion !== undefined &&
      obj.metadata.resourceVersion !== current.metadata.resourceVersion
    ) {
      throw errors.conflict(info.resource, info.group, name);
    }
    this.writes.push({
      verb: 'update',
      resource: info.resource,
      namespace: obj.metadata.namespace,
      name,
      detail: obj.status,
    });
    return this.replace(info, current, { ...structuredClone(current), status: structuredClone(obj.status) });
  }

  /** PUT /api/v1/namespaces/{name}/finalize: replaces spec.finalizers. */
  async finalize(info: ResourceInfo, obj: KubeObject): Promise<KubeObject> {
    this.maybeFail('finalize', info.resource);
    const name = obj.metadata.name ?? '';
    const current = this.find(info, undefined, name);
    if (current === undefined) throw errors.notFound(info.resource, info.group, name);
    if (
      obj.metadata.resourceVersion !== undefined &&
      obj.metadata.resourceVersion !== current.metadata.resourceVersion
    ) {
      throw errors.conflict(info.resource, info.group, name);
    }
    const finalizers = this.specFinalizers(obj);
    this.writes.push({
      verb: 'finalize',
      resource: info.resource,
      namespace: undefined,
      name,
      detail: finalizers,
    });
    const next = structuredClone(current);
    next.spec = { ...(isObject(next.spec) ? next.spec : {}), finalizers };
    return this.replace(info, current, next);
  }

  private specFinalizers(obj: KubeObject): string[] {
    const spec = obj.spec;
    return isObject(spec) && Array.isArray(spec.finalizers) ? (spec.finalizers as string[]) : [];
  }

  private maybeFail(verb: Write['verb'], resource: string): void {
    const i = this.failures.findIndex(
      (f) => f.verb === verb && (f.resource === undefined || f.resource === resource),
    );
    if (i < 0) return;
    const [f] = this.failures.splice(i, 1);
    if (f !== undefined) throw f.error;
  }

  private replace(info: ResourceInfo, current: KubeObject, next: KubeObject): KubeObject {
    if (
      next.metadata.deletionTimestamp !== undefined &&
      (next.metadata.finalizers ?? []).length === 0 &&
      this.specFinalizers(next).length === 0
    ) {
      this.remove(info, current);
      return next;
    }
    next.metadata.resourceVersion = String(++this.rv);
    this.objects.set(key(info, next.metadata.namespace, next.metadata.name ?? ''), { info, obj: next });
    this.emit(info, 'update', current, next);
    return structuredClone(next);
  }

  private remove(info: ResourceInfo, current: KubeObject): void {
    this.objects.delete(key(info, current.metadata.namespace, current.metadata.name ?? ''));
    this.emit(info, 'delete', undefined, current);
  }

  private emit(
    info: ResourceInfo,
    type: 'add' | 'update' | 'delete',
    old: KubeObject | undefined,
    obj: KubeObject,
  ): void {
    const source = this.sources.get(`${info.group}/${info.resource}`);
    if (source === undefined || source.hidden.has(obj.metadata.uid ?? '')) return;
    for (const h of source.handlers) {
      if (type === 'add') h.onAdd?.(obj);
      else if (type === 'update') h.onUpdate?.(old ?? obj, obj);
      else h.onDelete?.(obj);
    }
  }
}
