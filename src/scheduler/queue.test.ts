import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/types.js';
import { VirtualClock } from '../testkit/clock.js';
import { isSchedulingRelevantUpdate, SchedulingQueue, type QueuedPod } from './queue.js';

function pod(name: string, opts: { priority?: number; labels?: Record<string, string> } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      ...(opts.labels ? { labels: opts.labels } : {}),
    },
    spec: {
      containers: [{ name: 'c', image: 'busybox' }],
      ...(opts.priority === undefined ? {} : { priority: opts.priority }),
    },
  };
}

function setup(): { clock: VirtualClock; q: SchedulingQueue } {
  const clock = new VirtualClock();
  return { clock, q: new SchedulingQueue({ clock }) };
}

function popNow(q: SchedulingQueue): QueuedPod {
  const info = q.tryPop();
  if (info === undefined) throw new Error('queue empty');
  return info;
}

function names(q: SchedulingQueue): string[] {
  const out: string[] = [];
  for (let info = q.tryPop(); info !== undefined; info = q.tryPop()) {
    out.push(info.pod.metadata.name ?? '');
    q.done(info.key);
  }
  return out;
}

describe('SchedulingQueue ordering', () => {
  it('pops higher priority first, then oldest first', async () => {
    const { clock, q } = setup();
    q.add(pod('low-old', { priority: 0 }));
    await clock.advance(10);
    q.add(pod('high', { priority: 1000 }));
    await clock.advance(10);
    q.add(pod('low-new', { priority: 0 }));
    q.add(pod('low-newer', { priority: 0 }));
    q.add(pod('negative', { priority: -5 }));
    expect(names(q)).toEqual(['high', 'low-old', 'low-new', 'low-newer', 'negative']);
  });

  it('keeps first-in first-out order for many equal pods', () => {
    const { q } = setup();
    const all = Array.from({ length: 50 }, (_, i) => `p${i}`);
    for (const n of all) q.add(pod(n));
    expect(names(q)).toEqual(all);
  });

  it('an update that raises priority moves the pod forward', () => {
    const { q } = setup();
    q.add(pod('a'));
    q.add(pod('b'));
    q.update(pod('b', { priority: 10 }));
    expect(names(q)).toEqual(['b', 'a']);
  });

  it('adding a pod twice keeps one copy, the newer one', () => {
    const { q } = setup();
    q.add(pod('a'));
    q.add(pod('a', { labels: { v: '2' } }));
    const info = popNow(q);
    expect(info.pod.metadata.labels).toEqual({ v: '2' });
    expect(q.tryPop()).toBeUndefined();
  });

  it('pop waits for a pod and resolves undefined on close or abort', async () => {
    const { q } = setup();
    const waiting = q.pop();
    q.add(pod('late'));
    expect((await waiting)?.pod.metadata.name).toBe('late');

    const ac = new AbortController();
    const aborted = q.pop(ac.signal);
    ac.abort();
    expect(await aborted).toBeUndefined();

    const closing = q.pop();
    q.close();
    expect(await closing).toBeUndefined();
    q.add(pod('after-close'));
    expect(await q.pop()).toBeUndefined();
  });
});

describe('SchedulingQueue back-off', () => {
  it('doubles from 1 s to a 10 s cap', () => {
    const { q } = setup();
    expect([1, 2, 3, 4, 5, 6].map((n) => q.backoffDuration(n))).toEqual([
      1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
  });

  it('a failed bind comes back after its back-off, not before', async () => {
    const { clock, q } = setup();
    q.add(pod('a'));
    const first = popNow(q);
    q.requeueBackoff(first);
    expect(q.locate('default/a')).toBe('backoff');
    await clock.advance(999);
    expect(q.tryPop()).toBeUndefined();
    await clock.advance(1);
    const second = popNow(q);
    expect(second.attempts).toBe(2);
    q.requeueBackoff(second);
    await clock.advance(1999);
    expect(q.locate('default/a')).toBe('backoff');
    await clock.advance(1);
    expect(q.locate('default/a')).toBe('active');
  });

  it('a waiting pop gets the pod when its back-off ends', async () => {
    const { clock, q } = setup();
    q.add(pod('a'));
    q.requeueBackoff(popNow(q));
    const waiting = q.pop();
    await clock.advance(1000);
    expect((await waiting)?.attempts).toBe(2);
  });
});

describe('SchedulingQueue unschedulable pods', () => {
  it('parks an unschedulable pod until a cluster event moves it', async () => {
    const { clock, q } = setup();
    q.add(pod('a'));
    q.requeueUnschedulable(popNow(q));
    expect(q.locate('default/a')).toBe('unschedulable');
    await clock.advance(5000);
    expect(q.locate('default/a')).toBe('unschedulable');
    expect(q.moveAllToActiveOrBackoff()).toBe(1);
    // The back-off (1 s after one attempt) is long over: straight to activeQ.
    expect(q.locate('default/a')).toBe('active');
  });

  it('an event right after the failure sends the pod through back-off', async () => {
    const { clock, q } = setup();
    q.add(pod('a'));
    q.requeueUnschedulable(popNow(q));
    await clock.advance(200);
    q.moveAllToActiveOrBackoff();
    expect(q.locate('default/a')).toBe('backoff');
    await clock.advance(800);
    expect(q.locate('default/a')).toBe('active');
  });

  it('an idle scheduler takes a backing-off pod at once; a busy one serves activeQ first (KEP-5142)', async () => {
    const { clock, q } = setup();
    q.add(pod('a'));
    q.requeueUnschedulable(popNow(q));
    await clock.advance(200);
    q.moveAllToActiveOrBackoff(); // e.g. a pod on the node was deleted: room again
    expect(q.locate('default/a')).toBe('backoff');
    // activeQ is empty: no need to wait out the 800 ms left.
    const again = popNow(q);
    expect(again.pod.metadata.name).toBe('a');
    expect(again.attempts).toBe(2);
    q.requeueUnschedulable(again);
    q.add(pod('b'));
    q.moveAllToActiveOrBackoff();
    expect(names(q)).toEqual(['b', 'a']);
  });

  it('a waiting pop is handed a pod moved to back-off by an event', async () => {
    const { clock, q } = setup();
    q.add(pod('a'));
    q.requeueUnschedulable(popNow(q));
    const waiting = q.pop();
    await clock.advance(100);
    q.moveAllToActiveOrBackoff();
    expect((await waiting)?.pod.metadata.name).toBe('a');
  });

  it('without popFromBackoffWhenIdle, and after an error, a pod waits its whole back-off', async () => {
    const clock = new VirtualClock();
    const strict = new SchedulingQueue({ clock, popFromBackoffWhenIdle: false });
    strict.add(pod('a'));
    strict.requeueUnschedulable(popNow(strict));
    await clock.advance(200);
    strict.moveAllToActiveOrBackoff();
    expect(strict.tryPop()).toBeUndefined();
    await clock.advance(800);
    expect(popNow(strict).attempts).toBe(2);
    // A failed bind (an error, not a fit failure) backs off in full even in an idle default queue.
    const { q } = setup();
    q.add(pod('b'));
    q.requeueBackoff(popNow(q));
    expect(q.tryPop()).toBeUndefined();
  });

  it('an event during the attempt means the failure is not parked', () => {
    const { q } = setup();
    q.add(pod('a'));
    const info = popNow(q);
    q.moveAllToActiveOrBackoff(); // e.g. a node was added while pod a was being scheduled
    q.requeueUnschedulable(info);
    expect(q.locate('default/a')).toBe('backoff');
  });

  it('an event before the attempt does not keep a later failure out of parking', () => {
    const { q } = setup();
    q.add(pod('a'));
    q.moveAllToActiveOrBackoff();
    q.requeueUnschedulable(popNow(q));
    expect(q.locate('default/a')).toBe('unschedulable');
  });

  it('a filter moves only the pods it accepts', () => {
    const { q } = setup();
    q.add(pod('a', { labels: { app: 'x' } }));
    q.add(pod('b'));
    q.requeueUnschedulable(popNow(q));
    q.requeueUnschedulable(popNow(q));
    q.moveAllToActiveOrBackoff((p) => p.metadata.labels?.['app'] === 'x');
    expect(q.locate('default/a')).not.toBe('unschedulable');
    expect(q.locate('default/b')).toBe('unschedulable');
  });

  it('retries a parked pod after 5 minutes without any event, as upstream does', async () => {
    const { clock, q } = setup();
    q.add(pod('a'));
    q.requeueUnschedulable(popNow(q));
    await clock.advance(299_999);
    expect(q.locate('default/a')).toBe('unschedulable');
    await clock.advance(1);
    expect(q.locate('default/a')).toBe('active');
  });

  it('a spec or label change moves a parked pod; a status write does not', async () => {
    const { clock, q } = setup();
    q.add(pod('a'));
    q.requeueUnschedulable(popNow(q));
    await clock.advance(5000);
    const withStatus: KubeObject = {
      ...pod('a'),
      status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] },
    };
    q.update(withStatus);
    expect(q.locate('default/a')).toBe('unschedulable');
    expect(q.get('default/a')?.pod.status).toEqual(withStatus.status);
    q.update(pod('a', { labels: { fixed: 'yes' } }));
    expect(q.locate('default/a')).toBe('active');
  });

  it('a relevant update during the attempt sends the failure to back-off', () => {
    const { q } = setup();
    q.add(pod('a'));
    const info = popNow(q);
    q.update(pod('a', { priority: 5 }));
    expect(info.pod.spec).toMatchObject({ priority: 5 });
    q.requeueUnschedulable(info);
    expect(q.locate('default/a')).toBe('backoff');
  });
});

describe('SchedulingQueue deletes', () => {
  it('removes a deleted pod from every queue', () => {
    const { q } = setup();
    q.add(pod('parked'));
    q.add(pod('backoff'));
    q.add(pod('active'));
    q.requeueUnschedulable(popNow(q));
    q.requeueBackoff(popNow(q));
    expect(['parked', 'backoff', 'active'].map((n) => q.locate(`default/${n}`))).toEqual([
      'unschedulable',
      'backoff',
      'active',
    ]);
    for (const n of ['active', 'parked', 'backoff']) q.delete(pod(n));
    expect(q.stats()).toEqual({ active: 0, backoff: 0, unschedulable: 0, inFlight: 0 });
  });

  it('a pod deleted while in flight is not requeued', () => {
    const { q } = setup();
    q.add(pod('a'));
    const info = popNow(q);
    q.delete('default/a');
    q.requeueUnschedulable(info);
    expect(q.locate('default/a')).toBeUndefined();
    q.add(pod('b'));
    const b = popNow(q);
    q.delete(pod('b'));
    q.requeueBackoff(b);
    expect(q.locate('default/b')).toBeUndefined();
  });

  it('close cancels its timers', async () => {
    const { clock, q } = setup();
    q.add(pod('a'));
    q.requeueUnschedulable(popNow(q));
    expect(clock.pendingTimers()).toBe(1);
    q.close();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('isSchedulingRelevantUpdate', () => {
  it.each([
    ['resourceVersion only', { metadata: { resourceVersion: '9' } }, false],
    ['status only', { status: { phase: 'Pending' } }, false],
    ['labels', { metadata: { labels: { a: 'b' } } }, true],
    ['annotations', { metadata: { annotations: { a: 'b' } } }, true],
    ['spec', { spec: { containers: [], nodeSelector: { disk: 'ssd' } } }, true],
  ])('%s → %s', (_name, change, relevant) => {
    const base = pod('a');
    const changed: KubeObject = {
      ...base,
      ...change,
      metadata: { ...base.metadata, ...(change as { metadata?: object }).metadata },
    };
    expect(isSchedulingRelevantUpdate(base, changed)).toBe(relevant);
  });
});
