// EventRecorder: how every component tells users what it did, as core/v1 Events (`kubectl describe`,
// `kubectl get events`).
//
// Modelled on client-go's tools/record (EventCorrelator):
// - Compaction: an event identical to one this recorder wrote in the last 10 minutes (same involved
//   object kind/namespace/name/uid/apiVersion, type, reason, message, source component and host)
//   bumps `count` and `lastTimestamp` on the existing Event (an update) instead of creating another.
//   The recorder remembers at most `cacheSize` (4096) distinct events, least recently used out first.
// - Spam filter: a token bucket per (source, involved object): `burst` (25) events at once, then one
//   more every `refillIntervalMs` (5 min). Events over the limit are dropped (and logged at debug).
// - Writes happen in the background, one at a time, in record order; at most `maxPending` (1000)
//   wait, further records are dropped with a log line. `record()` never throws and never blocks;
//   sink failures are logged. `flush()` waits for the writes so far (tests, shutdown).
// Not modelled: client-go's aggregation of *similar* events (same reason, different messages).

import type { KubeObject } from '../api/types.js';
import { isApiError } from '../api/errors.js';
import type { Clock } from './clock.js';
import { describeError } from './errors.js';
import { nullLogger, type Logger } from './logger.js';

export type EventType = 'Normal' | 'Warning';

/** Records events about objects. Implementations never throw. */
export interface EventRecorder {
  record(involved: KubeObject, type: EventType, reason: string, message: string): void;
}

/**
 * Where events are written. Trivially an ApiClient on the `events` resource:
 * `create: (ns, ev) => client.create(eventsInfo, ns, ev)`, `update: (ns, ev) => client.update(eventsInfo, ns, ev)`.
 * Failures are thrown as `ApiError` (a `NotFound` on update makes the recorder create the event anew).
 */
export interface EventSink {
  create(namespace: string, event: KubeObject): Promise<KubeObject>;
  update(namespace: string, event: KubeObject): Promise<KubeObject>;
}

export interface EventRecorderOptions {
  sink: EventSink;
  clock: Clock;
  /** `source.component` and `reportingComponent`, e.g. `deployment-controller`. */
  component: string;
  /** `source.host`: the node name, for agents. */
  host?: string;
  /** `reportingInstance`. Default: `<component>` or `<component>-<host>`. */
  reportingInstance?: string;
  logger?: Logger;
  /** Distinct events remembered for compaction, and involved objects remembered by the spam filter. Default 4096. */
  cacheSize?: number;
  /** An identical event older than this is created anew instead of counted. Default 10 min. */
  compactionWindowMs?: number;
  /** Spam filter bucket size. Default 25. */
  burst?: number;
  /** One token returns to the bucket every this many ms. Default 5 min. */
  refillIntervalMs?: number;
  /** Writes allowed to wait; more are dropped. Default 1000. */
  maxPending?: number;
  /** The unique part of an event name (after `<involvedName>.`). Default: hex of time and a counter. */
  nameSuffix?: () => string;
}

interface CachedEvent {
  /** The event as last written (the sink's answer), carrying count, timestamps and resourceVersion. */
  event: KubeObject;
  /** Time of the last occurrence (ms), for the compaction window. */
  lastSeenMs: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

interface Occurrence {
  namespace: string;
  compactionKey: string;
  base: KubeObject;
  atMs: number;
}

/** A small least-recently-used map on top of Map's insertion order. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done === true) break;
      this.map.delete(oldest.value);
    }
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  get size(): number {
    return this.map.size;
  }
}

/** RFC 3339 with second precision, as Kubernetes serialises `metav1.Time`. */
export function kubeTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** An EventRecorder writing core/v1 Events to an EventSink, with compaction and a spam filter. */
export class SinkEventRecorder implements EventRecorder {
  private readonly sink: EventSink;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly component: string;
  private readonly host: string | undefined;
  private readonly reportingInstance: string;
  private readonly compactionWindowMs: number;
  private readonly burst: number;
  private readonly refillIntervalMs: number;
  private readonly maxPending: number;
  private readonly nameSuffix: () => string;
  private readonly events: Lru<CachedEvent>;
  private readonly buckets: Lru<Bucket>;
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private seq = 0;

  constructor(options: EventRecorderOptions) {
    this.sink = options.sink;
    this.clock = options.clock;
    this.logger = options.logger ?? nullLogger;
    this.component = options.component;
    this.host = options.host;
    this.reportingInstance =
      options.reportingInstance ??
      (options.host === undefined ? options.component : `${options.component}-${options.host}`);
    const cacheSize = options.cacheSize ?? 4096;
    this.events = new Lru(cacheSize);
    this.buckets = new Lru(cacheSize);
    this.compactionWindowMs = options.compactionWindowMs ?? 10 * 60_000;
    this.burst = options.burst ?? 25;
    this.refillIntervalMs = options.refillIntervalMs ?? 5 * 60_000;
    this.maxPending = options.maxPending ?? 1000;
    this.nameSuffix = options.nameSuffix ?? (() => this.defaultSuffix());
  }

  record(involved: KubeObject, type: EventType, reason: string, message: string): void {
    try {
      this.recordUnsafe(involved, type, reason, message);
    } catch (err: unknown) {
      this.logger.error('could not record event', { reason, error: describeError(err) });
    }
  }

  /** Resolves when every event recorded so far has been written (or has failed and been logged). */
  flush(): Promise<void> {
    return this.tail;
  }

  private recordUnsafe(involved: KubeObject, type: EventType, reason: string, message: string): void {
    const name = involved.metadata.name;
    if (name === undefined || name === '') {
      this.logger.warn('event about an object without a name dropped', { kind: involved.kind, reason });
      return;
    }
    const now = this.clock.now();
    const involvedObject = involvedObjectOf(involved, name);
    const source: Record<string, string> = { component: this.component };
    if (this.host !== undefined) source.host = this.host;

    const objectKey = [
      this.component,
      this.host ?? '',
      involvedObject.kind,
      involvedObject.namespace ?? '',
      involvedObject.name,
      involvedObject.uid ?? '',
      involvedObject.apiVersion,
    ].join('\u0000');
    if (!this.takeToken(objectKey, now)) {
      this.logger.debug('event dropped by the spam filter', { ...involvedObject, reason });
      return;
    }
    if (this.pending >= this.maxPending) {
      this.logger.warn('event dropped: too many events waiting to be written', { ...involvedObject, reason });
      return;
    }

    const namespace = involvedObject.namespace ?? 'default';
    const base: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: '', namespace },
      involvedObject,
      reason,
      message,
      type,
      source,
      firstTimestamp: kubeTime(now),
      lastTimestamp: kubeTime(now),
      count: 1,
      reportingComponent: this.component,
      reportingInstance: this.reportingInstance,
    };
    const occurrence: Occurrence = {
      namespace,
      compactionKey: [objectKey, type, reason, message].join('\u0000'),
      base,
      atMs: now,
    };
    this.pending++;
    this.tail = this.tail
      .then(() => this.write(occurrence))
      .catch((err: unknown) => {
        this.logger.error('could not write event', { namespace, reason, error: describeError(err) });
      })
      .finally(() => {
        this.pending--;
      });
  }

  private async write(o: Occurrence): Promise<void> {
    const cached = this.events.get(o.compactionKey);
    if (cached !== undefined && o.atMs - cached.lastSeenMs < this.compactionWindowMs) {
      const previous = cached.event;
      const count = typeof previous.count === 'number' ? previous.count + 1 : 2;
      const next: KubeObject = { ...previous, count, lastTimestamp: kubeTime(o.atMs) };
      // Remember the occurrence first so a failed write still compacts the next one.
      this.events.set(o.compactionKey, { event: next, lastSeenMs: o.atMs });
      let written: KubeObject;
      try {
        written = await this.sink.update(o.namespace, next);
      } catch (err: unknown) {
        if (!(isApiError(err) && err.reason === 'NotFound')) throw err;
        // The event expired or was deleted: create it again, keeping its count.
        const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, ...meta } = next.metadata;
        written = await this.sink.create(o.namespace, { ...next, metadata: meta });
      }
      this.events.set(o.compactionKey, { event: written, lastSeenMs: o.atMs });
      return;
    }
    const event: KubeObject = {
      ...o.base,
      metadata: {
        name: `${(o.base.involvedObject as { name: string }).name}.${this.nameSuffix()}`,
        namespace: o.namespace,
      },
    };
    this.events.set(o.compactionKey, { event, lastSeenMs: o.atMs });
    let written: KubeObject;
    try {
      written = await this.sink.create(o.namespace, event);
    } catch (err: unknown) {
      // Nothing exists to update: the next identical event must create again.
      this.events.delete(o.compactionKey);
      throw err;
    }
    this.events.set(o.compactionKey, { event: written, lastSeenMs: o.atMs });
  }

  private takeToken(key: string, now: number): boolean {
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, updatedMs: now };
    const refilled = Math.floor((now - bucket.updatedMs) / this.refillIntervalMs);
    if (refilled > 0) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + refilled);
      bucket.updatedMs += refilled * this.refillIntervalMs;
    }
    if (bucket.tokens >= this.burst) bucket.updatedMs = now; // a full bucket does not bank time
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens--;
    this.buckets.set(key, bucket);
    return allowed;
  }

  private defaultSuffix(): string {
    // Like client-go's `%x` of UnixNano: time in hex, plus a counter and a random part so two recorders
    // (or two events in one millisecond) never collide.
    this.seq = (this.seq + 1) % 0x10000;
    const rand = Math.floor(Math.random() * 0x10000);
    return `${this.clock.now().toString(16)}${this.seq.toString(16).padStart(4, '0')}${rand.toString(16).padStart(4, '0')}`;
  }
}

interface InvolvedObject {
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  apiVersion: string;
  resourceVersion?: string;
}

function involvedObjectOf(obj: KubeObject, name: string): InvolvedObject {
  const ref: InvolvedObject = { kind: obj.kind, name, apiVersion: obj.apiVersion };
  const { namespace, uid, resourceVersion } = obj.metadata;
  if (namespace !== undefined && namespace !== '') ref.namespace = namespace;
  if (uid !== undefined) ref.uid = uid;
  if (resourceVersion !== undefined) ref.resourceVersion = resourceVersion;
  return ref;
}

/** Records nothing. */
export const nullEventRecorder: EventRecorder = { record() {} };

export interface RecordedEvent {
  involved: KubeObject;
  type: EventType;
  reason: string;
  message: string;
}

/** Keeps recorded events in memory, uncompacted; for tests of components that record events. */
export class MemoryEventRecorder implements EventRecorder {
  readonly events: RecordedEvent[] = [];
  record(involved: KubeObject, type: EventType, reason: string, message: string): void {
    this.events.push({ involved, type, reason, message });
  }
  reasons(): string[] {
    return this.events.map((e) => e.reason);
  }
}
