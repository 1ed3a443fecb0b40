import { describe, expect, it } from 'vitest';
import { VirtualClock, settle } from '../../testkit/clock.js';
import { Controller } from '../controller.js';
import { WorkQueue, withWorkQueueMetrics } from '../workqueue.js';
import {
  agentMetrics,
  apiServerMetrics,
  newMetricsRegistry,
  proxyMetrics,
  workQueueMetrics,
} from './index.js';
import { parseSamples, sampleValue } from '../../testkit/prometheus.js';

describe('metrics registry', () => {
  it("keeps each registry's figures apart and adds the process metrics to each", async () => {
    const a = newMetricsRegistry();
    const b = newMetricsRegistry();
    apiServerMetrics(a).requestStarted(
      { verb: 'LIST', group: '', resource: 'pods', subresource: '' },
      false,
      false,
    )(200);
    const textA = await a.text();
    const textB = await b.text();
    const listed = { verb: 'LIST', resource: 'pods', code: '200' };
    expect(sampleValue(textA, 'apiserver_request_total', listed)).toBe(1);
    expect(sampleValue(textB, 'apiserver_request_total', listed)).toBeUndefined();
    for (const text of [textA, textB]) {
      expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
      expect(text).toContain('nodejs_heap_size_used_bytes');
    }
    expect(a.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('can leave the process metrics out, and shares metrics when a recorder is made twice', async () => {
    const reg = newMetricsRegistry({ processMetrics: false });
    proxyMetrics(reg).synced('success', 5);
    proxyMetrics(reg).synced('failure', 2000);
    const text = await reg.text();
    expect(text).not.toContain('process_cpu');
    expect(sampleValue(text, 'flotilla_proxy_syncs_total', { result: 'success' })).toBe(1);
    expect(sampleValue(text, 'flotilla_proxy_syncs_total', { result: 'failure' })).toBe(1);
    expect(sampleValue(text, 'flotilla_proxy_sync_duration_seconds_count')).toBe(2);
    expect(sampleValue(text, 'flotilla_proxy_sync_duration_seconds_bucket', { le: '0.008' })).toBe(1);
    expect(sampleValue(text, 'flotilla_proxy_sync_duration_seconds_sum')).toBeCloseTo(2.005);
  });

  it('keeps long-running requests out of the latency histogram and the in-flight gauge', async () => {
    const reg = newMetricsRegistry({ processMetrics: false });
    let t = 0;
    const m = apiServerMetrics(reg, () => t);
    const watch = { verb: 'WATCH', group: 'apps', resource: 'deployments', subresource: '' };
    const get = { verb: 'GET', group: 'apps', resource: 'deployments', subresource: '' };
    const endWatch = m.requestStarted(watch, true, false);
    const endGet = m.requestStarted(get, false, false);
    const endPut = m.requestStarted({ ...get, verb: 'PUT' }, false, true);
    let text = await reg.text();
    expect(sampleValue(text, 'apiserver_current_inflight_requests', { request_kind: 'readOnly' })).toBe(1);
    expect(sampleValue(text, 'apiserver_current_inflight_requests', { request_kind: 'mutating' })).toBe(1);
    expect(sampleValue(text, 'apiserver_longrunning_requests', { verb: 'WATCH' })).toBe(1);
    t = 300;
    endGet(200);
    endGet(200); // a second call is ignored
    endPut(409);
    endWatch(200);
    text = await reg.text();
    expect(sampleValue(text, 'apiserver_current_inflight_requests', { request_kind: 'readOnly' })).toBe(0);
    expect(sampleValue(text, 'apiserver_current_inflight_requests', { request_kind: 'mutating' })).toBe(0);
    expect(sampleValue(text, 'apiserver_longrunning_requests', { verb: 'WATCH' })).toBe(0);
    expect(sampleValue(text, 'apiserver_request_total', { verb: 'GET', code: '200' })).toBe(1);
    expect(sampleValue(text, 'apiserver_request_total', { verb: 'PUT', code: '409' })).toBe(1);
    expect(sampleValue(text, 'apiserver_request_total', { verb: 'WATCH', code: '200' })).toBe(1);
    expect(sampleValue(text, 'apiserver_request_duration_seconds_bucket', { verb: 'GET', le: '0.4' })).toBe(
      1,
    );
    expect(sampleValue(text, 'apiserver_request_duration_seconds_bucket', { verb: 'GET', le: '0.2' })).toBe(
      0,
    );
    expect(
      parseSamples(text).filter(
        (s) => s.name.startsWith('apiserver_request_duration') && s.labels.verb === 'WATCH',
      ),
    ).toEqual([]);
  });

  it('records agent pod starts, image pulls and running pods', async () => {
    const reg = newMetricsRegistry({ processMetrics: false });
    const m = agentMetrics(reg);
    let running = 2;
    m.runningPods(() => running);
    m.podStarted(2500);
    m.imagePulled('success', 800);
    m.imagePulled('failure', 50);
    let text = await reg.text();
    expect(sampleValue(text, 'flotilla_agent_pods_started_total')).toBe(1);
    expect(sampleValue(text, 'flotilla_agent_pod_start_duration_seconds_bucket', { le: '3' })).toBe(1);
    expect(sampleValue(text, 'flotilla_agent_pod_start_duration_seconds_bucket', { le: '2' })).toBe(0);
    expect(sampleValue(text, 'flotilla_agent_image_pulls_total', { result: 'success' })).toBe(1);
    expect(sampleValue(text, 'flotilla_agent_image_pulls_total', { result: 'failure' })).toBe(1);
    expect(sampleValue(text, 'flotilla_agent_image_pull_duration_seconds_count', { result: 'success' })).toBe(
      1,
    );
    expect(sampleValue(text, 'flotilla_agent_running_pods')).toBe(2);
    running = 5; // read at scrape time
    text = await reg.text();
    expect(sampleValue(text, 'flotilla_agent_running_pods')).toBe(5);
  });
});

describe('workqueue metrics', () => {
  it("follow client-go: depth, adds, queue and work latency on the queue's clock, retries", async () => {
    const reg = newMetricsRegistry({ processMetrics: false });
    const clock = new VirtualClock(0);
    const q = new WorkQueue({ clock, name: 'things', metrics: workQueueMetrics(reg) });
    const value = async (name: string) => sampleValue(await reg.text(), name, { name: 'things' });
    expect(await value('workqueue_depth')).toBe(0);
    q.add('a');
    q.add('b');
    q.add('a'); // deduped: not an add
    expect(await value('workqueue_depth')).toBe(2);
    expect(await value('workqueue_adds_total')).toBe(2);
    await clock.advance(2000);
    expect(await q.get()).toBe('a');
    expect(await value('workqueue_depth')).toBe(1);
    await clock.advance(500);
    q.done('a');
    q.addRateLimited('a');
    expect(await value('workqueue_retries_total')).toBe(1);
    const text = await reg.text();
    const labels = { name: 'things' };
    expect(sampleValue(text, 'workqueue_queue_duration_seconds_count', labels)).toBe(1);
    expect(sampleValue(text, 'workqueue_queue_duration_seconds_sum', labels)).toBe(2);
    expect(sampleValue(text, 'workqueue_work_duration_seconds_sum', labels)).toBe(0.5);
    q.shutDown(); // b was still queued
    expect(await value('workqueue_depth')).toBe(0);
  });

  it('instruments the queues of controllers built inside withWorkQueueMetrics, and only those', async () => {
    const reg = newMetricsRegistry({ processMetrics: false });
    const clock = new VirtualClock(0);
    const synced: string[] = [];
    const sync = async (key: string) => {
      synced.push(key);
    };
    const inside = withWorkQueueMetrics(
      workQueueMetrics(reg),
      () => new Controller({ name: 'inside', sync, clock }),
    );
    const outside = new Controller({ name: 'outside', sync, clock });
    inside.start();
    outside.start();
    inside.enqueue('k1');
    outside.enqueue('k2');
    await settle();
    expect(synced.sort()).toEqual(['k1', 'k2']);
    const text = await reg.text();
    expect(sampleValue(text, 'workqueue_adds_total', { name: 'inside' })).toBe(1);
    expect(sampleValue(text, 'workqueue_work_duration_seconds_count', { name: 'inside' })).toBe(1);
    expect(sampleValue(text, 'workqueue_adds_total', { name: 'outside' })).toBeUndefined();
    await inside.stop();
    await outside.stop();
  });
});
