// The Service proxy's metrics (kube-proxy's sync_proxy_rules, under Flotilla's names).
import { counter, histogram, type MetricsRegistry } from './registry.js';

/** kube-proxy: ExponentialBuckets(0.001, 2, 15), 1 ms to about 16 s. */
const syncBuckets = Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i);

export type ProxySyncResult = 'success' | 'failure';

export interface ProxySyncRecorder {
  /** One sync of the nftables rules ended after `ms` milliseconds. */
  synced(result: ProxySyncResult, ms: number): void;
}

/** The proxy's recorder on `reg` (get-or-create: a second call shares the metrics). */
export function proxyMetrics(reg: MetricsRegistry): ProxySyncRecorder {
  const duration = histogram(
    reg,
    'flotilla_proxy_sync_duration_seconds',
    'Seconds one sync of the Service proxy rules (nftables) took, successful or not.',
    [],
    syncBuckets,
  );
  const syncs = counter(reg, 'flotilla_proxy_syncs_total', 'Syncs of the Service proxy rules by result.', [
    'result',
  ]);
  syncs.inc({ result: 'success' }, 0);
  syncs.inc({ result: 'failure' }, 0);
  return {
    synced(result, ms) {
      syncs.inc({ result });
      duration.observe(ms / 1000);
    },
  };
}
