// The node agent's metrics: pod starts, image pulls, running pods.
import { counter, gauge, histogram, type MetricsRegistry } from './registry.js';

/** The kubelet's buckets for pod start latency, seconds. */
const podStartBuckets = [
  0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700,
  3600,
];
/** The kubelet's buckets for image pull latency, seconds (plus finer ones: local registries are fast). */
const pullBuckets = [
  0.1, 0.25, 0.5, 1, 5, 10, 20, 30, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600,
];

export type ImagePullResult = 'success' | 'failure';

export interface AgentMetrics {
  /** A pod this agent started has every container started, `ms` after the agent first saw it. */
  podStarted(ms: number): void;
  /** An image pull ended after `ms`. */
  imagePulled(result: ImagePullResult, ms: number): void;
  /** Where `flotilla_agent_running_pods` is read at scrape time (the last one set wins). */
  runningPods(count: () => number): void;
}

/** The agent's recorder on `reg` (get-or-create: a second call shares the metrics). */
export function agentMetrics(reg: MetricsRegistry): AgentMetrics {
  let running: () => number = () => 0;
  const started = counter(
    reg,
    'flotilla_agent_pods_started_total',
    'Pods this agent started (every container started), since the agent started.',
  );
  const startDuration = histogram(
    reg,
    'flotilla_agent_pod_start_duration_seconds',
    'Seconds from the agent first seeing a pod to all of its containers started.',
    [],
    podStartBuckets,
  );
  const pulls = counter(reg, 'flotilla_agent_image_pulls_total', 'Image pulls by result.', ['result']);
  const pullDuration = histogram(
    reg,
    'flotilla_agent_image_pull_duration_seconds',
    'Seconds an image pull took, by result.',
    ['result'],
    pullBuckets,
  );
  gauge(
    reg,
    'flotilla_agent_running_pods',
    'Pods with at least one running container on this node.',
    [],
    (g) => g.set(running()),
  );
  pulls.inc({ result: 'success' }, 0);
  pulls.inc({ result: 'failure' }, 0);
  return {
    podStarted(ms) {
      started.inc();
      startDuration.observe(ms / 1000);
    },
    imagePulled(result, ms) {
      pulls.inc({ result });
      pullDuration.observe({ result }, ms / 1000);
    },
    runningPods(count) {
      running = count;
    },
  };
}
