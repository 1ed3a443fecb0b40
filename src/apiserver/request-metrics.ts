// What a request is, in the terms of kube-apiserver's request metrics: the verb (GET, LIST, WATCH, POST,
// PUT, PATCH, APPLY, DELETE, DELETECOLLECTION, CONNECT), group, resource and subresource, and whether it
// is long-running (kept out of the latency histogram and the in-flight gauge) or mutating.
//
// Pure: the labels come from the method, path, query and Content-Type alone, before the request is
// served. Paths that are not a known resource get resource "" (as non-resource paths such as /healthz do),
// so arbitrary URLs cannot grow the number of series.
import type { RequestLabels } from '../machinery/prom/index.js';
import { parseResourcePath } from './paths.js';

export interface RequestMetricInfo {
  labels: RequestLabels;
  longRunning: boolean;
  mutating: boolean;
}

const methods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const connectSubresources = new Set(['exec', 'attach', 'portforward', 'proxy']);
const longRunningSubresources = new Set(['log', ...connectSubresources]);
const metricsGroupPrefix = '/apis/metrics.k8s.io/';

function isTrue(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === 'true' || v === '1';
}

export function requestMetricInfo(
  method: string,
  pathname: string,
  query: URLSearchParams,
  contentType: string | undefined,
): RequestMetricInfo {
  const m = method.toUpperCase();
  const mutating = !(m === 'GET' || m === 'HEAD' || m === 'OPTIONS');
  const plainVerb = methods.has(m) ? m : 'OTHER';
  const other: RequestMetricInfo = {
    labels: { verb: plainVerb, group: '', resource: '', subresource: '' },
    longRunning: false,
    mutating,
  };
  if (pathname.startsWith(metricsGroupPrefix)) {
    // metrics.k8s.io: .../nodes[/{name}], .../pods, .../namespaces/{ns}/pods[/{name}]
    const parts = pathname
      .slice(metricsGroupPrefix.length)
      .split('/')
      .filter((p) => p !== '');
    const resource = parts[1] === 'namespaces' ? parts[3] : parts[1];
    const named = parts[1] === 'namespaces' ? parts[4] !== undefined : parts[2] !== undefined;
    if (resource !== 'nodes' && resource !== 'pods') return other;
    return {
      labels: {
        verb: m === 'GET' ? (named ? 'GET' : 'LIST') : plainVerb,
        group: 'metrics.k8s.io',
        resource,
        subresource: '',
      },
      longRunning: false,
      mutating,
    };
  }
  let parsed: ReturnType<typeof parseResourcePath>;
  try {
    parsed = parseResourcePath(pathname);
  } catch {
    return other;
  }
  if (parsed.kind !== 'resource') return other;
  const p = parsed.path;
  const sub = p.subresource ?? '';
  let verb = plainVerb;
  if (connectSubresources.has(sub)) verb = 'CONNECT';
  else if (m === 'GET') {
    if (p.legacyWatch || isTrue(query, 'watch')) verb = 'WATCH';
    else verb = p.name === undefined ? 'LIST' : 'GET';
  } else if (m === 'PATCH' && (contentType ?? '').split(';')[0]?.trim() === 'application/apply-patch+yaml')
    verb = 'APPLY';
  else if (m === 'DELETE' && p.name === undefined) verb = 'DELETECOLLECTION';
  return {
    labels: { verb, group: p.info.group, resource: p.info.resource, subresource: sub },
    longRunning: verb === 'WATCH' || verb === 'CONNECT' || longRunningSubresources.has(sub),
    mutating,
  };
}
