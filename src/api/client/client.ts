// The typed HTTP client every component and the CLI use to talk to the API server.
// Transport (transport.ts): undici with a per-client Agent (the cluster CA, optional client certificate),
// or plain HTTP over the API server's local socket for components inside its process; non-2xx responses
// become ApiError rebuilt from the Status body.
import { ApiError, statusCodes, type Status, type StatusDetails, type StatusReason } from '../errors.js';
import { findByKind, type ResourceInfo } from '../resources.js';
import {
  isObject,
  type DeleteOptions,
  type DeletionPropagation,
  type KubeList,
  type KubeObject,
  type WatchEvent,
  type WatchEventType,
} from '../types.js';
import { loadKubeconfig, type ClientConfig, type LoadKubeconfigOptions } from './kubeconfig.js';
import {
  timeoutCodes,
  undiciTransport,
  unixSocketTransport,
  type TlsConnect,
  type Transport,
  type TransportResponse,
} from './transport.js';

/** A resource given by its table entry, or by the apiVersion and kind of an object. */
export type ResourceRef = ResourceInfo | { apiVersion: string; kind: string };

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

export const patchContentTypes: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface ListOptions {
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  limit?: number | undefined;
  continue?: string | undefined;
  resourceVersion?: string | undefined;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan' | undefined;
}

export interface WriteOptions {
  fieldValidation?: FieldValidation | undefined;
  fieldManager?: string | undefined;
  /** Server-side dry run (`dryRun=All`). */
  dryRun?: boolean | undefined;
}

export interface PatchOptions extends WriteOptions {
  /** Server-side apply: take ownership of conflicting fields. */
  force?: boolean | undefined;
  /** Patch a subresource (`status`, `scale`) instead of the object. */
  subresource?: 'status' | 'scale' | undefined;
}

export interface DeleteRequestOptions {
  propagationPolicy?: DeletionPropagation | undefined;
  gracePeriodSeconds?: number | undefined;
  preconditions?: { uid?: string; resourceVersion?: string } | undefined;
  dryRun?: boolean | undefined;
}

export interface WatchOptions {
  resourceVersion?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  allowWatchBookmarks?: boolean | undefined;
  timeoutSeconds?: number | undefined;
  /** Start with synthetic ADDED events for the current state (sets resourceVersionMatch=NotOlderThan). */
  sendInitialEvents?: boolean | undefined;
}

/** A running watch. `close()` stops it; no callback fires after it. */
export interface WatchHandle {
  close(): void;
}

/** autoscaling/v1 Scale, served by the `scale` subresource. */
export interface Scale extends KubeObject {
  apiVersion: 'autoscaling/v1';
  kind: 'Scale';
  spec: { replicas?: number };
  status?: { replicas: number; selector?: string };
}

export interface ApiClientOptions extends ClientConfig {
  /** Per-request timeout for everything except watches (default 60 s). */
  timeoutMs?: number;
  userAgent?: string;
  /** Called with every `Warning` header the server sends (deprecations, unknown fields in Warn mode). */
  onWarning?: (message: string) => void;
  /**
   * Talk plain HTTP over this unix socket instead (the API server's local socket, for components in its
   * own process); `server` then only names the server in messages.
   */
  socketPath?: string;
}

export interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when the body is JSON, else the text. */
  body: unknown;
}

// Errors that came back from the server (as opposed to connection or configuration failures).
const serverErrors = new WeakSet<object>();

/** True when the error is a Status the server returned (kubectl prints these as `Error from server (...)`). */
export function isServerError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && serverErrors.has(err);
}

const reasons = new Set<string>(Object.keys(statusCodes));

function isReason(value: unknown): value is StatusReason {
  return typeof value === 'string' && reasons.has(value);
}

function reasonForCode(code: number): StatusReason {
  switch (code) {
    case 400:
      return 'BadRequest';
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'NotFound';
    case 405:
      return 'MethodNotAllowed';
    case 406:
      return 'NotAcceptable';
    case 409:
      return 'Conflict';
    case 410:
      return 'Expired';
    case 413:
      return 'RequestEntityTooLarge';
    case 415:
      return 'UnsupportedMediaType';
    case 422:
      return 'Invalid';
    case 429:
      return 'TooManyRequests';
    case 503:
      return 'ServiceUnavailable';
    case 504:
      return 'Timeout';
    default:
      return code >= 500 ? 'InternalError' : 'BadRequest';
  }
}

/** kubectl's messages for error responses without a Status body. */
function messageForCode(code: number, text: string): string {
  const snippet = text.trim().slice(0, 500);
  switch (code) {
    case 401:
      return 'the server has asked for the client to provide credentials';
    case 403:
      return snippet !== '' ? snippet : 'the server does not allow access to the requested resource';
    case 404:
      return 'the server could not find the requested resource';
    case 409:
      return 'the server reported a conflict';
    case 410:
      return 'the resource version is too old';
    case 429:
      return 'the server has received too many requests and has asked us to try again later';
    case 503:
      return 'the server is currently unable to handle the request';
    case 504:
      return 'the server was unable to return a response in the time allotted, but may still be processing the request';
    default:
      return snippet !== ''
        ? `an error on the server ("${snippet}") has prevented the request from succeeding`
        : `the server responded with the status code ${code} but did not return more information`;
  }
}

function retryAfter(headers: Record<string, string | string[] | undefined>): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function isStatus(value: unknown): value is Status {
  return isObject(value) && value['kind'] === 'Status';
}

/** Rebuild an ApiError from a Status object (a response body or a watch ERROR event). */
export function apiErrorFromStatus(status: Status | Record<string, unknown>, httpCode?: number): ApiError {
  const code = typeof status['code'] === 'number' ? status['code'] : (httpCode ?? 500);
  let reason: StatusReason = isReason(status['reason']) ? status['reason'] : reasonForCode(code);
  if (code === 410 && reason === 'Gone') reason = 'Expired';
  const message =
    typeof status['message'] === 'string' && status['message'] !== ''
      ? status['message']
      : messageForCode(code, '');
  const details = isObject(status['details']) ? (status['details'] as StatusDetails) : undefined;
  const err = new ApiError(reason, message, details);
  serverErrors.add(err);
  return err;
}

/** The ApiError for a non-2xx response: from its Status body, else synthesized from the HTTP code. */
export function apiErrorFromResponse(
  statusCode: number,
  bodyText: string,
  headers: Record<string, string | string[] | undefined> = {},
): ApiError {
  let parsed: unknown;
  try {
    parsed = bodyText === '' ? undefined : JSON.parse(bodyText);
  } catch {
    parsed = undefined;
  }
  let err: ApiError;
  if (isStatus(parsed)) {
    err = apiErrorFromStatus(parsed, statusCode);
  } else {
    err = new ApiError(reasonForCode(statusCode), messageForCode(statusCode, bodyText));
    serverErrors.add(err);
  }
  const after = retryAfter(headers);
  if (after !== undefined && err.details?.retryAfterSeconds === undefined) {
    const withRetry = new ApiError(err.reason, err.message, { ...err.details, retryAfterSeconds: after });
    serverErrors.add(withRetry);
    return withRetry;
  }
  return err;
}

const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

const tlsCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
]);

function errorCodes(err: unknown, depth = 0): string[] {
  if (!isObject(err) || depth > 4) return [];
  const out: string[] = [];
  if (typeof err['code'] === 'string') out.push(err['code']);
  if (Array.isArray(err['errors'])) for (const e of err['errors']) out.push(...errorCodes(e, depth + 1));
  if (err['cause'] !== undefined) out.push(...errorCodes(err['cause'], depth + 1));
  return out;
}

/** Map a transport failure (refused, reset, TLS, timeout) to an ApiError the user can act on. */
export function connectionError(server: string, err: unknown): ApiError {
  if (isObject(err) && err['name'] === 'ApiError') return err as unknown as ApiError;
  const codes = errorCodes(err);
  const options = { cause: err };
  const tls = codes.find((c) => tlsCodes.has(c));
  if (tls !== undefined) {
    return new ApiError(
      'ServiceUnavailable',
      `unable to verify the certificate of the server at ${server} (${tls}); check certificate-authority-data in your kubeconfig (\`flotilla kubeconfig\` prints the server's)`,
      undefined,
      options,
    );
  }
  if (codes.some((c) => timeoutCodes.has(c))) {
    return new ApiError('Timeout', `the server at ${server} did not respond in time`, undefined, options);
  }
  const code = codes.find((c) => connectionCodes.has(c)) ?? codes[0];
  const why =
    code !== undefined ? ` (${code})` : err instanceof Error && err.message !== '' ? ` (${err.message})` : '';
  return new ApiError(
    'ServiceUnavailable',
    `the server at ${server} is unreachable${why}; start it with \`flotilla up\``,
    undefined,
    options,
  );
}

function resolveRef(ref: ResourceRef): ResourceInfo {
  return 'resource' in ref ? ref : infoFor(ref.apiVersion, ref.kind);
}

/** The resource table entry for an apiVersion and kind; ApiError NotFound when the server has no such type. */
export function infoFor(apiVersion: string, kind: string): ResourceInfo {
  const info = findByKind(apiVersion, kind);
  if (info === undefined) {
    throw new ApiError('NotFound', `no resource type for ${apiVersion} ${kind}`, { kind });
  }
  return info;
}

/** The resource table entry of an object. */
export function infoOf(obj: Pick<KubeObject, 'apiVersion' | 'kind'>): ResourceInfo {
  return infoFor(obj.apiVersion, obj.kind);
}

/**
 * REST path of a collection or object. Namespaced resources with `namespace` undefined give the
 * all-namespaces collection (`/api/v1/pods`); cluster-scoped resources ignore `namespace`.
 */
export function resourcePath(
  info: ResourceInfo,
  namespace: string | undefined,
  name?: string,
  subresource?: string,
): string {
  let path = info.group === '' ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`;
  if (info.namespaced && namespace !== undefined && namespace !== '') {
    path += `/namespaces/${encodeURIComponent(namespace)}`;
  } else if (info.namespaced && name !== undefined) {
    throw new ApiError('BadRequest', `a namespace is required for ${info.resource}`);
  }
  path += `/${info.resource}`;
  if (name !== undefined) {
    if (name === '') throw new ApiError('BadRequest', 'resource name may not be empty');
    path += `/${encodeURIComponent(name)}`;
    if (subresource !== undefined) path += `/${subresource}`;
  }
  return path;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

function writeQuery(
  opts: WriteOptions | undefined,
  extra: Record<string, string | boolean | undefined> = {},
): string {
  return query({
    fieldValidation: opts?.fieldValidation,
    fieldManager: opts?.fieldManager,
    dryRun: opts?.dryRun === true ? 'All' : undefined,
    ...extra,
  });
}

function nameOf(obj: KubeObject): string {
  const name = obj.metadata.name;
  if (name === undefined || name === '') throw new ApiError('BadRequest', 'resource name may not be empty');
  return name;
}

/** Parse `Warning` headers: `299 - "message"`, possibly several. */
export function parseWarnings(raw: string | string[] | undefined): string[] {
  if (raw === undefined) return [];
  const out: string[] = [];
  for (const value of Array.isArray(raw) ? raw : [raw]) {
    const re = /\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g;
    let m: RegExpExecArray | null;
    let matched = false;
    while ((m = re.exec(value)) !== null) {
      matched = true;
      out.push((m[1] ?? '').replace(/\\(.)/g, '$1'));
    }
    if (!matched && value.trim() !== '') out.push(value.trim());
  }
  return out;
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (text === '') return undefined;
  if (contentType?.includes('json') === true || /^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

interface SendOptions {
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  stream?: boolean;
}

export class ApiClient {
  readonly server: string;
  readonly namespace: string | undefined;
  private readonly transport: Transport;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly onWarning: ((message: string) => void) | undefined;
  private readonly watches = new Set<WatchHandle>();

  constructor(options: ApiClientOptions) {
    this.server = options.server.replace(/\/+$/, '');
    this.namespace = options.namespace;
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.userAgent = options.userAgent ?? 'flotilla';
    this.onWarning = options.onWarning;
    if (options.socketPath !== undefined) {
      this.transport = unixSocketTransport(options.socketPath);
    } else {
      const connect: TlsConnect = {};
      if (options.caPem !== undefined) connect.ca = options.caPem;
      if (options.clientCertPem !== undefined) connect.cert = options.clientCertPem;
      if (options.clientKeyPem !== undefined) connect.key = options.clientKeyPem;
      if (options.insecureSkipTlsVerify === true) connect.rejectUnauthorized = false;
      this.transport = undiciTransport(this.server, connect);
    }
  }

  /** A client from the kubeconfig found like kubectl does (see `loadKubeconfig`). */
  static async fromKubeconfig(
    opts: LoadKubeconfigOptions = {},
    extra: Omit<ApiClientOptions, keyof ClientConfig> = {},
  ): Promise<ApiClient> {
    return new ApiClient({ ...(await loadKubeconfig(opts)), ...extra });
  }

  /** Stop every watch and release connections. */
  async close(): Promise<void> {
    for (const w of [...this.watches]) w.close();
    await this.transport.close();
  }

  async get<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
  ): Promise<T> {
    return (await this.send('GET', resourcePath(resolveRef(ref), namespace, name))).body as T;
  }

  async list<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    opts: ListOptions = {},
  ): Promise<KubeList<T>> {
    const path =
      resourcePath(resolveRef(ref), namespace) +
      query({
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit,
        continue: opts.continue,
        resourceVersion: opts.resourceVersion,
        resourceVersionMatch: opts.resourceVersionMatch,
      });
    return (await this.send('GET', path)).body as KubeList<T>;
  }

  async create<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    obj: KubeObject,
    opts?: WriteOptions,
  ): Promise<T> {
    const path = resourcePath(resolveRef(ref), namespace) + writeQuery(opts);
    return (await this.send('POST', path, { body: obj })).body as T;
  }

  async update<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    obj: KubeObject,
    opts?: WriteOptions,
  ): Promise<T> {
    const path = resourcePath(resolveRef(ref), namespace, nameOf(obj)) + writeQuery(opts);
    return (await this.send('PUT', path, { body: obj })).body as T;
  }

  async updateStatus<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    obj: KubeObject,
    opts?: WriteOptions,
  ): Promise<T> {
    const path = resourcePath(resolveRef(ref), namespace, nameOf(obj), 'status') + writeQuery(opts);
    return (await this.send('PUT', path, { body: obj })).body as T;
  }

  async patch<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
    patchType: PatchType,
    body: unknown,
    opts?: PatchOptions,
  ): Promise<T> {
    const path =
      resourcePath(resolveRef(ref), namespace, name, opts?.subresource) +
      writeQuery(opts, { force: opts?.force === true ? true : undefined });
    return (await this.send('PATCH', path, { body, contentType: patchContentTypes[patchType] })).body as T;
  }

  /** DELETE; resolves to the object (still terminating, e.g. with finalizers) or the server's Status. */
  async delete(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
    opts: DeleteRequestOptions = {},
  ): Promise<KubeObject | Status> {
    const body: DeleteOptions = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (opts.propagationPolicy !== undefined) body.propagationPolicy = opts.propagationPolicy;
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    if (opts.preconditions !== undefined) body.preconditions = opts.preconditions;
    if (opts.dryRun === true) body.dryRun = ['All'];
    return (await this.send('DELETE', resourcePath(resolveRef(ref), namespace, name), { body })).body as
      KubeObject | Status;
  }

  async getScale(ref: ResourceRef, namespace: string | undefined, name: string): Promise<Scale> {
    return (await this.send('GET', resourcePath(resolveRef(ref), namespace, name, 'scale'))).body as Scale;
  }

  async updateScale(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
    scale: Pick<Scale, 'spec'> & Partial<Scale>,
    opts?: WriteOptions,
  ): Promise<Scale> {
    const body = {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      ...scale,
      metadata: { ...(scale.metadata ?? {}), name, ...(namespace !== undefined ? { namespace } : {}) },
    };
    const path = resourcePath(resolveRef(ref), namespace, name, 'scale') + writeQuery(opts);
    return (await this.send('PUT', path, { body })).body as Scale;
  }

  /**
   * Watch a collection. Resolves once the server accepted the watch; rejects with ApiError if it did
   * not (HTTP 410 → reason Expired). Afterwards each event goes to `onEvent`; a failure (an ERROR
   * event — Expired when its code is 410 —, a broken connection, a malformed line, a throwing
   * handler) goes to `onError` exactly once and ends the watch. A normal end of the stream (server
   * timeout) calls `onClose`. Nothing is called after `close()`.
   */
  async watch<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    opts: WatchOptions,
    onEvent: (event: WatchEvent<T>) => void,
    onError: (err: ApiError) => void,
    onClose?: () => void,
  ): Promise<WatchHandle> {
    const path =
      resourcePath(resolveRef(ref), namespace) +
      query({
        watch: 'true',
        resourceVersion: opts.resourceVersion,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        allowWatchBookmarks: opts.allowWatchBookmarks === true ? 'true' : undefined,
        timeoutSeconds: opts.timeoutSeconds,
        sendInitialEvents: opts.sendInitialEvents === true ? 'true' : undefined,
        resourceVersionMatch: opts.sendInitialEvents === true ? 'NotOlderThan' : undefined,
      });
    const controller = new AbortController();
    const res = await this.send('GET', path, { signal: controller.signal, stream: true });
    const stream = res.body as TransportResponse['body'];
    let done = false;
    const handle: WatchHandle = {
      close: () => {
        if (done) return;
        done = true;
        this.watches.delete(handle);
        controller.abort();
      },
    };
    this.watches.add(handle);
    const fail = (err: ApiError): void => {
      if (done) return;
      handle.close();
      onError(err);
    };
    const line = (text: string): void => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        fail(
          new ApiError(
            'InternalError',
            `malformed watch event from ${this.server}: ${text.slice(0, 200)}`,
            undefined,
            { cause: err },
          ),
        );
        return;
      }
      if (!isObject(parsed) || typeof parsed['type'] !== 'string' || !isObject(parsed['object'])) {
        fail(
          new ApiError('InternalError', `malformed watch event from ${this.server}: ${text.slice(0, 200)}`),
        );
        return;
      }
      const type = parsed['type'] as WatchEventType;
      if (type === 'ERROR') {
        fail(apiErrorFromStatus(parsed['object']));
        return;
      }
      try {
        onEvent({ type, object: parsed['object'] as T });
      } catch (err) {
        fail(
          new ApiError(
            'InternalError',
            `watch handler failed: ${err instanceof Error ? err.message : String(err)}`,
            undefined,
            {
              cause: err,
            },
          ),
        );
      }
    };
    const pump = async (): Promise<void> => {
      const decoder = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of stream) {
          if (done) return;
          buf += decoder.decode(chunk, { stream: true });
          let nl = buf.indexOf('\n');
          while (nl >= 0) {
            const text = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (text !== '') line(text);
            if (done) return;
            nl = buf.indexOf('\n');
          }
        }
        buf += decoder.decode();
        if (buf.trim() !== '') line(buf.trim());
        if (done) return;
        done = true;
        this.watches.delete(handle);
        onClose?.();
      } catch (err) {
        if (done) return;
        fail(connectionError(this.server, err));
      }
    };
    void pump();
    return handle;
  }

  /**
   * Raw request against a server path (e.g. `/version`). Object bodies are sent as JSON.
   * Resolves to the parsed body; non-2xx responses throw ApiError.
   */
  async request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<unknown> {
    const opts: SendOptions = {};
    if (body !== undefined) opts.body = body;
    if (headers !== undefined) opts.headers = headers;
    return (await this.send(method, path, opts)).body;
  }

  private async send(method: string, path: string, opts: SendOptions = {}): Promise<RawResponse> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.userAgent,
      ...(opts.headers ?? {}),
    };
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      const hasContentType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
      if (!hasContentType) headers['content-type'] = opts.contentType ?? 'application/json';
    }
    let res: TransportResponse;
    try {
      res = await this.transport.request({
        path,
        method,
        headers,
        body: payload,
        signal: opts.signal,
        timeoutMs: this.timeoutMs,
        stream: opts.stream === true,
      });
    } catch (err) {
      throw connectionError(this.server, err);
    }
    for (const w of parseWarnings(res.headers['warning'])) this.onWarning?.(w);
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    if (ok && opts.stream === true)
      return { statusCode: res.statusCode, headers: res.headers, body: res.body };
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw connectionError(this.server, err);
    }
    if (!ok) throw apiErrorFromResponse(res.statusCode, text, res.headers);
    return {
      statusCode: res.statusCode,
      headers: res.headers,
      body: parseBody(text, headerValue(res.headers['content-type'])),
    };
  }
}
