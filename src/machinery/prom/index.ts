// Prometheus metrics for Flotilla's processes: a registry per API server or agent, and typed recorders
// so the code that records never touches prom-client.
export { MetricsRegistry, newMetricsRegistry, type MetricsRegistryOptions } from './registry.js';
export {
  apiServerMetrics,
  type ApiServerMetrics,
  type RequestLabels,
  type StoreOperation,
} from './apiserver.js';
export { workQueueMetrics } from './workqueue.js';
export { agentMetrics, type AgentMetrics, type ImagePullResult } from './agent.js';
export { proxyMetrics, type ProxySyncRecorder, type ProxySyncResult } from './proxy.js';
