// The API server's own metrics, named as kube-apiserver names them where it has them.
import { counter, gauge, histogram, type MetricsRegistry } from './registry.js';

/** kube-apiserver's buckets for request and storage latency, seconds. */
const latencyBuckets = [
  0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60,
];

/** What one request was, for its metric labels (see apiserver/request-metrics.ts). */
export interface RequestLabels {
  /** Upstream's verb: GET, LIST, WATCH, POST, PUT, PATCH, APPLY, DELETE, DELETECOLLECTION, CONNECT. */
  verb: string;
  /** API group ('' for core and for non-resource paths). */
  group: string;
  /** Resource ('' for non-resource paths such as /healthz or /metrics). */
  resource: string;
  subresource: string;
}

/** Store operations timed by the API server's store decorator. */
export type StoreOperation =
  'get' | 'list' | 'count' | 'create' | 'update' | 'delete' | 'watch-start' | 'compact';

export interface ApiServerMetrics {
  /**
   * A request came in. Call the returned function once it finished, with its HTTP status code.
   * Long-running requests (watches, logs, exec, proxy) are counted but kept out of the latency
   * histogram and the in-flight gauge, as upstream does; they show in `apiserver_longrunning_requests`.
   */
  requestStarted(labels: RequestLabels, longRunning: boolean, mutating: boolean): (code: number) => void;
  /** One Store call took `seconds` (successful or not). */
  storeOperation(operation: StoreOperation, seconds: number): void;
}

/** The API server's recorder on `reg` (get-or-create: a second call shares the metrics). */
export function apiServerMetrics(
  reg: MetricsRegistry,
  now: () => number = () => performance.now(),
): ApiServerMetrics {
  const requests = counter(
    reg,
    'apiserver_request_total',
    'Counter of apiserver requests broken out for each verb, group, resource, subresource and HTTP response code.',
    ['verb', 'group', 'resource', 'subresource', 'code'],
  );
  const latency = histogram(
    reg,
    'apiserver_request_duration_seconds',
    'Response latency distribution in seconds for each verb, group, resource and subresource (long-running requests excluded).',
    ['verb', 'group', 'resource', 'subresource'],
    latencyBuckets,
  );
  const inflight = gauge(
    reg,
    'apiserver_current_inflight_requests',
    'Number of requests in flight, by kind (readOnly or mutating); long-running requests excluded.',
    ['request_kind'],
  );
  const longRunning = gauge(
    reg,
    'apiserver_longrunning_requests',
    'Number of long-running requests (watches, logs, exec, proxy) open now, by verb, group and resource.',
    ['verb', 'group', 'resource', 'subresource'],
  );
  const store = histogram(
    reg,
    'flotilla_store_operation_duration_seconds',
    'Latency of Store calls made by the API server, seconds, by operation.',
    ['operation'],
    latencyBuckets,
  );
  // Both kinds show from the start, at 0, so a dashboard has a series before the first request.
  inflight.set({ request_kind: 'readOnly' }, 0);
  inflight.set({ request_kind: 'mutating' }, 0);
  return {
    requestStarted(labels, isLongRunning, mutating) {
      const t0 = now();
      const kind = mutating ? 'mutating' : 'readOnly';
      if (isLongRunning) longRunning.inc(labels);
      else inflight.inc({ request_kind: kind });
      let finished = false;
      return (code) => {
        if (finished) return;
        finished = true;
        requests.inc({ ...labels, code: String(code) });
        if (isLongRunning) {
          longRunning.dec(labels);
          return;
        }
        inflight.dec({ request_kind: kind });
        latency.observe(labels, (now() - t0) / 1000);
      };
    },
    storeOperation(operation, seconds) {
      store.observe({ operation }, seconds);
    },
  };
}
