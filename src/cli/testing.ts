// Test helper (imported only by *.test.ts): a small in-memory fake of the API server on node:http,
// enough to run the CLI end to end — CRUD, the four PATCH types (server-side apply simplified: create
// or strategic merge, conflicts on request), dryRun, the status and scale subresources, list/watch with
// label and field selectors, discovery, and Status errors.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isApiError } from '../api/errors.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, jsonEqual } from '../api/patch/index.js';
import { apiVersionOf, findByResource, resources } from '../api/resources.js';
import { schemaFor } from '../api/schema/index.js';
import type { KubeObject } from '../api/types.js';
import { parse as parseYaml } from 'yaml';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  body: unknown;
}

type Rec = Record<string, unknown>;

function getPath(obj: unknown, dotted: string): string | undefined {
  let cur: unknown = obj;
  for (const k of dotted.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Rec)[k];
  }
  return typeof cur === 'string' || typeof cur === 'number' || typeof cur === 'boolean'
    ? String(cur)
    : undefined;
}

function fieldMatches(selector: string | null, obj: KubeObject): boolean {
  if (selector === null || selector === '') return true;
  return selector.split(',').every((term) => {
    const neq = term.indexOf('!=');
    if (neq >= 0) return (getPath(obj, term.slice(0, neq)) ?? '') !== term.slice(neq + 2);
    const eq = term.indexOf('=');
    return (getPath(obj, term.slice(0, eq)) ?? '') === term.slice(eq + 1).replace(/^=/, '');
  });
}

function labelMatches(selector: string | null, obj: KubeObject): boolean {
  if (selector === null || selector === '') return true;
  return selector.split(',').every((kv) => {
    const [k, v] = kv.split('=');
    return obj.metadata.labels?.[k ?? ''] === v;
  });
}

export class FakeApi {
  readonly objects = new Map<string, KubeObject>();
  readonly requests: FakeRequest[] = [];
  /** Objects deleted stay visible to this many more GETs (finalizers, graceful termination). */
  lingerAfterDelete = 0;
  /** Reject creates of objects with this name with 422 Invalid. */
  invalidName = '';
  /** Reject writes (PATCH/PUT) whose result has `spec.replicas` below 0 with 422 Invalid, with causes. */
  validateReplicas = true;
  /** Server-side apply: fields (as `.spec.replicas`) owned by another manager; 409 unless force=true. */
  applyConflicts: { manager: string; fields: string[] } | undefined;
  /** Answer server-side apply with 415, like a server without it. */
  noServerSideApply = false;
  private rv = 1;
  private readonly lingering = new Map<string, number>();
  private readonly watchers: {
    matches: (key: string) => boolean;
    selector: string | null;
    res: ServerResponse;
  }[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => this.handle(req, res, text));
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  seed(path: string, obj: KubeObject): void {
    this.objects.set(path, this.stamp(obj));
  }

  get(path: string): KubeObject | undefined {
    return this.objects.get(path);
  }

  /** Change a stored object as a controller would (notifies watchers). */
  mutate(path: string, change: (obj: KubeObject) => void): void {
    const obj = structuredClone(this.objects.get(path));
    if (obj === undefined) throw new Error(`no object at ${path}`);
    change(obj);
    const stored = this.stamp(obj);
    this.objects.set(path, stored);
    this.notify('MODIFIED', path, stored);
  }

  /** Delete a stored object as a controller would (notifies watchers). */
  remove(path: string): void {
    const obj = this.objects.get(path);
    if (obj === undefined) return;
    this.objects.delete(path);
    this.notify('DELETED', path, obj);
  }

  writes(): string[] {
    return this.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`);
  }

  watchCount(): number {
    return this.watchers.length;
  }

  private stamp(obj: KubeObject): KubeObject {
    const out = structuredClone(obj);
    out.metadata.uid ??= `uid-${out.metadata.name ?? ''}-${this.rv}`;
    out.metadata.creationTimestamp ??= new Date(Date.now() - 90_000).toISOString();
    out.metadata.resourceVersion = String(++this.rv);
    return out;
  }

  private notify(type: string, path: string, obj: KubeObject): void {
    for (const w of this.watchers)
      if (w.matches(path) && fieldMatches(w.selector, obj))
        w.res.write(`${JSON.stringify({ type, object: obj })}\n`);
  }

  /** Which object paths a collection path covers (`/apis/apps/v1/deployments` covers every namespace). */
  private collection(path: string, resource: string): (key: string) => boolean {
    if (path.includes('/namespaces/') || resource === 'namespaces')
      return (k) => k.startsWith(`${path}/`) && !k.slice(path.length + 1).includes('/');
    const base = path.slice(0, path.length - resource.length - 1);
    return (k) =>
      k.startsWith(`${base}/`) && new RegExp(`^${base}/(namespaces/[^/]+/)?${resource}/[^/]+$`).test(k);
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private status(
    res: ServerResponse,
    code: number,
    reason: string,
    message: string,
    details?: unknown,
  ): void {
    this.send(res, code, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      reason,
      message,
      code,
      ...(details === undefined ? {} : { details }),
    });
  }

  private discovery(res: ServerResponse, path: string): boolean {
    if (path === '/api') {
      this.send(res, 200, { kind: 'APIVersions', versions: ['v1'] });
      return true;
    }
    if (path === '/apis') {
      const groups = [...new Set(resources.filter((r) => r.group !== '').map((r) => r.group))];
      this.send(res, 200, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: groups.map((g) => {
          const version = resources.find((r) => r.group === g)?.version ?? 'v1';
          const gv = { groupVersion: `${g}/${version}`, version };
          return { name: g, versions: [gv], preferredVersion: gv };
        }),
      });
      return true;
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (m === null) return false;
    const group = m[2] ?? '';
    const version = m[1] ?? m[3] ?? '';
    this.send(res, 200, {
      kind: 'APIResourceList',
      groupVersion: group === '' ? version : `${group}/${version}`,
      resources: resources
        .filter((r) => r.group === group && r.version === version)
        .flatMap((r) => [
          {
            name: r.resource,
            singularName: r.singular,
            namespaced: r.namespaced,
            kind: r.kind,
            verbs: r.verbs,
            ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
            ...(r.categories.length > 0 ? { categories: r.categories } : {}),
          },
          ...r.subresources.map((s) => ({
            name: `${r.resource}/${s.name}`,
            namespaced: r.namespaced,
            kind: s.kind,
            verbs: s.verbs,
          })),
        ]),
    });
    return true;
  }

  private handle(req: IncomingMessage, res: ServerResponse, text: string): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const contentType = req.headers['content-type'];
    let body: unknown;
    try {
      body =
        text === ''
          ? undefined
          : contentType === 'application/apply-patch+yaml'
            ? (parseYaml(text) as unknown)
            : JSON.parse(text);
    } catch {
      return this.status(res, 400, 'BadRequest', 'the request body is not valid JSON');
    }
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      contentType,
      body,
    });
    if (url.pathname === '/version')
      return this.send(res, 200, { major: '1', minor: '34', gitVersion: 'v1.34.0+fake' });
    if (req.method === 'GET' && this.discovery(res, url.pathname)) return;
    const m = /^\/(api\/v1|apis\/[^/]+\/[^/]+)\/(.*)$/.exec(url.pathname);
    if (m === null)
      return this.status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const gv = (m[1] ?? '').replace(/^apis?\//, '');
    const segs = (m[2] ?? '').split('/');
    const rest = segs[0] === 'namespaces' && segs.length >= 3 ? segs.slice(2) : segs;
    const resource = `${rest[0] ?? ''}`;
    const name = rest[1];
    const sub = rest[2];
    const slash = gv.indexOf('/');
    const info = findByResource(
      slash < 0 ? '' : gv.slice(0, slash),
      slash < 0 ? gv : gv.slice(slash + 1),
      resource,
    );
    const path = sub === undefined ? url.pathname : url.pathname.slice(0, -(sub.length + 1));
    const dryRun = url.searchParams.get('dryRun') === 'All';
    const notFound = (): void => this.status(res, 404, 'NotFound', `${resource} "${name ?? ''}" not found`);
    try {
      switch (req.method ?? '') {
        case 'GET': {
          if (name !== undefined) {
            const linger = this.lingering.get(path);
            if (linger !== undefined) {
              if (linger <= 1) this.lingering.delete(path);
              else this.lingering.set(path, linger - 1);
              return this.send(res, 200, { ...this.objects.get(`deleted:${path}`) });
            }
            const obj = this.objects.get(path);
            if (obj === undefined) return notFound();
            if (sub === 'scale') return this.send(res, 200, this.scaleOf(obj));
            return this.send(res, 200, obj);
          }
          const matches = this.collection(path, resource);
          const fieldSelector = url.searchParams.get('fieldSelector');
          if (url.searchParams.get('watch') === 'true') {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.flushHeaders();
            this.watchers.push({ matches, selector: fieldSelector, res });
            return;
          }
          const selector = url.searchParams.get('labelSelector');
          const items = [...this.objects.entries()]
            .filter(([k]) => matches(k))
            .map(([, v]) => v)
            .filter((o) => labelMatches(selector, o) && fieldMatches(fieldSelector, o));
          return this.send(res, 200, {
            apiVersion: 'v1',
            kind: 'List',
            metadata: { resourceVersion: String(this.rv) },
            items,
          });
        }
        case 'POST': {
          const obj = body as KubeObject;
          const key = `${path}/${obj.metadata.name ?? ''}`;
          if (this.objects.has(key))
            return this.status(
              res,
              409,
              'AlreadyExists',
              `${resource} "${obj.metadata.name ?? ''}" already exists`,
            );
          if (obj.metadata.name === this.invalidName) {
            return this.status(
              res,
              422,
              'Invalid',
              `${obj.kind} "${obj.metadata.name}" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0]`,
            );
          }
          const stored = this.stamp({ ...obj, metadata: { ...obj.metadata, generation: 1 } });
          if (dryRun) return this.send(res, 201, stored);
          this.objects.set(key, stored);
          this.notify('ADDED', key, stored);
          return this.send(res, 201, stored);
        }
        case 'PUT':
        case 'PATCH': {
          const current = this.objects.get(path);
          const ct = contentType ?? '';
          if (ct === 'application/apply-patch+yaml') {
            if (this.noServerSideApply)
              return this.status(
                res,
                415,
                'UnsupportedMediaType',
                `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got "${ct}")`,
              );
            if (url.searchParams.get('fieldManager') === null)
              return this.status(res, 400, 'BadRequest', 'fieldManager is required for apply requests');
            if (
              this.applyConflicts !== undefined &&
              current !== undefined &&
              url.searchParams.get('force') !== 'true'
            ) {
              const c = this.applyConflicts;
              return this.status(
                res,
                409,
                'Conflict',
                `Apply failed with ${c.fields.length} conflict${c.fields.length === 1 ? '' : 's'}: ${c.fields.map((f) => `conflict with "${c.manager}": ${f}`).join(', ')}`,
                {
                  causes: c.fields.map((f) => ({
                    reason: 'FieldManagerConflict',
                    message: `conflict with "${c.manager}"`,
                    field: f,
                  })),
                },
              );
            }
            if (current === undefined) {
              const obj = body as KubeObject;
              const stored = this.stamp({ ...obj, metadata: { ...obj.metadata, generation: 1 } });
              if (!dryRun) {
                this.objects.set(path, stored);
                this.notify('ADDED', path, stored);
              }
              return this.send(res, 201, stored);
            }
          }
          if (current === undefined) return notFound();
          const base: KubeObject = sub === 'scale' ? this.scaleOf(current) : current;
          let next: KubeObject;
          if (req.method === 'PUT') next = body as KubeObject;
          else if (ct === 'application/merge-patch+json') next = applyMergePatch(base, body) as KubeObject;
          else if (ct === 'application/json-patch+json') next = applyJsonPatch(base, body) as KubeObject;
          else if (ct === 'application/strategic-merge-patch+json' || ct === 'application/apply-patch+yaml') {
            if (sub === 'scale') next = applyMergePatch(base, body) as KubeObject;
            else
              next = applyStrategicMergePatch(
                base,
                body,
                info === undefined ? undefined : schemaFor(apiVersionOf(info), info.kind),
              ) as unknown as KubeObject;
          } else return this.status(res, 415, 'UnsupportedMediaType', `unsupported patch type ${ct}`);
          const precondition = (body as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata
            ?.resourceVersion;
          if (typeof precondition === 'string' && precondition !== current.metadata.resourceVersion) {
            return this.status(
              res,
              409,
              'Conflict',
              `Operation cannot be fulfilled on ${resource} "${name ?? ''}": the object has been modified; please apply your changes to the latest version and try again`,
            );
          }
          let result: KubeObject;
          if (sub === 'scale') {
            const replicas = (next['spec'] as { replicas?: number } | undefined)?.replicas;
            result = structuredClone(current);
            (result['spec'] as Rec)['replicas'] = replicas;
          } else if (sub === 'status') {
            result = { ...structuredClone(current), status: next['status'] };
          } else {
            result = {
              ...next,
              status: current['status'],
              metadata: { ...next.metadata, uid: current.metadata.uid ?? '' },
            };
            const spec = result['spec'] as { replicas?: unknown } | undefined;
            if (this.validateReplicas && typeof spec?.replicas === 'number' && spec.replicas < 0) {
              return this.status(
                res,
                422,
                'Invalid',
                `${current.kind}.apps "${name ?? ''}" is invalid: spec.replicas: Invalid value: ${spec.replicas}: must be greater than or equal to 0`,
                {
                  name,
                  kind: current.kind,
                  causes: [
                    {
                      reason: 'FieldValueInvalid',
                      message: `Invalid value: ${spec.replicas}: must be greater than or equal to 0`,
                      field: 'spec.replicas',
                    },
                  ],
                },
              );
            }
          }
          delete result.metadata.resourceVersion;
          const unchanged = jsonEqual(
            {
              ...result,
              metadata: { ...result.metadata, resourceVersion: current.metadata.resourceVersion },
            },
            current,
          );
          const stored = unchanged ? current : this.stamp(result);
          if (!dryRun && !unchanged) {
            this.objects.set(path, stored);
            this.notify('MODIFIED', path, stored);
          }
          return this.send(res, 200, sub === 'scale' ? this.scaleOf(stored) : stored);
        }
        case 'DELETE': {
          const obj = this.objects.get(path);
          if (obj === undefined) return notFound();
          this.objects.delete(path);
          if (this.lingerAfterDelete > 0) {
            this.lingering.set(path, this.lingerAfterDelete);
            this.objects.set(`deleted:${path}`, obj);
          }
          this.notify('DELETED', path, obj);
          return this.send(res, 200, {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Success',
            details: { name, uid: obj.metadata.uid },
          });
        }
        default:
          return this.status(res, 405, 'MethodNotAllowed', 'method not allowed');
      }
    } catch (err) {
      if (isApiError(err)) return this.status(res, err.code, err.reason, err.message);
      return this.status(res, 500, 'InternalError', err instanceof Error ? err.message : String(err));
    }
  }

  private scaleOf(obj: KubeObject): KubeObject {
    const replicas = (obj['spec'] as { replicas?: number } | undefined)?.replicas ?? 1;
    return {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: {
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      spec: { replicas },
      status: { replicas: (obj['status'] as { replicas?: number } | undefined)?.replicas ?? 0 },
    } as KubeObject;
  }
}
