// Generic REST storage for every kind: create, get, list, update, patch, delete, status and scale,
// on top of the Store port with compare-and-swap on revisions.
import { randomUUID } from 'node:crypto';
import { ApiError, errors, isApiError, type StatusCause } from '../../api/errors.js';
import { applyPatchBody, type PatchType } from './patch.js';
import { apiVersionOf, resources, storeKey, storePrefix, type ResourceInfo } from '../../api/resources.js';
import { isObject, type DeleteOptions, type DeletionPropagation, type KubeObject } from '../../api/types.js';
import { isStoreError, type KeyValue, type Store } from '../../store/store.js';
import { decodeStored, encodeStored, wireBuffer, wireJson } from '../codec.js';
import { deepEqual, strategyFor, type FieldValidation, type Strategy } from './strategy.js';
import type { NamespaceCache } from '../namespace-cache.js';
import { compileSelectors, type ObjectFilter } from './filter.js';
import { FieldManager, type WriteSubresource } from './field-manager.js';
import { schemaFor, type Schema } from '../../api/schema/index.js';
import { fieldManagerMaxLength, type ApplyResult } from '../../api/managed-fields/index.js';

export interface WriteOptions {
  dryRun: boolean;
  fieldValidation: FieldValidation;
  /** Who makes the change (managedFields); required for server-side apply. */
  fieldManager?: string | undefined;
  /** The request's User-Agent: the manager's name when fieldManager is not given. */
  userAgent?: string | undefined;
  /** Server-side apply: take over fields other managers own instead of failing with a conflict. */
  force?: boolean | undefined;
}

export interface WriteResult {
  object: KubeObject;
  warnings: string[];
  /** Server-side apply created the object (201). */
  created?: boolean;
}

/** What an apply decided inside the shared update path. */
interface AppliedChange {
  result: ApplyResult;
  manager: string;
  subresource: 'status' | undefined;
}

/** Upstream's rule for the fieldManager parameter: at most 128 printable characters. */
function checkFieldManager(opts: WriteOptions, optionsKind: string): void {
  const m = opts.fieldManager;
  if (m === undefined) return;
  const causes: StatusCause[] = [];
  if (m.length > fieldManagerMaxLength) {
    causes.push({
      reason: 'FieldValueTooLong',
      field: 'fieldManager',
      message: `Too long: may not be more than ${fieldManagerMaxLength} bytes`,
    });
  } else if (!/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u.test(m)) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'fieldManager',
      message: `Invalid value: ${JSON.stringify(m)}: must only contain printable characters`,
    });
  }
  if (causes.length > 0) throw errors.invalid(optionsKind, 'meta.k8s.io', '', causes);
}

function requestedManagedFields(body: unknown): unknown {
  return isObject(body) && isObject(body.metadata) ? body.metadata.managedFields : undefined;
}

/**
 * Admission for one kind (set by the server, see admission.ts): may change the object or refuse the write
 * with an ApiError. Runs before the kind's defaults and validation, as mutating admission sees what the
 * client sent.
 */
export interface Admission {
  create?(obj: KubeObject, opts: WriteOptions): Promise<void>;
  /** Main-resource updates only (PUT, PATCH, apply): not status, scale or finalize. */
  update?(obj: KubeObject, old: KubeObject, opts: WriteOptions): Promise<void>;
}

/** What an allocation hook took for one write, settled once the store write's outcome is known. */
export interface WriteTxn {
  /** The write is stored: release what the new object gave up. */
  commit(): Promise<void>;
  /** The write failed: give back what was taken for it. */
  revert(): Promise<void>;
}

/**
 * Server-side allocation around writes of one kind (Service ClusterIPs and node ports), as upstream's
 * BeginCreate/BeginUpdate/AfterDelete. Runs after validation and managedFields, just before the store
 * write, so allocated values belong to no field manager. May mutate the object or throw an ApiError.
 */
export interface AllocationHooks {
  create(obj: KubeObject, dryRun: boolean): Promise<WriteTxn>;
  update(obj: KubeObject, old: KubeObject, dryRun: boolean): Promise<WriteTxn>;
  /** The object is gone from the store. Must not throw. */
  deleted(obj: KubeObject): Promise<void>;
}

export interface ListParams {
  namespace: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  limit?: number | undefined;
  continueToken?: string | undefined;
  /** 0 / undefined: latest. */
  resourceVersion?: number | undefined;
}

export interface ListResultJson {
  /** Items already serialized (JSON texts with resourceVersion set). */
  items: string[];
  revision: number;
  continueToken?: string;
  remaining?: number;
}

const nameChars = /^[^/%]+$/;

let nowSecond = -1;
let nowText = '';

/** The current time as Kubernetes writes timestamps (RFC 3339, whole seconds, UTC). */
export function now(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== nowSecond) {
    nowSecond = second;
    nowText = new Date(second * 1000).toISOString().replace('.000Z', 'Z');
  }
  return nowText;
}

function encodeContinue(revision: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 1, rv: revision, start: lastKey })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (isObject(parsed) && typeof parsed.rv === 'number' && typeof parsed.start === 'string') {
      return { rv: parsed.rv, start: parsed.start };
    }
  } catch {
    // fall through
  }
  throw errors.badRequest(
    `invalid continue token ${JSON.stringify(token)}: pass the metadata.continue of the previous list`,
  );
}

export class ResourceRegistry {
  readonly info: ResourceInfo;
  readonly strategy: Strategy;
  readonly fields: FieldManager;
  private readonly schema: Schema | undefined;
  private readonly store: Store;
  private readonly registries: () => Map<string, ResourceRegistry>;

  /** Set by the server: answers "namespace exists and is active" from memory. */
  namespaceCache: NamespaceCache | undefined;

  /** Set by the server for kinds with admission (pods, priority classes). */
  admission: Admission | undefined;

  /** Set by the server for kinds whose writes allocate (Services). */
  allocation: AllocationHooks | undefined;

  /** Told of every write this registry commits (`revision` is the write's), as upstream's After* hooks. */
  onCommit: ((obj: KubeObject, deleted: boolean, revision: number) => void) | undefined;

  constructor(info: ResourceInfo, store: Store, registries: () => Map<string, ResourceRegistry>) {
    this.info = info;
    this.strategy = strategyFor(info);
    this.fields = new FieldManager(info);
    this.schema = schemaFor(apiVersionOf(info), info.kind);
    this.store = store;
    this.registries = registries;
  }

  key(namespace: string | undefined, name: string): string {
    return storeKey(this.info, this.info.namespaced ? namespace : undefined, name);
  }

  private mapStoreError(err: unknown, name: string): never {
    if (isStoreError(err)) {
      switch (err.code) {
        case 'KeyExists':
          throw errors.alreadyExists(this.info.resource, this.info.group, name);
        case 'Conflict':
          throw errors.conflict(this.info.resource, this.info.group, name);
        case 'NotFound':
          throw errors.notFound(this.info.resource, this.info.group, name);
        case 'Compacted':
          throw errors.expired(`too old resource version: ${err.message}`);
        case 'FutureRevision':
          throw new ApiError('Timeout', `Too large resource version: ${err.message}`, {
            retryAfterSeconds: 1,
          });
        case 'Unavailable':
        case 'Closed':
          throw errors.unavailable(`storage is unavailable: ${err.message}`);
      }
    }
    throw err;
  }

  async getRaw(namespace: string | undefined, name: string): Promise<KeyValue | undefined> {
    try {
      return await this.store.get(this.key(namespace, name));
    } catch (err) {
      return this.mapStoreError(err, name);
    }
  }

  async get(namespace: string | undefined, name: string): Promise<KubeObject> {
    const kv = await this.getRaw(namespace, name);
    if (kv === undefined) throw errors.notFound(this.info.resource, this.info.group, name);
    return decodeStored(kv);
  }

  // ---------------------------------------------------------------- list

  async list(params: ListParams): Promise<ListResultJson> {
    const r = await this.listKeyValues(params);
    return { ...r, items: r.items.map((kv) => wireJson(kv.value, kv.modRevision)) };
  }

  /** The same list as encoded bytes, cached per stored version (what the JSON list response writes). */
  async listWire(params: ListParams): Promise<Omit<ListResultJson, 'items'> & { items: Buffer[] }> {
    const r = await this.listKeyValues(params);
    return { ...r, items: r.items.map(wireBuffer) };
  }

  private async listKeyValues(
    params: ListParams,
  ): Promise<Omit<ListResultJson, 'items'> & { items: KeyValue[] }> {
    const filter: ObjectFilter | undefined = compileSelectors(
      this.info,
      params.labelSelector,
      params.fieldSelector,
    );
    const prefix = storePrefix(this.info, this.info.namespaced ? params.namespace : undefined);
    let revision = params.resourceVersion ?? 0;
    let startAfter: string | undefined;
    if (params.continueToken !== undefined && params.continueToken !== '') {
      const c = decodeContinue(params.continueToken);
      revision = c.rv;
      startAfter = c.start;
    }
    const limit = params.limit !== undefined && params.limit > 0 ? params.limit : undefined;
    const items: KeyValue[] = [];
    const pageSize = limit === undefined ? undefined : Math.max(limit, 500);
    let lastKey: string | undefined;
    let more = false;
    for (;;) {
      let page;
      try {
        page = await this.store.list({
          prefix,
          ...(revision > 0 ? { revision } : {}),
          ...(pageSize === undefined ? {} : { limit: pageSize }),
          ...(startAfter === undefined ? {} : { startAfter }),
        });
      } catch (err) {
        if (isStoreError(err) && err.code === 'Compacted' && params.continueToken !== undefined) {
          throw errors.expired(
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
          );
        }
        return this.mapStoreError(err, '');
      }
      revision = page.revision;
      for (const kv of page.items) {
        if (limit !== undefined && items.length >= limit) {
          more = true;
          break;
        }
        lastKey = kv.key;
        if (filter !== undefined && !filter(JSON.parse(kv.value) as KubeObject)) continue;
        items.push(kv);
      }
      if (more || !page.more) break;
      if (limit !== undefined && items.length >= limit) {
        more = true;
        break;
      }
      startAfter = page.items[page.items.length - 1]?.key;
      if (startAfter === undefined) break;
    }
    const result: Omit<ListResultJson, 'items'> & { items: KeyValue[] } = { items, revision };
    if (more && lastKey !== undefined) result.continueToken = encodeContinue(revision, lastKey);
    return result;
  }

  // ---------------------------------------------------------------- create

  private async checkNamespace(namespace: string | undefined, name: string): Promise<void> {
    if (!this.info.namespaced || namespace === undefined) return;
    if (this.namespaceCache?.isActive(namespace) === true) return;
    const nsRegistry = this.registries().get('/v1/namespaces');
    if (nsRegistry === undefined) return;
    const kv = await nsRegistry.getRaw(undefined, namespace);
    if (kv === undefined) throw errors.notFound('namespaces', '', namespace);
    {
      const ns = JSON.parse(kv.value) as KubeObject;
      if (ns.metadata.deletionTimestamp !== undefined) {
        throw errors.forbidden(
          `${this.info.resource} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        );
      }
    }
  }

  /** Shape checks common to create and update; returns the object to store (pruned of unknown fields). */
  private checkIncoming(
    body: unknown,
    namespace: string | undefined,
    opts: WriteOptions,
  ): { obj: KubeObject; warnings: string[] } {
    if (!isObject(body)) throw errors.badRequest('the request body must be a JSON or YAML object');
    const apiVersion = apiVersionOf(this.info);
    if (body.apiVersion === undefined || body.apiVersion === '') body.apiVersion = apiVersion;
    if (body.kind === undefined || body.kind === '') body.kind = this.info.kind;
    if (body.apiVersion !== apiVersion || body.kind !== this.info.kind) {
      throw errors.badRequest(
        `the API version in the data (${String(body.apiVersion)}) and kind (${String(body.kind)}) do not match the request path, which serves ${apiVersion} ${this.info.kind}`,
      );
    }
    if (body.metadata === undefined || body.metadata === null) body.metadata = {};
    if (!isObject(body.metadata)) {
      throw errors.invalid(this.info.kind, this.info.group, '', [
        {
          reason: 'FieldValueTypeInvalid',
          field: 'metadata',
          message: 'Invalid value: metadata must be an object',
        },
      ]);
    }
    const meta = body.metadata;
    if (this.info.namespaced) {
      if (meta.namespace === undefined || meta.namespace === '') meta.namespace = namespace;
      else if (namespace !== undefined && meta.namespace !== namespace) {
        throw errors.badRequest(
          `the namespace of the provided object (${JSON.stringify(meta.namespace)}) does not match the namespace sent on the request (${namespace})`,
        );
      }
    } else {
      delete meta.namespace;
    }
    const checked = this.strategy.hooks.checkSchema(body as KubeObject, opts.fieldValidation);
    if (checked.causes.length > 0) {
      const name = typeof meta.name === 'string' ? meta.name : '';
      throw errors.invalid(this.info.kind, this.info.group, name, checked.causes);
    }
    return { obj: checked.pruned, warnings: checked.warnings };
  }

  private validateOrThrow(obj: KubeObject, causes: StatusCause[]): void {
    if (causes.length > 0)
      throw errors.invalid(this.info.kind, this.info.group, obj.metadata.name ?? '', causes);
  }

  async create(
    namespace: string | undefined,
    body: unknown,
    opts: WriteOptions,
    applied?: AppliedChange,
  ): Promise<WriteResult> {
    if (applied === undefined) checkFieldManager(opts, 'CreateOptions');
    const requested = applied === undefined ? requestedManagedFields(body) : undefined;
    const { obj, warnings } = this.checkIncoming(body, namespace, opts);
    const meta = obj.metadata;
    if (
      (meta.name === undefined || meta.name === '') &&
      typeof meta.generateName === 'string' &&
      meta.generateName !== ''
    ) {
      meta.name = `${meta.generateName}${randomSuffix(5)}`;
    }
    if (typeof meta.name !== 'string' || meta.name === '') {
      throw errors.invalid(this.info.kind, this.info.group, '', [
        {
          reason: 'FieldValueRequired',
          field: 'metadata.name',
          message: 'Required value: name or generateName is required',
        },
      ]);
    }
    if (this.info.namespaced && (meta.namespace === undefined || meta.namespace === ''))
      meta.namespace = 'default';
    await this.checkNamespace(meta.namespace, meta.name);
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    meta.uid = randomUUID();
    const at = now();
    meta.creationTimestamp = at;
    this.strategy.prepareForCreate(obj);
    canonicalize(obj, this.schema);
    await this.admission?.create?.(obj, opts);
    this.strategy.hooks.defaults(obj);
    this.validateOrThrow(obj, [...this.strategy.hooks.validate(obj), ...this.fields.validate(requested)]);
    if (applied !== undefined) {
      this.fields.finishApply(undefined, obj, applied.result, applied.manager, undefined, at);
    } else {
      this.fields.recordWrite(undefined, obj, requested, opts, undefined, at);
    }
    const txn = await this.allocation?.create(obj, opts.dryRun);
    if (opts.dryRun) {
      // A dry run still answers AlreadyExists, as kube-apiserver's storage does.
      if ((await this.getRaw(meta.namespace, meta.name)) !== undefined)
        throw errors.alreadyExists(this.info.resource, this.info.group, meta.name);
      return { object: obj, warnings };
    }
    let rev: number;
    try {
      rev = await this.store.create(this.key(meta.namespace, meta.name), encodeStored(obj));
    } catch (err) {
      await txn?.revert();
      return this.mapStoreError(err, meta.name);
    }
    await txn?.commit();
    obj.metadata.resourceVersion = String(rev);
    this.onCommit?.(obj, false, rev);
    return { object: obj, warnings };
  }

  // ---------------------------------------------------------------- update

  /**
   * Shared update path: `mutate` turns the current object into the desired one (PUT body, patch result, status
   * or scale change). With `precondition` (a resourceVersion), a stale write is a 409; without it, store
   * conflicts are retried on a fresh read, as Kubernetes does for patches.
   */
  private async updateWith(
    namespace: string | undefined,
    name: string,
    opts: WriteOptions,
    mutate: (current: KubeObject) => {
      next: unknown;
      precondition?: string | undefined;
      subresource?: 'status';
      /** The subresource the write came through, for managedFields (status, scale, finalize). */
      managerSubresource?: WriteSubresource;
      /** Set by server-side apply, which decides the managers itself. */
      applied?: AppliedChange;
    },
  ): Promise<WriteResult> {
    for (let attempt = 0; ; attempt++) {
      const kv = await this.getRaw(namespace, name);
      if (kv === undefined) throw errors.notFound(this.info.resource, this.info.group, name);
      const current = decodeStored(kv);
      const { next, precondition, subresource, managerSubresource, applied } = mutate(
        structuredClone(current),
      );
      // managedFields a request sets itself count on the main resource only.
      const requested =
        applied === undefined && managerSubresource === undefined ? requestedManagedFields(next) : undefined;
      if (
        precondition !== undefined &&
        precondition !== '' &&
        precondition !== current.metadata.resourceVersion
      ) {
        throw errors.conflict(this.info.resource, this.info.group, name);
      }
      const { obj, warnings } = this.checkIncoming(next, namespace, opts);
      if (obj.metadata.name !== name) {
        throw errors.badRequest(
          `the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${name})`,
        );
      }
      // Identity and lifecycle fields belong to the server.
      obj.metadata.uid = current.metadata.uid ?? '';
      obj.metadata.creationTimestamp = current.metadata.creationTimestamp ?? now();
      if (current.metadata.deletionTimestamp !== undefined) {
        obj.metadata.deletionTimestamp = current.metadata.deletionTimestamp;
        if (current.metadata.deletionGracePeriodSeconds !== undefined) {
          obj.metadata.deletionGracePeriodSeconds = current.metadata.deletionGracePeriodSeconds;
        }
      } else {
        delete obj.metadata.deletionTimestamp;
        delete obj.metadata.deletionGracePeriodSeconds;
      }
      if (subresource === 'status') this.strategy.prepareForStatusUpdate(obj, current);
      else this.strategy.prepareForUpdate(obj, current);
      canonicalize(obj, this.schema);
      if (subresource === undefined && managerSubresource === undefined)
        await this.admission?.update?.(obj, current, opts);
      this.strategy.hooks.defaults(obj);
      this.strategy.hooks.prepareUpdate(obj, current);
      this.validateOrThrow(obj, [
        ...this.strategy.hooks.validateUpdate(obj, current),
        ...this.fields.validate(requested),
      ]);
      obj.metadata.resourceVersion = current.metadata.resourceVersion ?? '';
      if (applied !== undefined) {
        this.fields.finishApply(current, obj, applied.result, applied.manager, applied.subresource, now());
      } else {
        this.fields.recordWrite(current, obj, requested, opts, managerSubresource, now());
      }
      // Deletion completes once the last finalizer is gone, unless a graceful deletion is still running
      // (a terminating pod: its agent deletes it with grace 0 once its containers are gone).
      const completesDeletion =
        obj.metadata.deletionTimestamp !== undefined &&
        (obj.metadata.deletionGracePeriodSeconds ?? 0) === 0 &&
        this.finalizersDone(obj);
      const txn =
        completesDeletion || subresource !== undefined
          ? undefined
          : await this.allocation?.update(obj, current, opts.dryRun);
      if (!completesDeletion && deepEqual(obj, current)) {
        await txn?.revert();
        return { object: current, warnings };
      }
      if (opts.dryRun) return { object: obj, warnings };
      if (completesDeletion) {
        try {
          const { revision } = await this.store.delete(kv.key, kv.modRevision);
          await this.allocation?.deleted(obj);
          this.onCommit?.(obj, true, revision);
          return { object: obj, warnings };
        } catch (err) {
          if (isStoreError(err) && err.code === 'Conflict' && precondition === undefined && attempt < 20)
            continue;
          return this.mapStoreError(err, name);
        }
      }
      let rev: number;
      try {
        rev = await this.store.update(kv.key, encodeStored(obj), kv.modRevision);
      } catch (err) {
        await txn?.revert();
        if (
          isStoreError(err) &&
          err.code === 'Conflict' &&
          (precondition === undefined || precondition === '') &&
          attempt < 20
        ) {
          continue;
        }
        return this.mapStoreError(err, name);
      }
      await txn?.commit();
      obj.metadata.resourceVersion = String(rev);
      this.onCommit?.(obj, false, rev);
      return { object: obj, warnings };
    }
  }

  /**
   * A server-owned change outside the kind's update rules, as upstream's GuaranteedUpdate: pods/binding
   * sets spec.nodeName, which a pod update may not change. `change` gets a fresh copy of the stored object
   * and returns the object to store, or throws an ApiError to refuse; store conflicts re-read and run it
   * again. No admission, defaults or managedFields: the caller owns the whole change.
   */
  async guardedUpdate(
    namespace: string | undefined,
    name: string,
    change: (current: KubeObject) => KubeObject,
    dryRun: boolean,
  ): Promise<KubeObject> {
    for (let attempt = 0; ; attempt++) {
      const kv = await this.getRaw(namespace, name);
      if (kv === undefined) throw errors.notFound(this.info.resource, this.info.group, name);
      const next = change(decodeStored(kv));
      next.metadata.resourceVersion = String(kv.modRevision);
      if (dryRun) return next;
      try {
        const rev = await this.store.update(kv.key, encodeStored(next), kv.modRevision);
        next.metadata.resourceVersion = String(rev);
        this.onCommit?.(next, false, rev);
        return next;
      } catch (err) {
        if (isStoreError(err) && err.code === 'Conflict' && attempt < 20) continue;
        return this.mapStoreError(err, name);
      }
    }
  }

  private finalizersDone(obj: KubeObject): boolean {
    if ((obj.metadata.finalizers ?? []).length > 0) return false;
    if (this.info.kind === 'Namespace') {
      const spec = obj.spec;
      const fin = isObject(spec) && Array.isArray(spec.finalizers) ? spec.finalizers : [];
      return fin.length === 0;
    }
    return true;
  }

  async update(
    namespace: string | undefined,
    name: string,
    body: unknown,
    opts: WriteOptions,
    subresource?: 'status',
  ): Promise<WriteResult> {
    const rv = isObject(body) && isObject(body.metadata) ? body.metadata.resourceVersion : undefined;
    if (rv !== undefined && typeof rv !== 'string') {
      throw errors.badRequest('metadata.resourceVersion must be a string');
    }
    checkFieldManager(opts, 'UpdateOptions');
    return this.updateWith(namespace, name, opts, (current) => {
      let next: unknown = body;
      if (subresource === 'status' && isObject(body)) next = { ...current, status: body.status };
      return {
        next: structuredClone(next),
        precondition: rv,
        ...(subresource === undefined ? {} : { subresource, managerSubresource: subresource }),
      };
    });
  }

  async patch(
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patchBody: unknown,
    opts: WriteOptions,
    subresource?: 'status',
  ): Promise<WriteResult> {
    checkFieldManager(opts, 'PatchOptions');
    if (type === 'apply') return this.apply(namespace, name, patchBody, opts, subresource);
    return this.updateWith(namespace, name, opts, (current) => {
      const next = applyPatchBody(type, current, patchBody, this.info);
      const rv = isObject(next) && isObject(next.metadata) ? next.metadata.resourceVersion : undefined;
      // A resourceVersion in the patch that differs from the live one is a precondition (kubectl --resource-version).
      const precondition = typeof rv === 'string' && rv !== current.metadata.resourceVersion ? rv : undefined;
      return {
        next,
        precondition,
        ...(subresource === undefined ? {} : { subresource, managerSubresource: subresource }),
      };
    });
  }

  /**
   * Server-side apply (`application/apply-patch+yaml`): create the object from the configuration when it
   * does not exist (created: true, 201), else merge the configuration in for `opts.fieldManager`, with
   * conflicts (409) on fields other managers own unless `opts.force`.
   */
  async apply(
    namespace: string | undefined,
    name: string,
    body: unknown,
    opts: WriteOptions,
    subresource?: 'status',
  ): Promise<WriteResult> {
    const manager = opts.fieldManager;
    if (manager === undefined || manager === '') {
      throw errors.badRequest(
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    }
    const force = opts.force === true;
    const { config, precondition } = this.fields.applyConfig(body, name, this.info.kind, subresource);
    // The configuration gets the same structural check as any body; unknown fields follow fieldValidation.
    const checked = this.checkIncoming(structuredClone(config), namespace, opts);
    const applyConfig = checked.obj as Record<string, unknown>;
    for (let attempt = 0; ; attempt++) {
      const kv = await this.getRaw(namespace, name);
      if (kv === undefined) {
        if (subresource !== undefined) throw errors.notFound(this.info.resource, this.info.group, name);
        if (precondition !== undefined) throw errors.conflict(this.info.resource, this.info.group, name);
        const result = this.fields.apply(undefined, applyConfig, manager, force, undefined);
        try {
          const created = await this.create(namespace, result.object, opts, {
            result,
            manager,
            subresource: undefined,
          });
          return { ...created, warnings: [...checked.warnings, ...created.warnings], created: true };
        } catch (err) {
          if (isApiError(err) && err.reason === 'AlreadyExists' && !opts.dryRun && attempt < 5) continue;
          throw err;
        }
      }
      try {
        const r = await this.updateWith(namespace, name, opts, (current) => {
          const result = this.fields.apply(current, applyConfig, manager, force, subresource);
          return {
            next: result.object,
            precondition,
            applied: { result, manager, subresource },
            ...(subresource === undefined ? {} : { subresource }),
          };
        });
        return { ...r, warnings: [...checked.warnings, ...r.warnings] };
      } catch (err) {
        if (isApiError(err) && err.reason === 'NotFound' && attempt < 5) continue;
        throw err;
      }
    }
  }

  /** Replace `spec.finalizers` of a Namespace (PUT /api/v1/namespaces/{name}/finalize). */
  async finalizeNamespace(name: string, body: unknown, opts: WriteOptions): Promise<WriteResult> {
    const finalizers =
      isObject(body) && isObject(body.spec) && Array.isArray(body.spec.finalizers)
        ? body.spec.finalizers
        : [];
    return this.updateWith(undefined, name, opts, (current) => {
      const spec = isObject(current.spec) ? current.spec : {};
      return { next: { ...current, spec: { ...spec, finalizers } }, managerSubresource: 'finalize' };
    });
  }

  // ---------------------------------------------------------------- scale

  scaleOf(obj: KubeObject): KubeObject {
    const spec = isObject(obj.spec) ? obj.spec : {};
    const status = isObject(obj.status) ? obj.status : {};
    const selector = isObject(spec.selector) ? selectorString(spec.selector) : '';
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: obj.metadata.name ?? '',
        ...(obj.metadata.namespace === undefined ? {} : { namespace: obj.metadata.namespace }),
        uid: obj.metadata.uid ?? '',
        resourceVersion: obj.metadata.resourceVersion ?? '',
        ...(obj.metadata.creationTimestamp === undefined
          ? {}
          : { creationTimestamp: obj.metadata.creationTimestamp }),
      },
      spec: { replicas: typeof spec.replicas === 'number' ? spec.replicas : 1 },
      status: { replicas: typeof status.replicas === 'number' ? status.replicas : 0, selector },
    };
  }

  async updateScale(
    namespace: string | undefined,
    name: string,
    opts: WriteOptions,
    change: (scale: KubeObject) => unknown,
  ): Promise<KubeObject> {
    const res = await this.updateWith(namespace, name, opts, (current) => {
      const wanted = change(this.scaleOf(current));
      if (!isObject(wanted)) throw errors.badRequest('the body must be an autoscaling/v1 Scale object');
      if (wanted.kind !== undefined && wanted.kind !== 'Scale')
        throw errors.badRequest(`expected kind Scale, got ${JSON.stringify(wanted.kind)}`);
      const spec = isObject(wanted.spec) ? wanted.spec : {};
      const replicas = spec.replicas;
      if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
        throw errors.invalid('Scale', 'autoscaling', name, [
          {
            reason: 'FieldValueInvalid',
            field: 'spec.replicas',
            message: `Invalid value: ${JSON.stringify(replicas)}: must be a non-negative integer`,
          },
        ]);
      }
      const meta = isObject(wanted.metadata) ? wanted.metadata : {};
      const rv = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : undefined;
      const curSpec = isObject(current.spec) ? current.spec : {};
      return {
        next: { ...current, spec: { ...curSpec, replicas } },
        precondition: rv !== undefined && rv !== current.metadata.resourceVersion ? rv : undefined,
        managerSubresource: 'scale',
      };
    });
    return this.scaleOf(res.object);
  }

  // ---------------------------------------------------------------- delete

  async delete(
    namespace: string | undefined,
    name: string,
    options: DeleteOptions,
    dryRun: boolean,
  ): Promise<{ object: KubeObject; deleted: boolean }> {
    for (let attempt = 0; ; attempt++) {
      const kv = await this.getRaw(namespace, name);
      if (kv === undefined) throw errors.notFound(this.info.resource, this.info.group, name);
      const current = decodeStored(kv);
      const pre = options.preconditions;
      if (pre?.uid !== undefined && pre.uid !== current.metadata.uid) {
        throw errors.conflict(
          this.info.resource,
          this.info.group,
          name,
          `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid ?? ''}`,
        );
      }
      if (pre?.resourceVersion !== undefined && pre.resourceVersion !== current.metadata.resourceVersion) {
        throw errors.conflict(
          this.info.resource,
          this.info.group,
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion ?? ''}`,
        );
      }
      const policy: DeletionPropagation =
        options.propagationPolicy ?? (options.orphanDependents === true ? 'Orphan' : 'Background');
      const next = structuredClone(current);
      const finalizers = new Set(next.metadata.finalizers ?? []);
      let graceful = false;
      if (policy === 'Foreground') finalizers.add('foregroundDeletion');
      if (policy === 'Orphan') finalizers.add('orphan');
      if (this.info.kind === 'Namespace') {
        graceful = true;
        next.status = { ...(isObject(next.status) ? next.status : {}), phase: 'Terminating' };
      }
      if (this.info.kind === 'Pod' && (await this.podNeedsGrace(current, options))) {
        graceful = true;
        next.metadata.deletionGracePeriodSeconds = this.podGrace(current, options);
      }
      if (finalizers.size > 0 || graceful) {
        if (current.metadata.deletionTimestamp !== undefined && !this.finalizerAdded(current, finalizers)) {
          // Already being deleted; a shorter grace period may still apply (kubectl --force).
          if (this.info.kind === 'Pod' && options.gracePeriodSeconds === 0 && !dryRun) {
            const forced = await this.deleteNow(kv, current, name, attempt);
            if (forced === undefined) continue;
            return forced;
          }
          return { object: current, deleted: false };
        }
        next.metadata.finalizers = [...finalizers];
        if (next.metadata.deletionTimestamp === undefined) next.metadata.deletionTimestamp = now();
        if (dryRun) return { object: next, deleted: false };
        try {
          const rev = await this.store.update(kv.key, encodeStored(next), kv.modRevision);
          next.metadata.resourceVersion = String(rev);
          this.onCommit?.(next, false, rev);
          return { object: next, deleted: false };
        } catch (err) {
          if (isStoreError(err) && err.code === 'Conflict' && attempt < 20) continue;
          return this.mapStoreError(err, name);
        }
      }
      if (dryRun) return { object: current, deleted: true };
      const res = await this.deleteNow(kv, current, name, attempt);
      if (res === undefined) continue;
      return res;
    }
  }

  private finalizerAdded(current: KubeObject, finalizers: Set<string>): boolean {
    const have = new Set(current.metadata.finalizers ?? []);
    return [...finalizers].some((f) => !have.has(f));
  }

  /** Delete with CAS; undefined when the object changed meanwhile (the caller re-reads and retries). */
  private async deleteNow(
    kv: KeyValue,
    current: KubeObject,
    name: string,
    attempt: number,
  ): Promise<{ object: KubeObject; deleted: boolean } | undefined> {
    try {
      const { revision } = await this.store.delete(kv.key, kv.modRevision);
      await this.allocation?.deleted(current);
      current.metadata.resourceVersion = String(revision);
      this.onCommit?.(current, true, revision);
      return { object: current, deleted: true };
    } catch (err) {
      if (isStoreError(err) && err.code === 'Conflict' && attempt < 20) return undefined;
      return this.mapStoreError(err, name);
    }
  }

  private podGrace(pod: KubeObject, options: DeleteOptions): number {
    if (options.gracePeriodSeconds !== undefined) return options.gracePeriodSeconds;
    const spec = isObject(pod.spec) ? pod.spec : {};
    return typeof spec.terminationGracePeriodSeconds === 'number' ? spec.terminationGracePeriodSeconds : 30;
  }

  /** Pods bound to an existing node get graceful termination by that node's agent; others go at once. */
  private async podNeedsGrace(pod: KubeObject, options: DeleteOptions): Promise<boolean> {
    if (this.podGrace(pod, options) === 0) return false;
    const spec = isObject(pod.spec) ? pod.spec : {};
    if (typeof spec.nodeName !== 'string' || spec.nodeName === '') return false;
    const status = isObject(pod.status) ? pod.status : {};
    if (status.phase === 'Succeeded' || status.phase === 'Failed') return false;
    const nodes = this.registries().get('/v1/nodes');
    return nodes !== undefined && (await nodes.getRaw(undefined, spec.nodeName)) !== undefined;
  }

  /** Every registry for kinds living in namespaces (used to empty a terminating namespace). */
  static namespacedKinds(): ResourceInfo[] {
    return resources.filter((r) => r.namespaced);
  }
}

function randomSuffix(n: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

/** `app=web,tier in (fe,be)` from a LabelSelector object. */
export function selectorString(sel: Record<string, unknown>): string {
  const parts: string[] = [];
  if (isObject(sel.matchLabels)) {
    for (const [k, v] of Object.entries(sel.matchLabels)) parts.push(`${k}=${String(v)}`);
  }
  if (Array.isArray(sel.matchExpressions)) {
    for (const e of sel.matchExpressions) {
      if (!isObject(e)) continue;
      const key = String(e.key);
      const values = Array.isArray(e.values) ? e.values.map(String) : [];
      switch (e.operator) {
        case 'In':
          parts.push(`${key} in (${values.join(',')})`);
          break;
        case 'NotIn':
          parts.push(`${key} notin (${values.join(',')})`);
          break;
        case 'Exists':
          parts.push(key);
          break;
        case 'DoesNotExist':
          parts.push(`!${key}`);
          break;
        default:
          break;
      }
    }
  }
  return parts.join(',');
}

/**
 * Canonical form, as kube-apiserver stores objects: Secret stringData folded into data, and empty maps
 * (`annotations: {}`, `data: {}`) left out, as Go's `omitempty` does. kubectl diff relies on the latter:
 * its dry-run patches carry `annotations: {}` for manifests without annotations.
 */
function canonicalize(obj: KubeObject, schema: Schema | undefined): void {
  if (obj.kind === 'Secret' && isObject(obj.stringData)) {
    const data = isObject(obj.data) ? obj.data : {};
    for (const [k, v] of Object.entries(obj.stringData)) {
      if (typeof v === 'string') data[k] = Buffer.from(v, 'utf8').toString('base64');
    }
    obj.data = data;
    delete obj.stringData;
  }
  dropEmptyMaps(obj, schema);
}

function dropEmptyMaps(value: Record<string, unknown>, schema: Schema | undefined): void {
  if (schema === undefined || schema.type !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    const s = schema.properties[k];
    if (s === undefined || !isObject(v)) {
      if (s?.type === 'array' && Array.isArray(v)) {
        for (const item of v) if (isObject(item)) dropEmptyMaps(item, s.items);
      }
      continue;
    }
    if (s.type === 'map') {
      if (Object.keys(v).length === 0) delete value[k];
    } else {
      dropEmptyMaps(v, s);
    }
  }
}

export function validName(name: string): boolean {
  return name !== '.' && name !== '..' && nameChars.test(name);
}
