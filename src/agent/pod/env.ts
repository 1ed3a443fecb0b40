// A container's environment as the kubelet and a CRI runtime build it: PATH default and HOSTNAME, the
// image's Env, then envFrom and env of the pod (later wins) with `$(VAR)` expansion, ConfigMap/Secret key
// references, downward API fields and container resources. Also the `$(VAR)` expansion used for
// command, args and subPathExpr, and the field lookups shared with downwardAPI volumes.
import { cpus, totalmem } from 'node:os';
import type { KubeObject } from '../../api/types.js';
import { isObject } from '../../api/types.js';
import { parseQuantity, quantityToMillis, quantityValue } from '../../api/quantity.js';
import type { ImageInfo } from '../image/types.js';
import type { ObjectLookup, PodContext } from './container-spec.js';
import { serviceEnv } from './service-env.js';

/** A problem in the pod's configuration that keeps a container from being created. */
export class ContainerConfigError extends Error {
  readonly code = 'ContainerConfigError' as const;
  /** Never transient by itself: the worker retries when the pod or the referenced objects change. */
  readonly transient = false;
  constructor(
    readonly reason: 'CreateContainerConfigError' | 'CreateContainerError',
    message: string,
  ) {
    super(message);
    this.name = 'ContainerConfigError';
  }
}

export function isContainerConfigError(err: unknown): err is ContainerConfigError {
  return isObject(err) && (err as { code?: unknown }).code === 'ContainerConfigError';
}

export function configError(message: string): ContainerConfigError {
  return new ContainerConfigError('CreateContainerConfigError', message);
}

/** What runc and containerd put in PATH when the image sets none. */
export const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// ---- small readers for the loosely typed pod spec ----

export function rec(v: unknown): Record<string, unknown> {
  return isObject(v) ? v : {};
}
export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
export function strList(v: unknown): string[] {
  return list(v).filter((x): x is string => typeof x === 'string');
}
export function podSpec(pod: KubeObject): Record<string, unknown> {
  return rec(pod.spec);
}

// ---- $(VAR) expansion (Kubernetes third_party/forked/golang/expansion semantics) ----

/**
 * Expands `$(NAME)` with lookup(NAME); an unknown name stays `$(NAME)`. `$$` is an escaped `$` (so
 * `$$(NAME)` gives the literal `$(NAME)`), an unclosed `$(` and a `$` before any other character stay as
 * written.
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += '$(';
        i += 2;
      } else {
        const name = input.slice(i + 2, close);
        out += lookup(name) ?? `$(${name})`;
        i = close + 1;
      }
    } else {
      out += `$${next}`;
      i += 2;
    }
  }
  return out;
}

/** Upstream IsEnvVarName: letters, digits, `_`, `-`, `.`, not starting with a digit. */
export function isEnvVarName(name: string): boolean {
  return /^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(name);
}

// ---- ConfigMap and Secret contents ----

/** A Secret's values: base64-decoded `data`, then `stringData` (which wins, as the API server merges it). */
export function secretValues(secret: KubeObject): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(rec(secret['data'])))
    if (typeof v === 'string') out.set(k, Buffer.from(v, 'base64'));
  for (const [k, v] of Object.entries(rec(secret['stringData'])))
    if (typeof v === 'string') out.set(k, Buffer.from(v, 'utf8'));
  return out;
}

/** A ConfigMap's `data` (text). */
export function configMapText(cm: KubeObject): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(rec(cm['data']))) if (typeof v === 'string') out.set(k, v);
  return out;
}

function sortedEntries<V>(m: Map<string, V>): [string, V][] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Caches ConfigMap/Secret lookups for one pass, as the kubelet does per container. */
class ObjectCache {
  private readonly cms = new Map<string, KubeObject | undefined>();
  private readonly secrets = new Map<string, KubeObject | undefined>();
  constructor(
    private readonly lookup: ObjectLookup,
    private readonly namespace: string,
  ) {}
  async configMap(name: string): Promise<KubeObject | undefined> {
    if (!this.cms.has(name)) this.cms.set(name, await this.lookup.configMap(this.namespace, name));
    return this.cms.get(name);
  }
  async secret(name: string): Promise<KubeObject | undefined> {
    if (!this.secrets.has(name)) this.secrets.set(name, await this.lookup.secret(this.namespace, name));
    return this.secrets.get(name);
  }
}

// ---- downward API ----

/** `key="value"` lines, sorted by key, values quoted like Go's %q (upstream FormatMap). */
export function formatMap(m: Record<string, unknown>): string {
  return Object.keys(m)
    .sort()
    .map((k) => `${k}=${JSON.stringify(String(m[k]))}`)
    .join('\n');
}

/** The value of a downward API fieldRef, or undefined for a path that is not supported. */
export function podFieldValue(ctx: PodContext, fieldPath: string): string | undefined {
  const meta = ctx.pod.metadata;
  const spec = podSpec(ctx.pod);
  const subscript = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
  if (subscript !== null) {
    const m = (subscript[1] === 'labels' ? meta.labels : meta.annotations) ?? {};
    return m[subscript[2] ?? ''] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'metadata.labels':
      return formatMap(meta.labels ?? {});
    case 'metadata.annotations':
      return formatMap(meta.annotations ?? {});
    case 'spec.nodeName':
      return str(spec['nodeName']) ?? ctx.nodeName;
    case 'spec.serviceAccountName':
      return str(spec['serviceAccountName']) ?? '';
    case 'status.hostIP':
      return ctx.hostIP;
    case 'status.hostIPs':
      return ctx.hostIP;
    case 'status.podIP':
      return ctx.podIPs[0] ?? '';
    case 'status.podIPs':
      return ctx.podIPs.join(',');
    default:
      return undefined;
  }
}

function nodeAllocatable(ctx: PodContext): {
  cpuMilli: number;
  memoryBytes: number;
  ephemeralStorageBytes?: number;
} {
  return ctx.nodeAllocatable ?? { cpuMilli: cpus().length * 1000, memoryBytes: totalmem() };
}

function findContainer(pod: KubeObject, name: string): Record<string, unknown> | undefined {
  const spec = podSpec(pod);
  for (const field of ['containers', 'initContainers']) {
    for (const c of list(spec[field])) if (isObject(c) && c['name'] === name) return c;
  }
  return undefined;
}

/**
 * A resourceFieldRef value as upstream computes it: limits default to the node's allocatable, requests
 * default to the limit (API defaulting) or 0; the result is divided by the divisor and rounded up.
 */
export function resourceFieldValue(
  ctx: PodContext,
  container: Record<string, unknown>,
  ref: Record<string, unknown>,
): string {
  const resource = str(ref['resource']) ?? '';
  const owner = str(ref['containerName']);
  const c = owner !== undefined && owner !== '' ? findContainer(ctx.pod, owner) : container;
  if (c === undefined) throw configError(`container ${owner ?? ''} not found in pod`);
  const m = /^(limits|requests)\.(cpu|memory|ephemeral-storage)$/.exec(resource);
  if (m === null) throw configError(`unsupported container resource : ${resource}`);
  const kind = m[1] as 'limits' | 'requests';
  const name = m[2] as 'cpu' | 'memory' | 'ephemeral-storage';
  const resources = rec(c['resources']);
  const limit = rec(resources['limits'])[name];
  const request = rec(resources['requests'])[name];
  const alloc = nodeAllocatable(ctx);
  const rawDivisor = ref['divisor'];
  const divisor = typeof rawDivisor === 'string' || typeof rawDivisor === 'number' ? rawDivisor : '1';
  const given = kind === 'limits' ? limit : (request ?? limit);
  if (name === 'cpu') {
    let milli: number;
    if (typeof given === 'string' || typeof given === 'number') milli = quantityToMillis(given);
    else milli = kind === 'limits' ? alloc.cpuMilli : 0;
    const d = quantityToMillis(divisor);
    return String(Math.ceil(milli / (d === 0 ? 1 : d)));
  }
  let value: number;
  if (typeof given === 'string' || typeof given === 'number') value = quantityValue(given);
  else if (kind === 'requests') value = 0;
  else value = name === 'memory' ? alloc.memoryBytes : (alloc.ephemeralStorageBytes ?? 0);
  const d = quantityValue(parseQuantity(divisor));
  return String(Math.ceil(value / (d === 0 ? 1 : d)));
}

// ---- the environment ----

export interface BuiltEnv {
  /** `NAME=value` for the runtime: PATH default, HOSTNAME, image Env, then the pod's env (later wins). */
  env: string[];
  /** The pod-defined (and service) variables, as the kubelet uses them to expand command, args and subPathExpr. */
  podVars: Map<string, string>;
}

function optional(ref: Record<string, unknown>): boolean {
  return ref['optional'] === true;
}

/** Builds a container's environment. Throws ContainerConfigError with upstream's messages. */
export async function buildEnv(args: {
  ctx: PodContext;
  container: Record<string, unknown>;
  image: ImageInfo;
  hostname: string;
  lookup: ObjectLookup;
}): Promise<BuiltEnv> {
  const { ctx, container, image } = args;
  const ns = ctx.pod.metadata.namespace ?? 'default';
  const cache = new ObjectCache(args.lookup, ns);
  const vars = new Map<string, string>();
  // Service links: `$(WEB_SERVICE_HOST)` expands in env values; explicit env and envFrom win.
  let svcVars = new Map<string, string>();
  if (ctx.services !== undefined) {
    const services = ctx.services();
    // Upstream's words; the worker retries shortly (the Service cache syncs at agent start).
    if (services === undefined)
      throw configError('services have not yet been read at least once, cannot construct envvars');
    svcVars = serviceEnv(ctx.pod, services);
  }

  for (const raw of list(container['envFrom'])) {
    const from = rec(raw);
    const prefix = str(from['prefix']) ?? '';
    const cmRef = isObject(from['configMapRef']) ? from['configMapRef'] : undefined;
    const secretRef = isObject(from['secretRef']) ? from['secretRef'] : undefined;
    if (cmRef !== undefined) {
      const name = str(cmRef['name']) ?? '';
      const cm = await cache.configMap(name);
      if (cm === undefined) {
        if (optional(cmRef)) continue;
        throw configError(`configmap "${name}" not found`);
      }
      for (const [k, v] of sortedEntries(configMapText(cm))) {
        const key = prefix + k;
        if (isEnvVarName(key)) vars.set(key, v);
      }
    } else if (secretRef !== undefined) {
      const name = str(secretRef['name']) ?? '';
      const secret = await cache.secret(name);
      if (secret === undefined) {
        if (optional(secretRef)) continue;
        throw configError(`secret "${name}" not found`);
      }
      for (const [k, v] of sortedEntries(secretValues(secret))) {
        const key = prefix + k;
        if (isEnvVarName(key)) vars.set(key, v.toString('utf8'));
      }
    }
  }

  for (const raw of list(container['env'])) {
    const e = rec(raw);
    const name = str(e['name']);
    if (name === undefined || name === '') continue;
    const valueFrom = isObject(e['valueFrom']) ? e['valueFrom'] : undefined;
    if (valueFrom === undefined) {
      vars.set(
        name,
        expandVars(str(e['value']) ?? '', (n) => vars.get(n) ?? svcVars.get(n)),
      );
      continue;
    }
    const value = await valueFromSource(ctx, container, valueFrom, cache, ns);
    if (value !== undefined) vars.set(name, value);
  }

  const env = new Map<string, string>();
  const imageEnv = strList(image.config.Env);
  if (!imageEnv.some((kv) => kv.startsWith('PATH='))) env.set('PATH', defaultPath);
  env.set('HOSTNAME', args.hostname);
  for (const kv of imageEnv) {
    const eq = kv.indexOf('=');
    if (eq > 0) env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  for (const [k, v] of svcVars) if (!vars.has(k)) env.set(k, v);
  for (const [k, v] of vars) env.set(k, v);
  // Service variables also expand in command, args and subPathExpr, as upstream's container env does.
  for (const [k, v] of svcVars) if (!vars.has(k)) vars.set(k, v);
  return { env: [...env].map(([k, v]) => `${k}=${v}`), podVars: vars };
}

/** One env[].valueFrom; undefined = skip the variable (an optional source that is missing). */
async function valueFromSource(
  ctx: PodContext,
  container: Record<string, unknown>,
  valueFrom: Record<string, unknown>,
  cache: ObjectCache,
  ns: string,
): Promise<string | undefined> {
  if (isObject(valueFrom['configMapKeyRef'])) {
    const ref = valueFrom['configMapKeyRef'];
    const name = str(ref['name']) ?? '';
    const key = str(ref['key']) ?? '';
    const cm = await cache.configMap(name);
    if (cm === undefined) {
      if (optional(ref)) return undefined;
      throw configError(`configmap "${name}" not found`);
    }
    const v = configMapText(cm).get(key);
    if (v === undefined) {
      if (optional(ref)) return undefined;
      throw configError(`couldn't find key ${key} in ConfigMap ${ns}/${name}`);
    }
    return v;
  }
  if (isObject(valueFrom['secretKeyRef'])) {
    const ref = valueFrom['secretKeyRef'];
    const name = str(ref['name']) ?? '';
    const key = str(ref['key']) ?? '';
    const secret = await cache.secret(name);
    if (secret === undefined) {
      if (optional(ref)) return undefined;
      throw configError(`secret "${name}" not found`);
    }
    const v = secretValues(secret).get(key);
    if (v === undefined) {
      if (optional(ref)) return undefined;
      throw configError(`couldn't find key ${key} in Secret ${ns}/${name}`);
    }
    return v.toString('utf8');
  }
  if (isObject(valueFrom['fieldRef'])) {
    const path = str(valueFrom['fieldRef']['fieldPath']) ?? '';
    const v = podFieldValue(ctx, path);
    if (v === undefined) throw configError(`unsupported fieldPath: ${path}`);
    return v;
  }
  if (isObject(valueFrom['resourceFieldRef'])) {
    return resourceFieldValue(ctx, container, valueFrom['resourceFieldRef']);
  }
  throw configError('env valueFrom has no supported source');
}
