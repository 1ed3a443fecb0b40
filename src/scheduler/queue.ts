// SchedulingQueue: the pods waiting for a node, modelled on kube-scheduler's PriorityQueue.
//
// Three places a pending pod can be:
// - activeQ: ready to be tried, highest `spec.priority` first, then the oldest (time it was added or
//   last failed), then arrival order.
// - backoffQ: failed recently; waits an exponential back-off (1 s, 2 s, 4 s ... capped at 10 s, by the
//   number of attempts, as upstream's podInitialBackoff/podMaxBackoff) before going back to activeQ.
// - unschedulable: did not fit anywhere. Stays parked until a cluster event that may help
//   (`moveAllToActiveOrBackoff`), an update of the pod itself, or until it has been parked for
//   `unschedulableTimeoutMs` (5 minutes, upstream's podMaxInUnschedulablePodsDuration), then goes to
//   backoffQ (still backing off) or activeQ.
// When activeQ is empty, `pop` takes the pod of backoffQ whose back-off ends first instead of leaving the
// scheduler idle (upstream's SchedulerPopFromBackoffQ, KEP-5142, on by default since 1.33): the back-off
// keeps a busy scheduler fair, and an idle one has nothing to be fair to. Pods backing off after an
// error (a failed bind) still wait their full back-off.
// A pod handed out by `pop` is "in flight" until the caller says `done` or requeues it. If a move event
// arrives while a pod is in flight, a failure of that attempt goes to backoffQ instead of being parked,
// so an event that happened during the attempt is never missed (upstream's moveRequestCycle).
//
// Pure logic: time comes from the injected Clock; no I/O.

import type { KubeObject } from '../api/types.js';
import type { Clock, TimerHandle } from '../machinery/clock.js';

/** A pod in the queue, with its scheduling history. */
export interface QueuedPod {
  /** `namespace/name`. */
  readonly key: string;
  /** The latest copy of the pod seen. */
  pod: KubeObject;
  /** Attempts so far (`pop` increments). */
  attempts: number;
  /** When the pod first entered the queue (ms). */
  readonly initialAttemptAt: number;
  /** When it was added or last failed (ms): activeQ order and the start of its back-off. */
  timestamp: number;
  /** The scheduling cycle of its last `pop`. */
  cycle: number;
}

export type QueueLocation = 'active' | 'backoff' | 'unschedulable' | 'inFlight';

export interface SchedulingQueueOptions {
  clock: Clock;
  /** First back-off (default 1 s). */
  initialBackoffMs?: number;
  /** Back-off cap (default 10 s). */
  maxBackoffMs?: number;
  /** A parked pod is retried after this long even without an event (default 60 s). */
  unschedulableTimeoutMs?: number;
  /** Take a backing-off pod at once when activeQ is empty (default true; see the top of the file). */
  popFromBackoffWhenIdle?: boolean;
}

/** `namespace/name` of a pod. */
export function podKey(pod: Pick<KubeObject, 'metadata'>): string {
  return `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
}

/** `spec.priority`, 0 when unset. */
export function podPriority(pod: KubeObject): number {
  const spec = pod.spec as { priority?: unknown } | undefined;
  const p = spec?.priority;
  return typeof p === 'number' && Number.isFinite(p) ? p : 0;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => deepEqual(ao[k], bo[k]));
}

/**
 * True when an update may change where (or whether) the pod fits: its spec, labels or annotations.
 * Status writes (our own PodScheduled condition) and resourceVersion bumps are not.
 */
export function isSchedulingRelevantUpdate(oldPod: KubeObject, newPod: KubeObject): boolean {
  return (
    !deepEqual(oldPod.spec, newPod.spec) ||
    !deepEqual(oldPod.metadata.labels, newPod.metadata.labels) ||
    !deepEqual(oldPod.metadata.annotations, newPod.metadata.annotations)
  );
}

/** A binary heap with removal and replacement by key. */
class KeyedHeap<T> {
  private readonly items: T[] = [];
  private readonly index = new Map<string, number>();

  constructor(
    readonly less: (a: T, b: T) => boolean,
    private readonly keyOf: (t: T) => string,
  ) {}

  get size(): number {
    return this.items.length;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  get(key: string): T | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.items[i];
  }

  peek(): T | undefined {
    return this.items[0];
  }

  values(): T[] {
    return [...this.items];
  }

  /** Insert, or replace the item with the same key (and restore order). */
  push(item: T): void {
    const key = this.keyOf(item);
    const at = this.index.get(key);
    if (at !== undefined) {
      this.items[at] = item;
      this.fix(at);
      return;
    }
    this.items.push(item);
    this.index.set(key, this.items.length - 1);
    this.up(this.items.length - 1);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top === undefined) return undefined;
    this.removeAt(0);
    return top;
  }

  delete(key: string): T | undefined {
    const at = this.index.get(key);
    if (at === undefined) return undefined;
    const item = this.items[at];
    this.removeAt(at);
    return item;
  }

  private removeAt(i: number): void {
    const last = this.items.length - 1;
    const removed = this.items[i] as T;
    this.index.delete(this.keyOf(removed));
    if (i !== last) {
      const moved = this.items[last] as T;
      this.items[i] = moved;
      this.index.set(this.keyOf(moved), i);
    }
    this.items.pop();
    if (i < this.items.length) this.fix(i);
  }

  private fix(i: number): void {
    if (!this.up(i)) this.down(i);
  }

  private swap(i: number, j: number): void {
    const a = this.items[i] as T;
    const b = this.items[j] as T;
    this.items[i] = b;
    this.items[j] = a;
    this.index.set(this.keyOf(b), i);
    this.index.set(this.keyOf(a), j);
  }

  private up(i: number): boolean {
    let moved = false;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(this.items[i] as T, this.items[parent] as T)) break;
      this.swap(i, parent);
      i = parent;
      moved = true;
    }
    return moved;
  }

  private down(i: number): void {
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < n && this.less(this.items[l] as T, this.items[best] as T)) best = l;
      if (r < n && this.less(this.items[r] as T, this.items[best] as T)) best = r;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }
}

interface Entry {
  info: QueuedPod;
  /** Arrival order: the last tie-breaker, so equal pods come out first-in first-out. */
  seq: number;
  /** In backoffQ after an error (not a fit failure): waits its whole back-off even when idle. */
  error?: boolean;
}

interface InFlight {
  info: QueuedPod;
  /** Deleted while being scheduled: never requeue. */
  deleted: boolean;
  /** Changed in a way that matters while being scheduled: a failure goes to back-off, not parking. */
  updated: boolean;
}

interface Waiter {
  resolve: (info: QueuedPod | undefined) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class SchedulingQueue {
  private readonly clock: Clock;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly unschedulableTimeoutMs: number;
  private readonly popFromBackoffWhenIdle: boolean;

  private readonly activeQ: KeyedHeap<Entry>;
  private readonly backoffQ: KeyedHeap<Entry>;
  /** Parked pods in the order they were parked (Map keeps insertion order), oldest first. */
  private readonly unschedulable = new Map<string, Entry>();
  private readonly inFlight = new Map<string, InFlight>();
  private waiters: Waiter[] = [];

  private seq = 0;
  private schedulingCycle = 0;
  /** The scheduling cycle when the last move event arrived. */
  private moveRequestCycle = -1;
  private timer: TimerHandle | undefined;
  private timerDue: number | undefined;
  private closed = false;

  constructor(options: SchedulingQueueOptions) {
    this.clock = options.clock;
    this.initialBackoffMs = options.initialBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.unschedulableTimeoutMs = options.unschedulableTimeoutMs ?? 300_000;
    this.popFromBackoffWhenIdle = options.popFromBackoffWhenIdle ?? true;
    this.activeQ = new KeyedHeap<Entry>(
      (a, b) => {
        const pa = podPriority(a.info.pod);
        const pb = podPriority(b.info.pod);
        if (pa !== pb) return pa > pb;
        if (a.info.timestamp !== b.info.timestamp) return a.info.timestamp < b.info.timestamp;
        return a.seq < b.seq;
      },
      (e) => e.info.key,
    );
    this.backoffQ = new KeyedHeap<Entry>(
      (a, b) => {
        const ea = this.backoffExpiry(a.info);
        const eb = this.backoffExpiry(b.info);
        return ea !== eb ? ea < eb : a.seq < b.seq;
      },
      (e) => e.info.key,
    );
  }

  /** Back-off after `attempts` failures: initial * 2^(attempts-1), capped. */
  backoffDuration(attempts: number): number {
    if (attempts <= 0) return 0;
    let d = this.initialBackoffMs;
    for (let i = 1; i < attempts; i++) {
      d *= 2;
      if (d >= this.maxBackoffMs) return this.maxBackoffMs;
    }
    return Math.min(d, this.maxBackoffMs);
  }

  private backoffExpiry(info: QueuedPod): number {
    return info.timestamp + this.backoffDuration(info.attempts);
  }

  private isBackingOff(info: QueuedPod): boolean {
    return this.backoffExpiry(info) > this.clock.now();
  }

  /** Where a pod is, if anywhere. */
  locate(key: string): QueueLocation | undefined {
    if (this.activeQ.has(key)) return 'active';
    if (this.backoffQ.has(key)) return 'backoff';
    if (this.unschedulable.has(key)) return 'unschedulable';
    if (this.inFlight.has(key)) return 'inFlight';
    return undefined;
  }

  /** The queued copy of a pod, wherever it is. */
  get(key: string): QueuedPod | undefined {
    return (
      this.activeQ.get(key)?.info ??
      this.backoffQ.get(key)?.info ??
      this.unschedulable.get(key)?.info ??
      this.inFlight.get(key)?.info
    );
  }

  stats(): { active: number; backoff: number; unschedulable: number; inFlight: number } {
    return {
      active: this.activeQ.size,
      backoff: this.backoffQ.size,
      unschedulable: this.unschedulable.size,
      inFlight: this.inFlight.size,
    };
  }

  /** Keys of the pods waiting (not in flight), for diagnostics. */
  pendingKeys(): string[] {
    return [
      ...this.activeQ.values().map((e) => e.info.key),
      ...this.backoffQ.values().map((e) => e.info.key),
      ...this.unschedulable.keys(),
    ];
  }

  /** A pod that needs a node. An already queued pod is updated instead. */
  add(pod: KubeObject): void {
    if (this.closed) return;
    const key = podKey(pod);
    if (this.locate(key) !== undefined) {
      this.update(pod);
      return;
    }
    const now = this.clock.now();
    this.pushActive({ key, pod, attempts: 0, initialAttemptAt: now, timestamp: now, cycle: 0 });
  }

  /**
   * A newer copy of a pod. The queued copy is replaced; a parked pod whose spec, labels or annotations
   * changed is moved to backoffQ or activeQ (the change may make it fit). Unknown pods are added.
   */
  update(pod: KubeObject): void {
    if (this.closed) return;
    const key = podKey(pod);
    const active = this.activeQ.get(key);
    if (active !== undefined) {
      active.info.pod = pod;
      this.activeQ.push(active); // priority may have changed
      return;
    }
    const backoff = this.backoffQ.get(key);
    if (backoff !== undefined) {
      backoff.info.pod = pod;
      return;
    }
    const parked = this.unschedulable.get(key);
    if (parked !== undefined) {
      const relevant = isSchedulingRelevantUpdate(parked.info.pod, pod);
      parked.info.pod = pod;
      if (relevant) {
        this.unschedulable.delete(key);
        this.moveOut(parked);
      }
      return;
    }
    const flying = this.inFlight.get(key);
    if (flying !== undefined) {
      if (isSchedulingRelevantUpdate(flying.info.pod, pod)) flying.updated = true;
      flying.info.pod = pod;
      return;
    }
    this.add(pod);
  }

  /** The pod was deleted, bound elsewhere or is no longer ours: forget it. */
  delete(podOrKey: KubeObject | string): void {
    const key = typeof podOrKey === 'string' ? podOrKey : podKey(podOrKey);
    this.activeQ.delete(key);
    this.backoffQ.delete(key);
    this.unschedulable.delete(key);
    const flying = this.inFlight.get(key);
    if (flying !== undefined) flying.deleted = true;
    this.rearm();
  }

  /**
   * The next pod to schedule, waiting until there is one. Resolves `undefined` when the queue closes
   * or `signal` aborts.
   */
  pop(signal?: AbortSignal): Promise<QueuedPod | undefined> {
    const now = this.tryPop();
    if (now !== undefined || this.closed || signal?.aborted === true) return Promise.resolve(now);
    return new Promise((resolve) => {
      const waiter: Waiter = { resolve, signal, onAbort: undefined };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(undefined);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
    });
  }

  /** The next pod to schedule, or `undefined` when there is none to try now. */
  tryPop(): QueuedPod | undefined {
    if (this.closed) return undefined;
    const entry = this.activeQ.pop() ?? this.takeIdleBackoff();
    if (entry === undefined) return undefined;
    const info = entry.info;
    info.attempts++;
    info.cycle = ++this.schedulingCycle;
    this.inFlight.set(info.key, { info, deleted: false, updated: false });
    return info;
  }

  /** The attempt ended for good (bound, or no longer ours). */
  done(key: string): void {
    this.inFlight.delete(key);
  }

  /**
   * The attempt found no node. The pod is parked until an event may help, unless such an event (or a
   * relevant update of the pod) arrived during the attempt: then it only backs off.
   */
  requeueUnschedulable(info: QueuedPod): void {
    const flying = this.takeInFlight(info);
    if (flying === undefined) return;
    info.timestamp = this.clock.now();
    const entry: Entry = { info, seq: this.seq++ };
    if (flying.updated || this.moveRequestCycle >= info.cycle) {
      this.backoffQ.push(entry);
      this.rearm();
      this.wake();
      return;
    }
    this.unschedulable.set(info.key, entry);
    this.rearm();
  }

  /** The attempt failed for a reason other than fit (a bind error): back off and try again. */
  requeueBackoff(info: QueuedPod): void {
    const flying = this.takeInFlight(info);
    if (flying === undefined) return;
    info.timestamp = this.clock.now();
    this.backoffQ.push({ info, seq: this.seq++, error: true });
    this.rearm();
  }

  /**
   * A cluster event that may make parked pods fit (node added or changed, a pod on a node went away).
   * Moves every parked pod (or those `which` accepts) to backoffQ or activeQ; in-flight pods that then
   * fail are not parked. Returns how many moved.
   */
  moveAllToActiveOrBackoff(which?: (pod: KubeObject) => boolean): number {
    if (this.closed) return 0;
    this.moveRequestCycle = this.schedulingCycle;
    let moved = 0;
    for (const [key, entry] of [...this.unschedulable]) {
      if (which !== undefined && !which(entry.info.pod)) continue;
      this.unschedulable.delete(key);
      this.moveOut(entry);
      moved++;
    }
    return moved;
  }

  /** Stop: pending and future `pop` calls resolve `undefined`, timers are cancelled. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = undefined;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (w.onAbort !== undefined) w.signal?.removeEventListener('abort', w.onAbort);
      w.resolve(undefined);
    }
  }

  private takeInFlight(info: QueuedPod): InFlight | undefined {
    const flying = this.inFlight.get(info.key);
    if (flying === undefined || flying.info !== info) return undefined;
    this.inFlight.delete(info.key);
    if (flying.deleted || this.closed) return undefined;
    return flying;
  }

  /** Out of parking: to backoffQ while the pod still backs off, else to activeQ. */
  private moveOut(entry: Entry): void {
    if (this.isBackingOff(entry.info)) {
      this.backoffQ.push(entry);
      this.rearm();
      this.wake();
    } else {
      this.pushActive(entry.info);
    }
  }

  private pushActive(info: QueuedPod): void {
    this.activeQ.push({ info, seq: this.seq++ });
    this.wake();
  }

  /** Hand pods to waiting `pop` calls. */
  private wake(): void {
    while (this.waiters.length > 0) {
      const info = this.tryPop();
      if (info === undefined) return;
      const w = this.waiters.shift() as Waiter;
      if (w.onAbort !== undefined) w.signal?.removeEventListener('abort', w.onAbort);
      w.resolve(info);
    }
  }

  /** activeQ is empty: the backing-off pod (not after an error) whose back-off ends first, if allowed. */
  private takeIdleBackoff(): Entry | undefined {
    if (!this.popFromBackoffWhenIdle || this.backoffQ.size === 0) return undefined;
    let best: Entry | undefined;
    for (const e of this.backoffQ.values()) {
      if (e.error === true) continue;
      if (best === undefined || this.backoffQ.less(e, best)) best = e;
    }
    if (best === undefined) return undefined;
    this.backoffQ.delete(best.info.key);
    this.rearm();
    return best;
  }

  /** Move due pods: backed-off ones to activeQ, long-parked ones out of parking. */
  private flush(): void {
    const now = this.clock.now();
    for (;;) {
      const top = this.backoffQ.peek();
      if (top === undefined || this.backoffExpiry(top.info) > now) break;
      this.backoffQ.pop();
      this.pushActive(top.info);
    }
    for (const [key, entry] of [...this.unschedulable]) {
      if (now - entry.info.timestamp < this.unschedulableTimeoutMs) break; // oldest first
      this.unschedulable.delete(key);
      this.moveOut(entry);
    }
  }

  /** Keep one timer armed for the next due time (a back-off ending or a parking timeout). */
  private rearm(): void {
    if (this.closed) return;
    let due: number | undefined;
    const top = this.backoffQ.peek();
    if (top !== undefined) due = this.backoffExpiry(top.info);
    const oldest = this.unschedulable.values().next();
    if (oldest.done !== true) {
      const t = oldest.value.info.timestamp + this.unschedulableTimeoutMs;
      due = due === undefined ? t : Math.min(due, t);
    }
    if (due === this.timerDue) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = due;
    if (due === undefined) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerDue = undefined;
      this.flush();
      this.rearm();
    }, due - this.clock.now());
  }
}
