// client-go's workqueue metrics for machinery/workqueue.ts, same names and buckets.
import type { WorkQueueMetrics, WorkQueueMetricsProvider } from '../workqueue.js';
import { counter, gauge, histogram, type MetricsRegistry } from './registry.js';

/** client-go: ExponentialBuckets(10e-9, 10, 10), 10 ns to 10 s. */
const durationBuckets = Array.from({ length: 10 }, (_, i) => 1e-8 * 10 ** i);

/** Metrics for queues named by their controller (`name` label); pass to WorkQueue or withWorkQueueMetrics. */
export function workQueueMetrics(reg: MetricsRegistry): WorkQueueMetricsProvider {
  const depth = gauge(reg, 'workqueue_depth', 'Current depth of workqueue', ['name']);
  const adds = counter(reg, 'workqueue_adds_total', 'Total number of adds handled by workqueue', ['name']);
  const queueDuration = histogram(
    reg,
    'workqueue_queue_duration_seconds',
    'How long in seconds an item stays in workqueue before being requested.',
    ['name'],
    durationBuckets,
  );
  const workDuration = histogram(
    reg,
    'workqueue_work_duration_seconds',
    'How long in seconds processing an item from workqueue takes.',
    ['name'],
    durationBuckets,
  );
  const retries = counter(reg, 'workqueue_retries_total', 'Total number of retries handled by workqueue', [
    'name',
  ]);
  return (name: string): WorkQueueMetrics => {
    const labels = { name };
    // The series exist from the queue's start (at 0), as client-go's do.
    depth.set(labels, 0);
    adds.inc(labels, 0);
    retries.inc(labels, 0);
    return {
      added: () => {
        depth.inc(labels);
        adds.inc(labels);
      },
      started: (queuedMs) => {
        depth.dec(labels);
        queueDuration.observe(labels, queuedMs / 1000);
      },
      finished: (workMs) => workDuration.observe(labels, workMs / 1000),
      retried: () => retries.inc(labels),
      dropped: (count) => depth.dec(labels, count),
    };
  };
}
