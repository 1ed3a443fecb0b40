import { describe, expect, it } from 'vitest';
import { ApiError, errors } from '../api/errors.js';
import type { KubeObject } from '../api/types.js';
import { VirtualClock } from '../testkit/clock.js';
import { SinkEventRecorder, type EventRecorderOptions, type EventSink } from './event-recorder.js';
import { MemoryLogger } from './logger.js';

/** An in-memory events endpoint with resourceVersions, like the API server. */
class FakeSink implements EventSink {
  readonly stored = new Map<string, KubeObject>();
  readonly calls: { verb: 'create' | 'update'; namespace: string; name: string }[] = [];
  fail: ApiError | undefined;
  private rv = 0;

  async create(namespace: string, event: KubeObject): Promise<KubeObject> {
    const name = event.metadata.name ?? '';
    this.calls.push({ verb: 'create', namespace, name });
    if (this.fail !== undefined) throw this.fail;
    if (this.stored.has(`${namespace}/${name}`)) throw errors.alreadyExists('events', '', name);
    const saved = {
      ...event,
      metadata: { ...event.metadata, uid: `uid-${name}`, resourceVersion: String(++this.rv) },
    };
    this.stored.set(`${namespace}/${name}`, saved);
    return saved;
  }

  async update(namespace: string, event: KubeObject): Promise<KubeObject> {
    const name = event.metadata.name ?? '';
    this.calls.push({ verb: 'update', namespace, name });
    if (this.fail !== undefined) throw this.fail;
    const current = this.stored.get(`${namespace}/${name}`);
    if (current === undefined) throw errors.notFound('events', '', name);
    if (event.metadata.resourceVersion !== current.metadata.resourceVersion)
      throw errors.conflict('events', '', name);
    const saved = { ...event, metadata: { ...event.metadata, resourceVersion: String(++this.rv) } };
    this.stored.set(`${namespace}/${name}`, saved);
    return saved;
  }

  events(): KubeObject[] {
    return [...this.stored.values()];
  }
}

const pod: KubeObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'shop', uid: 'pod-uid', resourceVersion: '42' },
};
const node: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a', uid: 'node-uid' } };

function setup(extra: Partial<EventRecorderOptions> = {}): {
  clock: VirtualClock;
  sink: FakeSink;
  logger: MemoryLogger;
  recorder: SinkEventRecorder;
} {
  const clock = new VirtualClock(Date.UTC(2024, 0, 1));
  const sink = new FakeSink();
  const logger = new MemoryLogger();
  const recorder = new SinkEventRecorder({ sink, clock, logger, component: 'scheduler', ...extra });
  return { clock, sink, logger, recorder };
}

describe('SinkEventRecorder', () => {
  it('writes a core/v1 Event in the involved object namespace with the Kubernetes fields', async () => {
    const { sink, recorder } = setup({ host: 'node-a' });
    recorder.record(pod, 'Normal', 'Scheduled', 'Successfully assigned shop/web-1 to node-a');
    await recorder.flush();
    const [event] = sink.events();
    expect(event).toMatchObject({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { namespace: 'shop' },
      involvedObject: {
        kind: 'Pod',
        namespace: 'shop',
        name: 'web-1',
        uid: 'pod-uid',
        apiVersion: 'v1',
        resourceVersion: '42',
      },
      reason: 'Scheduled',
      message: 'Successfully assigned shop/web-1 to node-a',
      type: 'Normal',
      source: { component: 'scheduler', host: 'node-a' },
      firstTimestamp: '2024-01-01T00:00:00Z',
      lastTimestamp: '2024-01-01T00:00:00Z',
      count: 1,
      reportingComponent: 'scheduler',
      reportingInstance: 'scheduler-node-a',
    });
    expect(event?.metadata.name).toMatch(/^web-1\.[0-9a-f]+$/);
  });

  it('puts events about cluster-scoped objects in the default namespace, without an involved namespace', async () => {
    const { sink, recorder } = setup();
    recorder.record(node, 'Warning', 'NodeNotReady', 'Node node-a status is now: NodeNotReady');
    await recorder.flush();
    const [event] = sink.events();
    expect(event?.metadata.namespace).toBe('default');
    expect(event?.involvedObject).toEqual({
      kind: 'Node',
      name: 'node-a',
      uid: 'node-uid',
      apiVersion: 'v1',
    });
  });

  it('compacts an identical event within 10 minutes into count and lastTimestamp', async () => {
    const { clock, sink, recorder } = setup();
    recorder.record(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    await clock.advance(60_000);
    recorder.record(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    await clock.advance(60_000);
    recorder.record(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    await recorder.flush();
    expect(sink.events()).toHaveLength(1);
    expect(sink.events()[0]).toMatchObject({
      count: 3,
      firstTimestamp: '2024-01-01T00:00:00Z',
      lastTimestamp: '2024-01-01T00:02:00Z',
    });
    expect(sink.calls.map((c) => c.verb)).toEqual(['create', 'update', 'update']);
  });

  it('creates a new event when the message differs or the window passed', async () => {
    const { clock, sink, recorder } = setup();
    recorder.record(pod, 'Warning', 'BackOff', 'one');
    recorder.record(pod, 'Warning', 'BackOff', 'two');
    recorder.record(pod, 'Normal', 'BackOff', 'one');
    await clock.advance(10 * 60_000);
    recorder.record(pod, 'Warning', 'BackOff', 'one');
    await recorder.flush();
    expect(sink.events()).toHaveLength(4);
    expect(new Set(sink.events().map((e) => e.metadata.name)).size).toBe(4);
  });

  it('recreates a compacted event that disappeared (NotFound on update), keeping its count', async () => {
    const { sink, recorder } = setup();
    recorder.record(pod, 'Normal', 'Pulled', 'pulled');
    await recorder.flush();
    const name = sink.events()[0]?.metadata.name ?? '';
    sink.stored.clear();
    recorder.record(pod, 'Normal', 'Pulled', 'pulled');
    await recorder.flush();
    expect(sink.events()).toHaveLength(1);
    expect(sink.events()[0]).toMatchObject({ metadata: { name }, count: 2 });
  });

  it('never throws to the caller: sink failures are logged and the next identical event is created anew', async () => {
    const { sink, logger, recorder } = setup();
    sink.fail = new ApiError('ServiceUnavailable', 'store down');
    expect(() => recorder.record(pod, 'Normal', 'Created', 'created')).not.toThrow();
    await recorder.flush();
    expect(logger.find('could not write event', 'error')).toHaveLength(1);
    sink.fail = undefined;
    recorder.record(pod, 'Normal', 'Created', 'created');
    await recorder.flush();
    expect(sink.events()).toHaveLength(1);
    expect(sink.events()[0]?.count).toBe(1);
    recorder.record({ apiVersion: 'v1', kind: 'Pod', metadata: {} }, 'Normal', 'X', 'no name');
    await recorder.flush();
    expect(logger.find('without a name', 'warn')).toHaveLength(1);
  });

  it('spam filter: 25 events per object at once, then one per 5 minutes; other objects unaffected', async () => {
    const { clock, sink, recorder } = setup();
    for (let i = 0; i < 30; i++) recorder.record(pod, 'Normal', 'Tick', `tick ${i}`);
    recorder.record(node, 'Normal', 'Tick', 'node tick');
    await recorder.flush();
    expect(sink.events().filter((e) => e.metadata.namespace === 'shop')).toHaveLength(25);
    expect(sink.events().filter((e) => e.metadata.namespace === 'default')).toHaveLength(1);
    await clock.advance(5 * 60_000 - 1);
    recorder.record(pod, 'Normal', 'Tick', 'too early');
    await clock.advance(1);
    recorder.record(pod, 'Normal', 'Tick', 'refilled');
    recorder.record(pod, 'Normal', 'Tick', 'no token left');
    await recorder.flush();
    const messages = sink.events().map((e) => e.message);
    expect(messages).toContain('refilled');
    expect(messages).not.toContain('too early');
    expect(messages).not.toContain('no token left');
  });

  it('drops records beyond maxPending instead of queueing without bound', async () => {
    const { sink, logger, recorder } = setup({ maxPending: 2, burst: 100 });
    for (let i = 0; i < 5; i++) recorder.record(pod, 'Normal', 'Tick', `tick ${i}`);
    await recorder.flush();
    expect(sink.events()).toHaveLength(2);
    expect(logger.find('too many events waiting', 'warn')).toHaveLength(3);
  });

  it('forgets the least recently used events beyond cacheSize', async () => {
    const { sink, recorder } = setup({ cacheSize: 2, burst: 100 });
    recorder.record(pod, 'Normal', 'A', 'a');
    recorder.record(pod, 'Normal', 'B', 'b');
    recorder.record(pod, 'Normal', 'A', 'a'); // A is now most recent
    recorder.record(pod, 'Normal', 'C', 'c'); // evicts B
    recorder.record(pod, 'Normal', 'B', 'b'); // new event
    recorder.record(pod, 'Normal', 'C', 'c'); // compacted
    await recorder.flush();
    const byReason = (r: string): KubeObject[] => sink.events().filter((e) => e.reason === r);
    expect(byReason('A').map((e) => e.count)).toEqual([2]);
    expect(byReason('B')).toHaveLength(2);
    expect(byReason('C').map((e) => e.count)).toEqual([2]);
  });
});
