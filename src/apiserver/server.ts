// The API server: Kubernetes REST over HTTPS with bearer tokens, on any Store.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { chmodSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ApiError, errors, isApiError, type Status } from '../api/errors.js';
import { apiVersionOf, isVerb, refusedVerbMessage, resources, type ResourceInfo } from '../api/resources.js';
import { isObject, type DeleteOptions, type KubeObject } from '../api/types.js';
import type { Store } from '../store/store.js';
import { authorize, TokenAuthenticator, type TokenEntry, type UserInfo } from './auth.js';
import {
  aggregatedContentType,
  aggregatedDiscoveryDoc,
  aggregatedVersionOf,
  apiGroupDoc,
  apiGroupListDoc,
  apiResourceListDoc,
  apiVersionsDoc,
  versionInfo,
} from './discovery.js';
import { serveOpenApi } from './openapi.js';
import { parseResourcePath, type ResourcePath } from './paths.js';
import { patchTypeOf, applyPatchBody } from './registry/patch.js';
import { now, ResourceRegistry, type WriteOptions } from './registry/rest.js';
import {
  assignPod,
  checkEvictionPreconditions,
  evictionMarks,
  markEvicted,
  parseBinding,
  parseEviction,
  successStatus,
} from './pod-actions.js';
import type { FieldValidation } from './registry/strategy.js';
import { boolParam, intParam, mediaType, parseJsonText, parseObjectBody, readBody } from './request.js';
import { itemTable, listTableJson, tableOptionsOf } from './table.js';
import { serveWatch, type WatchSource } from './watch.js';
import { WatchHub } from './watch-hub.js';
import { installKindHooks } from './hooks.js';
import { NamespaceCache } from './namespace-cache.js';
import { PriorityClassCache } from './priority-class-cache.js';
import { agentClientFor } from './certs.js';
import { NodeProxy, rejectUpgradeWith, type AgentClientCredentials } from './node-proxy.js';
import { ensureSystemPriorityClasses, installAdmission, type AdmissionOptions } from './admission-plugins.js';
import { ServiceAllocator, type ServiceAllocatorOptions } from './services/service-allocator.js';
import { repairServiceAllocations } from './services/repair.js';
import { ensureKubernetesServiceCIDR } from './services/service-cidr.js';
import { MetricsApi, parseMetricsPath } from './metrics/api.js';
import { CustomMetricsApi, parseCustomMetricsPath } from './metrics/custom.js';
import { agentSummaryFetcher, SummarySource } from './metrics/source.js';
import {
  apiServerMetrics,
  newMetricsRegistry,
  type ApiServerMetrics,
  type MetricsRegistry,
} from '../machinery/prom/index.js';
import { requestMetricInfo } from './request-metrics.js';
import { TimedStore } from './timed-store.js';

export interface ApiServerOptions extends AdmissionOptions {
  store: Store;
  /** `host:port`; port 0 picks a free one. */
  listen: string;
  /** HTTPS with this key pair; plain HTTP (tests only) when undefined. */
  tls?: { certPem: string; keyPem: string } | undefined;
  /** Known tokens; when undefined, authentication is off (tests only). */
  tokens?: TokenEntry[] | undefined;
  /** Client certificate for node agents (logs, exec); by default the one ensurePki loaded with `tls`. */
  agentClient?: AgentClientCredentials | undefined;
  log?: (line: string) => void;
  /** Service ClusterIPs come from this CIDR (`--service-cluster-ip-range`, default 10.43.0.0/16). */
  serviceClusterIPRange?: string | undefined;
  /** Service node ports come from this range (`--service-node-port-range`, default 30000-32767). */
  serviceNodePortRange?: string | undefined;
  /**
   * Also serve plain HTTP on this unix socket (mode 0600), for the controllers and the scheduler running
   * in this process: no TLS per request and watch event. Requests on it authenticate like any other.
   */
  localSocket?: string | undefined;
}

/** How often the Service allocation repair pass runs after the one at start (upstream: 3 minutes). */
const serviceRepairIntervalMs = 3 * 60_000;

export interface RunningApiServer {
  url: string;
  port: number;
  /** The local socket, when one was asked for. */
  localSocket?: string;
  server: Server;
  registries: Map<string, ResourceRegistry>;
  close(): Promise<void>;
}

const podsInfo = { group: '', version: 'v1', resource: 'pods' };
const servicesInfo = { group: '', version: 'v1', resource: 'services' };
const priorityClassesInfo = { group: 'scheduling.k8s.io', version: 'v1', resource: 'priorityclasses' };
const serviceCIDRsInfo = { group: 'networking.k8s.io', version: 'v1', resource: 'servicecidrs' };

const anonymousPaths = [/^\/version\/?$/, /^\/healthz(\/.*)?$/, /^\/readyz(\/.*)?$/, /^\/livez(\/.*)?$/];

function registryKey(info: Pick<ResourceInfo, 'group' | 'version' | 'resource'>): string {
  return `${info.group}/${info.version}/${info.resource}`;
}

function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendStatus(res: ServerResponse, status: Status): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, status.code, status);
}

function fieldValidationOf(q: URLSearchParams): FieldValidation {
  const v = q.get('fieldValidation');
  if (v === null || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw errors.badRequest(`fieldValidation must be one of Strict, Warn or Ignore; got ${JSON.stringify(v)}`);
}

function writeOptions(q: URLSearchParams, req?: IncomingMessage): WriteOptions {
  const dryRun = q.getAll('dryRun');
  for (const d of dryRun) {
    if (d !== 'All') throw errors.badRequest(`dryRun must be "All"; got ${JSON.stringify(d)}`);
  }
  return {
    dryRun: dryRun.length > 0,
    fieldValidation: fieldValidationOf(q),
    fieldManager: q.get('fieldManager') ?? undefined,
    userAgent: req?.headers['user-agent'],
    force: boolParam(q, 'force'),
  };
}

function warningHeaders(warnings: string[]): Record<string, string> {
  if (warnings.length === 0) return {};
  return { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') };
}

function listHead(info: ResourceInfo, revision: number, continueToken?: string): string {
  const meta = JSON.stringify({
    resourceVersion: String(revision),
    ...(continueToken === undefined ? {} : { continue: continueToken }),
  });
  return `{"kind":"${info.kind}List","apiVersion":"${apiVersionOf(info)}","metadata":${meta},"items":[`;
}

function listJson(info: ResourceInfo, items: string[], revision: number, continueToken?: string): string {
  return `${listHead(info, revision, continueToken)}${items.join(',')}]}`;
}

/** Lists larger than this go out in chunks of about this size (chunked transfer encoding). */
const LIST_CHUNK_BYTES = 1 << 20;
const comma = Buffer.from(',');

/**
 * Send a list. A large one is streamed in ~1 MB chunks, waiting for the socket to drain in between, so a
 * 30 MB list of pods is never joined into one buffer and the client decodes the first chunks while the
 * server encrypts the rest.
 */
async function sendList(
  res: ServerResponse,
  info: ResourceInfo,
  items: Buffer[],
  revision: number,
  continueToken?: string,
): Promise<void> {
  let total = 0;
  for (const item of items) total += item.length + 1;
  const head = Buffer.from(listHead(info, revision, continueToken));
  const tail = Buffer.from(']}');
  if (total <= LIST_CHUNK_BYTES) {
    const parts: Buffer[] = [head];
    items.forEach((item, i) => (i === 0 ? parts.push(item) : parts.push(comma, item)));
    parts.push(tail);
    const body = Buffer.concat(parts);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  let parts: Buffer[] = [head];
  let size = head.length;
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as Buffer;
    if (i > 0) parts.push(comma);
    parts.push(item);
    size += item.length + 1;
    if (size < LIST_CHUNK_BYTES) continue;
    const flushed = res.write(Buffer.concat(parts));
    parts = [];
    size = 0;
    if (!flushed && !(await drained(res))) return;
  }
  parts.push(tail);
  res.end(Buffer.concat(parts));
}

/** Wait until `res` can take more data: true once drained, false if the connection closed first. */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** DeleteOptions may ask for a dry run in the body (`"dryRun": ["All"]`, what kubectl sends) or in the query. */
function deleteDryRun(body: unknown, q: URLSearchParams, req: IncomingMessage): boolean {
  const inBody = isObject(body) ? body.dryRun : undefined;
  if (inBody !== undefined && inBody !== null) {
    if (!Array.isArray(inBody) || inBody.some((d) => d !== 'All'))
      throw errors.badRequest(`dryRun must be a list of "All"; got ${JSON.stringify(inBody)}`);
    if (inBody.length > 0) return true;
  }
  return writeOptions(q, req).dryRun;
}

function deleteOptionsFrom(body: unknown, q: URLSearchParams): DeleteOptions {
  const opts: DeleteOptions = {};
  if (isObject(body)) {
    if (body.kind !== undefined && body.kind !== 'DeleteOptions') {
      throw errors.badRequest(`the DELETE body must be DeleteOptions; got kind ${JSON.stringify(body.kind)}`);
    }
    const p = body.propagationPolicy;
    if (p !== undefined && p !== null) {
      if (p !== 'Background' && p !== 'Foreground' && p !== 'Orphan') {
        throw errors.badRequest(
          `propagationPolicy must be Background, Foreground or Orphan; got ${JSON.stringify(p)}`,
        );
      }
      opts.propagationPolicy = p;
    }
    if (typeof body.gracePeriodSeconds === 'number') opts.gracePeriodSeconds = body.gracePeriodSeconds;
    if (typeof body.orphanDependents === 'boolean') opts.orphanDependents = body.orphanDependents;
    if (isObject(body.preconditions)) {
      const pre: { uid?: string; resourceVersion?: string } = {};
      if (typeof body.preconditions.uid === 'string') pre.uid = body.preconditions.uid;
      if (typeof body.preconditions.resourceVersion === 'string')
        pre.resourceVersion = body.preconditions.resourceVersion;
      opts.preconditions = pre;
    }
  }
  const qp = q.get('propagationPolicy');
  if (qp !== null) {
    if (qp !== 'Background' && qp !== 'Foreground' && qp !== 'Orphan') {
      throw errors.badRequest(
        `propagationPolicy must be Background, Foreground or Orphan; got ${JSON.stringify(qp)}`,
      );
    }
    opts.propagationPolicy = qp;
  }
  const gp = intParam(q, 'gracePeriodSeconds');
  if (gp !== undefined) opts.gracePeriodSeconds = gp;
  if (opts.gracePeriodSeconds !== undefined && opts.gracePeriodSeconds < 0) opts.gracePeriodSeconds = 0;
  return opts;
}

function verbOf(method: string, p: ResourcePath, q: URLSearchParams): string {
  switch (method) {
    case 'GET':
      if (p.name === undefined) return boolParam(q, 'watch') || p.legacyWatch ? 'watch' : 'list';
      return p.legacyWatch ? 'watch' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return p.name === undefined ? 'deletecollection' : 'delete';
    default:
      return method.toLowerCase();
  }
}

function verbOfMethod(method: string): string {
  const verbs: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
  return verbs[method] ?? method.toLowerCase();
}

function nodeProxied(p: ResourcePath): 'log' | 'exec' | undefined {
  if (p.info.group !== '' || p.info.resource !== 'pods') return undefined;
  return p.subresource === 'log' || p.subresource === 'exec' ? p.subresource : undefined;
}

/** For nodes/{name}/proxy/{path...}: the path after `proxy` (decoded segments joined by `/`). */
function nodeProxyPath(p: ResourcePath, pathname: string): string | undefined {
  if (p.info.group !== '' || p.info.resource !== 'nodes' || p.subresource !== 'proxy' || p.name === undefined)
    return undefined;
  // api/v1/nodes/{name}/proxy/...: the first `nodes` is the resource (a node may be named `proxy`).
  const parts = pathname.split('/').filter((x) => x !== '');
  return parts
    .slice(parts.indexOf('nodes') + 3)
    .map((x) => decodeURIComponent(x))
    .join('/');
}

export class ApiServer {
  readonly store: Store;
  readonly registries = new Map<string, ResourceRegistry>();
  private readonly authn: TokenAuthenticator | undefined;
  private readonly log: (line: string) => void;
  private readonly hub: WatchHub;
  private readonly namespaces = new NamespaceCache();
  private readonly priorityClasses = new PriorityClassCache();
  private ready = true;
  /** ClusterIP and node port allocation of Services (records in the store). */
  readonly serviceAllocator: ServiceAllocator;
  private serviceRepairTimer: ReturnType<typeof setInterval> | undefined;
  /** pods/log, pods/exec and nodes/proxy go to the node's agent. */
  readonly nodeProxy: NodeProxy;
  /** metrics.k8s.io/v1beta1 from the agents' stats; `metrics.podMetrics(ns, selector)` for autoscalers. */
  readonly metrics: MetricsApi;
  /** custom.metrics.k8s.io/v1beta2: request and connection rates from the agents' service proxies. */
  readonly customMetrics: CustomMetricsApi;
  /**
   * Prometheus metrics served on `GET /metrics`: requests, store latency, and (when the control plane
   * passes it to startControllers) the workqueues of the controllers in this process.
   */
  readonly prometheus: MetricsRegistry = newMetricsRegistry();
  private readonly requestMetrics: ApiServerMetrics;

  constructor(
    rawStore: Store,
    tokens: TokenEntry[] | undefined,
    log: (line: string) => void,
    agentClient?: AgentClientCredentials,
    admission: AdmissionOptions = {},
    services: Pick<ServiceAllocatorOptions, 'serviceClusterIPRange' | 'serviceNodePortRange'> = {},
  ) {
    this.requestMetrics = apiServerMetrics(this.prometheus);
    const requestMetrics = this.requestMetrics;
    // Every store call of this server is timed; the store itself stays unaware of metrics.
    const store = new TimedStore(rawStore, (op, seconds) => requestMetrics.storeOperation(op, seconds));
    this.store = store;
    this.authn = tokens === undefined ? undefined : new TokenAuthenticator(tokens);
    this.log = log;
    this.hub = new WatchHub(store);
    for (const info of resources) {
      this.registries.set(registryKey(info), new ResourceRegistry(info, store, () => this.byShortKey));
    }
    installAdmission(
      this.registry(podsInfo),
      this.registry(priorityClassesInfo),
      this.priorityClasses,
      admission,
    );
    this.serviceAllocator = new ServiceAllocator(store, { ...services, log });
    const allocator = this.serviceAllocator;
    this.registry(servicesInfo).allocation = {
      create: (obj, dryRun) => allocator.allocateCreate(obj, dryRun),
      update: (obj, old, dryRun) => allocator.allocateUpdate(obj, old, dryRun),
      deleted: async (obj) => {
        try {
          await allocator.release(obj);
        } catch (err) {
          // The repair pass releases them later.
          log(
            `services: releasing the IP and node ports of ${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''} failed: ${(err as Error).message}`,
          );
        }
      },
    };
    this.nodeProxy = new NodeProxy({
      getPod: (ns, name) => this.registry({ group: '', version: 'v1', resource: 'pods' }).get(ns, name),
      getNode: (name) => this.registry({ group: '', version: 'v1', resource: 'nodes' }).get(undefined, name),
      agentClient,
      log,
    });
    const list = async (
      resource: 'nodes' | 'pods',
      namespace: string | undefined,
      labelSelector?: string,
      fieldSelector?: string,
    ): Promise<KubeObject[]> => {
      const r = await this.registry({ group: '', version: 'v1', resource }).list({
        namespace,
        labelSelector,
        fieldSelector,
      });
      return r.items.map((t) => JSON.parse(t) as KubeObject);
    };
    const summaries = new SummarySource({
      fetch: agentSummaryFetcher(() => agentClient),
      now: Date.now,
      log,
    });
    const getPod = (ns: string, name: string): Promise<KubeObject> =>
      this.registry({ group: '', version: 'v1', resource: 'pods' }).get(ns, name);
    this.metrics = new MetricsApi({
      listNodes: (sel) => list('nodes', undefined, sel),
      allNodes: () => list('nodes', undefined),
      getNode: (name) => this.registry({ group: '', version: 'v1', resource: 'nodes' }).get(undefined, name),
      listPods: (ns, sel, fields) => list('pods', ns, sel, fields),
      getPod,
      source: summaries,
      now: () => new Date(),
    });
    this.customMetrics = new CustomMetricsApi({
      allNodes: () => list('nodes', undefined),
      listPods: (ns, sel) => list('pods', ns, sel),
      getPod,
      getService: (ns, name) =>
        this.registry({ group: '', version: 'v1', resource: 'services' }).get(ns, name),
      source: summaries,
    });
  }

  /** Registries keyed `/v1/namespaces`, `apps/v1/deployments` (what ResourceRegistry looks up). */
  private get byShortKey(): Map<string, ResourceRegistry> {
    return this.registries;
  }

  registry(info: Pick<ResourceInfo, 'group' | 'version' | 'resource'>): ResourceRegistry {
    const r = this.registries.get(registryKey(info));
    if (r === undefined) throw errors.notFound(info.resource, info.group, '');
    return r;
  }

  /** API watches share one store watch per resource through the hub. */
  private watchSource(info: ResourceInfo): WatchSource {
    return { watch: (options) => this.hub.watch(options, info) };
  }

  /** Start the in-memory caches that take reads off the hot write path. */
  async startCaches(): Promise<void> {
    await this.namespaces.start(this.store);
    await this.priorityClasses.start(this.store);
    for (const registry of this.registries.values()) registry.namespaceCache = this.namespaces;
  }

  /**
   * Objects every cluster has: the system-* priority classes (created when missing) and the `kubernetes`
   * ServiceCIDR, which holds this server's --service-cluster-ip-range (created, or replaced when it changed).
   */
  async ensureBuiltins(): Promise<void> {
    await ensureSystemPriorityClasses(this.registry(priorityClassesInfo));
    await ensureKubernetesServiceCIDR(
      this.registry(serviceCIDRsInfo),
      [this.serviceAllocator.cidr.cidr],
      this.log,
    );
  }

  /**
   * Repair Service allocation records now (see services/repair.ts), then every few minutes until close.
   * A failing pass is logged, never fatal.
   */
  async startServiceRepair(intervalMs = serviceRepairIntervalMs): Promise<void> {
    const pass = async (): Promise<void> => {
      try {
        await repairServiceAllocations(this.store, this.serviceAllocator, { log: this.log });
      } catch (err) {
        this.log(`services repair failed: ${(err as Error).message}`);
      }
    };
    await pass();
    this.serviceRepairTimer = setInterval(() => void pass(), intervalMs);
    this.serviceRepairTimer.unref();
  }

  close(): void {
    if (this.serviceRepairTimer !== undefined) clearInterval(this.serviceRepairTimer);
    this.hub.close();
    this.namespaces.close();
    this.priorityClasses.close();
    this.nodeProxy.close();
  }

  setReady(ready: boolean): void {
    this.ready = ready;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    let url: URL | undefined;
    try {
      url = new URL(`http://localhost${(req.url ?? '/').startsWith('/') ? '' : '/'}${req.url ?? ''}`);
    } catch {
      // A malformed URL is answered 400 by dispatch; it counts as a non-resource request.
    }
    this.countRequest(req, res, url);
    this.dispatch(req, res, url).catch((err: unknown) => {
      if (isApiError(err)) {
        sendStatus(res, err.toStatus());
        return;
      }
      this.log(
        `internal error on ${req.method ?? ''} ${req.url ?? ''}: ${(err as Error).stack ?? String(err)}`,
      );
      sendStatus(res, errors.internal((err as Error).message ?? String(err)).toStatus());
    });
  };

  /** apiserver_request_total and friends: labelled before dispatch, recorded when the response closes. */
  private countRequest(req: IncomingMessage, res: ServerResponse, url: URL | undefined): void {
    const info = requestMetricInfo(
      req.method ?? 'GET',
      url?.pathname ?? '/',
      url?.searchParams ?? new URLSearchParams(),
      req.headers['content-type'],
    );
    const done = this.requestMetrics.requestStarted(info.labels, info.longRunning, info.mutating);
    res.once('close', () => done(res.statusCode));
  }

  private authenticate(req: IncomingMessage, pathname: string): UserInfo | undefined {
    if (this.authn === undefined) return { name: 'anonymous-admin', uid: '', groups: ['system:masters'] };
    const user = this.authn.authenticate(req.headers.authorization);
    if (user !== undefined) return user;
    if (anonymousPaths.some((r) => r.test(pathname))) return undefined;
    throw errors.unauthorized();
  }

  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    parsedUrl: URL | undefined,
  ): Promise<void> {
    if (parsedUrl === undefined) throw errors.badRequest(`malformed request URL ${JSON.stringify(req.url)}`);
    const url = parsedUrl;
    const pathname = url.pathname;
    const method = req.method ?? 'GET';
    const user = this.authenticate(req, pathname);

    // Health and version are open to anyone.
    if (/^\/(healthz|livez)(\/.*)?$/.test(pathname)) {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
      return;
    }
    if (/^\/readyz(\/.*)?$/.test(pathname)) {
      // Ready means started and the store answers.
      let problem = this.ready ? undefined : 'starting';
      if (problem === undefined) {
        try {
          await this.store.currentRevision();
        } catch (err) {
          problem = `store: ${(err as Error).message}`;
        }
      }
      if (problem === undefined) res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
      else res.writeHead(503, { 'Content-Type': 'text/plain' }).end(`not ready: ${problem}`);
      return;
    }
    if (pathname === '/version' || pathname === '/version/') {
      sendJson(res, 200, versionInfo());
      return;
    }
    if (user === undefined) throw errors.unauthorized();

    if (pathname === '/metrics') {
      await this.serveMetrics(res, user, method);
      return;
    }
    if (method === 'GET') {
      // Aggregated discovery when asked for (kubectl >= 1.26); client-go decides by the Content-Type.
      const clean = pathname.replace(/\/+$/, '');
      const aggregated =
        clean === '/api' || clean === '/apis' ? aggregatedVersionOf(req.headers.accept) : undefined;
      if (aggregated !== undefined) {
        sendJson(res, 200, aggregatedDiscoveryDoc(clean === '/api', aggregated), {
          'Content-Type': aggregatedContentType(aggregated),
          Vary: 'Accept',
        });
        return;
      }
      const doc = this.discovery(pathname);
      if (doc !== undefined) {
        sendJson(res, 200, doc, { Vary: 'Accept' });
        return;
      }
      if (serveOpenApi(req, res, pathname, url.searchParams)) return;
    }
    const metricsReq = parseMetricsPath(pathname);
    if (metricsReq !== undefined) {
      const verb = method !== 'GET' ? verbOfMethod(method) : metricsReq.name === undefined ? 'list' : 'get';
      const denied = authorize(user, verb, metricsReq.resource, metricsReq.namespace);
      if (denied !== undefined) throw errors.forbidden(`${denied} in API group "metrics.k8s.io"`);
      sendJson(res, 200, await this.metrics.answer(metricsReq, method, url.searchParams));
      return;
    }
    const customReq = parseCustomMetricsPath(pathname);
    if (customReq !== undefined) {
      const verb = method !== 'GET' ? verbOfMethod(method) : customReq.name === '*' ? 'list' : 'get';
      const denied = authorize(user, verb, customReq.resource, customReq.namespace);
      if (denied !== undefined) throw errors.forbidden(`${denied} in API group "custom.metrics.k8s.io"`);
      sendJson(res, 200, await this.customMetrics.answer(customReq, method, url.searchParams));
      return;
    }
    const parsed = parseResourcePath(pathname);
    if (parsed.kind === 'other') {
      throw new ApiError(
        'NotFound',
        `the server could not find the requested resource (${method} ${pathname})`,
      );
    }
    if (parsed.kind === 'unknownResource') {
      throw new ApiError(
        'NotFound',
        `the server could not find the requested resource: no resource "${parsed.resource}" in group version "${
          parsed.group === '' ? parsed.version : `${parsed.group}/${parsed.version}`
        }"`,
      );
    }
    const p = parsed.path;
    const q = url.searchParams;
    const proxied = nodeProxied(p);
    // Exec is a write whatever the HTTP method (a WebSocket upgrade is a GET), as upstream authorizes it.
    const verb = proxied === 'exec' ? 'create' : verbOf(method, p, q);
    const denied = authorize(
      user,
      verb,
      p.subresource === undefined ? p.info.resource : `${p.info.resource}/${p.subresource}`,
      p.namespace,
    );
    if (denied !== undefined) throw errors.forbidden(denied);
    // The resource table says which verbs a resource serves (servicecidrs: get, list, watch only).
    if (p.subresource === undefined && isVerb(verb) && !p.info.verbs.includes(verb))
      throw errors.methodNotAllowed(refusedVerbMessage(p.info, verb));
    if (proxied !== undefined && p.name !== undefined) {
      const ns = p.namespace ?? 'default';
      if (proxied === 'log' && method !== 'GET') throw errors.methodNotAllowed('pods/log supports only GET');
      if (proxied === 'log') await this.nodeProxy.serveLog(req, res, ns, p.name, q);
      else await this.nodeProxy.refuseExec(ns, p.name, q, false);
      return;
    }
    const nodePath = nodeProxyPath(p, pathname);
    if (nodePath !== undefined && p.name !== undefined) {
      if (method !== 'GET') throw errors.methodNotAllowed(`nodes/proxy supports only GET (${method})`);
      await this.nodeProxy.serveNodeProxy(res, p.name, nodePath);
      return;
    }
    await this.serveResource(req, res, p, q, method);
  }

  /** GET /metrics: Prometheus text, for any authenticated user allowed to read (as upstream, not anonymous). */
  private async serveMetrics(res: ServerResponse, user: UserInfo, method: string): Promise<void> {
    if (method !== 'GET') throw errors.methodNotAllowed(`/metrics supports only GET (${method})`);
    if (authorize(user, 'get', 'metrics', undefined) !== undefined)
      throw errors.forbidden(`User "${user.name}" cannot get path "/metrics"`);
    const text = await this.prometheus.text();
    res.writeHead(200, {
      'Content-Type': this.prometheus.contentType,
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  /** HTTP upgrades: only pods/{name}/exec (WebSocket) is upgraded, through the node proxy. */
  handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => undefined);
    this.dispatchUpgrade(req, socket, head).catch((err: unknown) => {
      if (!isApiError(err)) this.log(`internal error on upgrade ${req.url ?? ''}: ${String(err)}`);
      rejectUpgradeWith(socket, err);
    });
  };

  private async dispatchUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(`http://localhost${(req.url ?? '/').startsWith('/') ? '' : '/'}${req.url ?? ''}`);
    const user = this.authenticate(req, url.pathname);
    if (user === undefined) throw errors.unauthorized();
    const parsed = parseResourcePath(url.pathname);
    const p = parsed.kind === 'resource' ? parsed.path : undefined;
    if (p === undefined || nodeProxied(p) !== 'exec' || p.name === undefined)
      throw errors.badRequest(`the server upgrades connections only for pods/{name}/exec (${url.pathname})`);
    const denied = authorize(user, 'create', 'pods/exec', p.namespace);
    if (denied !== undefined) throw errors.forbidden(denied);
    await this.nodeProxy.serveExecUpgrade(
      req,
      socket,
      head,
      p.namespace ?? 'default',
      p.name,
      url.searchParams,
    );
  }

  private discovery(pathname: string): unknown {
    const clean = pathname.replace(/\/+$/, '');
    if (clean === '/api') return apiVersionsDoc();
    if (clean === '/apis') return apiGroupListDoc();
    const core = /^\/api\/([^/]+)$/.exec(clean);
    if (core !== null) return apiResourceListDoc('', core[1] ?? '');
    const group = /^\/apis\/([^/]+)$/.exec(clean);
    if (group !== null) {
      const doc = apiGroupDoc(group[1] ?? '');
      return (doc.versions as unknown[]).length > 0 ? doc : undefined;
    }
    const gv = /^\/apis\/([^/]+)\/([^/]+)$/.exec(clean);
    if (gv !== null) return apiResourceListDoc(gv[1] ?? '', gv[2] ?? '');
    return undefined;
  }

  private async serveResource(
    req: IncomingMessage,
    res: ServerResponse,
    p: ResourcePath,
    q: URLSearchParams,
    method: string,
  ): Promise<void> {
    const registry = this.registry(p.info);
    const info = p.info;
    if (info.namespaced && p.name !== undefined && p.namespace === undefined) {
      throw new ApiError(
        'NotFound',
        `the server could not find the requested resource: ${info.resource} is namespaced; use /namespaces/{namespace}/${info.resource}/${p.name}`,
      );
    }
    const sub = p.subresource;
    if (sub !== undefined) {
      const known =
        info.subresources.some((s) => s.name === sub) ||
        info.actionSubresources.some((s) => s.name === sub) ||
        (info.kind === 'Namespace' && sub === 'finalize');
      if (!known)
        throw new ApiError(
          'NotFound',
          `the server could not find the requested resource: ${info.resource}/${sub}`,
        );
    }

    // Collections.
    if (p.name === undefined) {
      switch (method) {
        case 'GET': {
          if (boolParam(q, 'watch') || p.legacyWatch) {
            await serveWatch(req, res, this.watchSource(p.info), registry, {
              namespace: p.namespace,
              resourceVersion: q.get('resourceVersion') ?? undefined,
              labelSelector: q.get('labelSelector') ?? undefined,
              fieldSelector: q.get('fieldSelector') ?? undefined,
              allowWatchBookmarks: boolParam(q, 'allowWatchBookmarks'),
              sendInitialEvents: boolParam(q, 'sendInitialEvents'),
              timeoutSeconds: intParam(q, 'timeoutSeconds'),
              table: tableOptionsOf(req.headers.accept, q),
            });
            return;
          }
          const rvParam = q.get('resourceVersion');
          const match = q.get('resourceVersionMatch');
          let atRevision: number | undefined;
          if (rvParam !== null && rvParam !== '' && rvParam !== '0') {
            if (!/^\d+$/.test(rvParam))
              throw errors.badRequest(`invalid resourceVersion ${JSON.stringify(rvParam)}`);
            if (match === 'Exact') atRevision = Number(rvParam);
          }
          const listParams = {
            namespace: p.namespace,
            labelSelector: q.get('labelSelector') ?? undefined,
            fieldSelector: q.get('fieldSelector') ?? undefined,
            limit: intParam(q, 'limit'),
            continueToken: q.get('continue') ?? undefined,
            resourceVersion: atRevision,
          };
          const table = tableOptionsOf(req.headers.accept, q);
          if (table !== undefined) {
            const result = await registry.list(listParams);
            sendJson(
              res,
              200,
              listTableJson(info, result.items, table, Date.now(), {
                resourceVersion: String(result.revision),
                continue: result.continueToken,
                remainingItemCount: result.remaining,
              }),
            );
            return;
          }
          const result = await registry.listWire(listParams);
          await sendList(res, info, result.items, result.revision, result.continueToken);
          return;
        }
        case 'POST': {
          const body = parseObjectBody(await readBody(req), mediaType(req));
          const result = await registry.create(p.namespace, body, writeOptions(q, req));
          sendJson(res, 201, result.object, warningHeaders(result.warnings));
          return;
        }
        case 'DELETE': {
          const raw = await readBody(req);
          const body = raw.length > 0 ? parseJsonText(raw.toString('utf8')) : undefined;
          const opts = deleteOptionsFrom(body, q);
          const dryRun = deleteDryRun(body, q, req);
          const listed = await registry.list({
            namespace: p.namespace,
            labelSelector: q.get('labelSelector') ?? undefined,
            fieldSelector: q.get('fieldSelector') ?? undefined,
          });
          const deleted: string[] = [];
          for (const item of listed.items) {
            const obj = JSON.parse(item) as KubeObject;
            try {
              const r = await registry.delete(obj.metadata.namespace, obj.metadata.name ?? '', opts, dryRun);
              deleted.push(JSON.stringify(r.object));
            } catch (err) {
              if (!(isApiError(err) && err.reason === 'NotFound')) throw err;
            }
          }
          sendJson(res, 200, listJson(info, deleted, listed.revision));
          return;
        }
        default:
          throw errors.methodNotAllowed(
            `${method} is not supported on a ${info.resource} collection; use GET, POST or DELETE`,
          );
      }
    }

    const name = p.name;
    const ns = p.namespace;
    if (sub === 'scale') {
      await this.serveScale(req, res, registry, ns, name, q, method);
      return;
    }
    if (sub === 'binding' && ns !== undefined) {
      if (method !== 'POST') throw errors.methodNotAllowed(`pods/binding supports only POST (${method})`);
      const body = parseObjectBody(await readBody(req), mediaType(req));
      const opts = writeOptions(q, req);
      const binding = parseBinding(body, name, ns, opts.fieldValidation);
      await registry.guardedUpdate(ns, name, (pod) => assignPod(pod, binding, now()), opts.dryRun);
      sendJson(res, 201, successStatus(201), warningHeaders(binding.warnings));
      return;
    }
    if (sub === 'eviction' && ns !== undefined) {
      if (method !== 'POST') throw errors.methodNotAllowed(`pods/eviction supports only POST (${method})`);
      const body = parseObjectBody(await readBody(req), mediaType(req));
      const opts = writeOptions(q, req);
      const eviction = parseEviction(body, name, ns, opts.fieldValidation);
      await this.evict(registry, ns, name, eviction.deleteOptions, opts.dryRun || eviction.dryRun);
      sendJson(res, 201, successStatus(201), warningHeaders(eviction.warnings));
      return;
    }
    if (sub === 'finalize') {
      if (method !== 'PUT') throw errors.methodNotAllowed('namespaces/finalize supports only PUT');
      const body = parseObjectBody(await readBody(req), mediaType(req));
      const r = await registry.finalizeNamespace(name, body, writeOptions(q, req));
      sendJson(res, 200, r.object);
      return;
    }
    const status = sub === 'status' ? 'status' : undefined;
    switch (method) {
      case 'GET': {
        if (boolParam(q, 'watch') || p.legacyWatch) {
          await serveWatch(req, res, this.watchSource(p.info), registry, {
            namespace: ns,
            resourceVersion: q.get('resourceVersion') ?? undefined,
            labelSelector: undefined,
            fieldSelector: `metadata.name=${name}`,
            allowWatchBookmarks: boolParam(q, 'allowWatchBookmarks'),
            sendInitialEvents: boolParam(q, 'sendInitialEvents'),
            timeoutSeconds: intParam(q, 'timeoutSeconds'),
            table: tableOptionsOf(req.headers.accept, q),
          });
          return;
        }
        const obj = await registry.get(ns, name);
        const table = tableOptionsOf(req.headers.accept, q);
        sendJson(res, 200, table === undefined ? obj : itemTable(info, obj, table, Date.now()));
        return;
      }
      case 'PUT': {
        const body = parseObjectBody(await readBody(req), mediaType(req));
        const r = await registry.update(ns, name, body, writeOptions(q, req), status);
        sendJson(res, 200, r.object, warningHeaders(r.warnings));
        return;
      }
      case 'PATCH': {
        const type = patchTypeOf(mediaType(req));
        const text = (await readBody(req)).toString('utf8');
        const body =
          type === 'apply' ? parseObjectBody(Buffer.from(text), 'application/yaml') : parseJsonText(text);
        const opts = writeOptions(q, req);
        if (type === 'apply' && (opts.fieldManager === undefined || opts.fieldManager === '')) {
          throw errors.badRequest('fieldManager is required for apply requests (server-side apply)');
        }
        const r = await registry.patch(ns, name, type, body, opts, status);
        sendJson(res, r.created === true ? 201 : 200, r.object, warningHeaders(r.warnings));
        return;
      }
      case 'DELETE': {
        if (status !== undefined)
          throw errors.methodNotAllowed(`DELETE is not supported on ${info.resource}/status`);
        const raw = await readBody(req);
        const body = raw.length > 0 ? parseJsonText(raw.toString('utf8')) : undefined;
        const r = await registry.delete(ns, name, deleteOptionsFrom(body, q), deleteDryRun(body, q, req));
        if (!r.deleted || info.kind === 'Pod') {
          sendJson(res, r.deleted ? 200 : 202, r.object);
          return;
        }
        sendJson(res, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, group: info.group, kind: info.resource, uid: r.object.metadata.uid ?? '' },
        });
        return;
      }
      case 'POST':
        throw errors.methodNotAllowed(
          `POST is not supported on a single ${info.singular}; POST to the collection to create`,
        );
      default:
        throw errors.methodNotAllowed(`${method} is not supported`);
    }
  }

  /**
   * pods/eviction: a graceful delete with the eviction's deleteOptions. No PodDisruptionBudgets exist here,
   * so every eviction is allowed; the pod is first marked DisruptionTarget=True, as upstream does.
   */
  private async evict(
    pods: ResourceRegistry,
    ns: string,
    name: string,
    options: DeleteOptions,
    dryRun: boolean,
  ): Promise<void> {
    const pod = await pods.get(ns, name);
    checkEvictionPreconditions(pod, options);
    // From here on the pod is known by its uid: a pod recreated under the same name is not evicted.
    const uid = pod.metadata.uid ?? '';
    if (evictionMarks(pod) && !dryRun) {
      await pods.guardedUpdate(
        ns,
        name,
        (current) => {
          checkEvictionPreconditions(current, { preconditions: { ...options.preconditions, uid } });
          return markEvicted(current, now());
        },
        false,
      );
    }
    // Marking moved the resourceVersion on; the delete checks the uid only.
    await pods.delete(ns, name, { ...options, preconditions: { uid } }, dryRun);
  }

  private async serveScale(
    req: IncomingMessage,
    res: ServerResponse,
    registry: ResourceRegistry,
    ns: string | undefined,
    name: string,
    q: URLSearchParams,
    method: string,
  ): Promise<void> {
    switch (method) {
      case 'GET': {
        const scale = registry.scaleOf(await registry.get(ns, name));
        const table = tableOptionsOf(req.headers.accept, q);
        const scaleInfo = { ...registry.info, group: 'autoscaling', version: 'v1', kind: 'Scale' };
        sendJson(res, 200, table === undefined ? scale : itemTable(scaleInfo, scale, table, Date.now()));
        return;
      }
      case 'PUT': {
        const body = parseObjectBody(await readBody(req), mediaType(req));
        sendJson(res, 200, await registry.updateScale(ns, name, writeOptions(q, req), () => body));
        return;
      }
      case 'PATCH': {
        const type = patchTypeOf(mediaType(req));
        const body = parseJsonText((await readBody(req)).toString('utf8'));
        const scaleInfo = { ...registry.info, group: 'autoscaling', version: 'v1', kind: 'Scale' };
        sendJson(
          res,
          200,
          await registry.updateScale(ns, name, writeOptions(q, req), (scale) =>
            applyPatchBody(type, scale, body, scaleInfo),
          ),
        );
        return;
      }
      default:
        throw errors.methodNotAllowed(`${method} is not supported on ${registry.info.resource}/scale`);
    }
  }
}

/** Start listening. Resolves once the socket is bound. */
export async function startApiServer(
  options: ApiServerOptions,
): Promise<RunningApiServer & { api: ApiServer }> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Kind defaults, validation and schemas (src/api) apply to every server, not only test ones.
  installKindHooks();
  const agentClient =
    options.agentClient ?? (options.tls === undefined ? undefined : agentClientFor(options.tls.certPem));
  const api = new ApiServer(
    options.store,
    options.tokens,
    log,
    agentClient,
    {
      defaultNotReadyTolerationSeconds: options.defaultNotReadyTolerationSeconds,
      defaultUnreachableTolerationSeconds: options.defaultUnreachableTolerationSeconds,
    },
    {
      serviceClusterIPRange: options.serviceClusterIPRange,
      serviceNodePortRange: options.serviceNodePortRange,
    },
  );
  await api.startCaches();
  await api.ensureBuiltins();
  await api.startServiceRepair();
  const server: Server =
    options.tls === undefined
      ? createHttpServer(api.handle)
      : createHttpsServer({ cert: options.tls.certPem, key: options.tls.keyPem }, api.handle);
  server.on('upgrade', api.handleUpgrade);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.requestTimeout = 0;
  const { host, port } = splitListen(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const local = options.localSocket === undefined ? undefined : await listenLocal(options.localSocket, api);
  const addr = server.address() as AddressInfo;
  const urlHost =
    addr.family === 'IPv6'
      ? `[${addr.address === '::' ? '::1' : addr.address}]`
      : addr.address === '0.0.0.0'
        ? '127.0.0.1'
        : addr.address;
  const url = `${options.tls === undefined ? 'http' : 'https'}://${urlHost}:${addr.port}`;
  return {
    api,
    url,
    port: addr.port,
    server,
    ...(options.localSocket === undefined ? {} : { localSocket: options.localSocket }),
    registries: api.registries,
    close: async () => {
      api.close();
      await Promise.all([closeServer(server), local === undefined ? undefined : closeServer(local)]);
      if (options.localSocket !== undefined) rmSync(options.localSocket, { force: true });
    },
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function listenLocal(path: string, api: ApiServer): Promise<Server> {
  // A socket file left by a killed server would make listen fail with EADDRINUSE.
  rmSync(path, { force: true });
  const local = createHttpServer(api.handle);
  local.keepAliveTimeout = 65_000;
  local.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    local.once('error', reject);
    local.listen(path, () => {
      local.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return local;
}

export function splitListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (m === null)
    throw new Error(`--listen must be host:port (e.g. 127.0.0.1:6443); got ${JSON.stringify(listen)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`--listen port ${port} is out of range`);
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : (m[2] ?? '127.0.0.1')), port };
}
