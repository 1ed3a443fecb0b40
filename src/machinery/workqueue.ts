// A client-go style work queue of string keys (see client-go util/workqueue).
//
// - Dedupe: a key added while it waits in the queue is one item. A key added while a worker processes
//   it is marked dirty and re-queued when the worker calls `done(key)`, so one key is never processed
//   by two workers at once and no change is lost.
// - `get()` resolves with the next key (FIFO), waiting while the queue is empty; it resolves with
//   `undefined` once the queue is shut down.
// - Delays: `addAfter(key, ms)` adds the key later (a key waiting twice keeps the earlier time);
//   `addRateLimited(key)` adds it after a per-key exponential back-off (5 ms, 10 ms, ... capped at
//   1000 s by default) until `forget(key)` resets the key's failure count.
// - Metrics (optional): client-go's depth, adds, queue and work latency, and retries, through a small
//   `WorkQueueMetrics` hook (machinery/prom makes one per Prometheus registry).
//
// One difference from client-go, on purpose: after `shutDown()` queued keys are dropped and `get()`
// returns `undefined` at once, so a stopping controller finishes its in-flight syncs and exits without
// draining a backlog. Controllers are level-triggered, so the next start re-lists everything.

import type { Clock, TimerHandle } from './clock.js';

/**
 * Optional instrumentation (client-go's workqueue metrics); machinery/prom/workqueue.ts makes one from a
 * Prometheus registry. Times come from the queue's clock.
 */
export interface WorkQueueMetrics {
  /** A key became due for processing (depth + 1, adds + 1). */
  added(): void;
  /** A worker took a key that waited `queuedMs` since it was added (depth - 1). */
  started(queuedMs: number): void;
  /** A worker finished a key after `workMs`. */
  finished(workMs: number): void;
  /** A key was re-added with back-off (`addRateLimited`). */
  retried(): void;
  /** Shutdown dropped `count` keys that were due (depth - count). */
  dropped(count: number): void;
}

/** Makes the metrics of the queue called `name`. */
export type WorkQueueMetricsProvider = (name: string) => WorkQueueMetrics;

// Set only while withWorkQueueMetrics runs its (synchronous) callback.
let scopedMetrics: WorkQueueMetricsProvider | undefined;

/**
 * Every WorkQueue constructed while `build` runs (synchronously) that was given no `metrics` of its own
 * records into `metrics`. Controllers build their queues inside their constructors, so the process that
 * wires them (apiserver/controllers.ts) instruments them all without each controller taking an option.
 */
export function withWorkQueueMetrics<T>(metrics: WorkQueueMetricsProvider | undefined, build: () => T): T {
  const previous = scopedMetrics;
  scopedMetrics = metrics;
  try {
    return build();
  } finally {
    scopedMetrics = previous;
  }
}

/** Decides how long a failing key waits before its next attempt. */
export interface RateLimiter {
  /** The delay before the next attempt of `key`; counts one more failure. */
  when(key: string): number;
  /** Forget the key's failures (it succeeded, or we gave up). */
  forget(key: string): void;
  /** How many times `when(key)` was called since the last `forget(key)`. */
  numRequeues(key: string): number;
}

export interface ExponentialBackoffOptions {
  /** Delay after the first failure. Default 5 ms. */
  baseDelayMs?: number;
  /** Upper bound of the delay. Default 1000 s. */
  maxDelayMs?: number;
}

/** Per-key exponential back-off: base · 2^failures, capped (client-go's ItemExponentialFailureRateLimiter). */
export class ExponentialBackoffRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;

  constructor(options: ExponentialBackoffOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 1_000_000;
  }

  when(key: string): number {
    const exp = this.failures.get(key) ?? 0;
    this.failures.set(key, exp + 1);
    // 2^exp overflows to Infinity past 1023; the cap applies either way.
    const delay = this.baseDelayMs * 2 ** Math.min(exp, 1023);
    return Math.min(delay, this.maxDelayMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

export interface WorkQueueOptions {
  clock: Clock;
  /** Default: `ExponentialBackoffRateLimiter` with 5 ms base and 1000 s cap. */
  rateLimiter?: RateLimiter;
  /** For logs and metrics. */
  name?: string;
  /** Record depth, adds, latency and retries (default: none, or the withWorkQueueMetrics scope's). */
  metrics?: WorkQueueMetricsProvider;
}

export class WorkQueue {
  readonly name: string;
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter;
  /** Keys ready to be handed out, in order. Every key here is also in `dirty`. */
  private readonly queue: string[] = [];
  private queueHead = 0;
  /** Keys that need processing (queued, or added again while processing). */
  private readonly dirty = new Set<string>();
  /** Keys a worker holds between `get()` and `done()`. */
  private readonly processing = new Set<string>();
  /** Keys waiting for `addAfter` / `addRateLimited`, with their due time. */
  private readonly waiting = new Map<string, { due: number; handle: TimerHandle }>();
  /** Blocked `get()` calls, oldest first. */
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly metrics: WorkQueueMetrics | undefined;
  /** With metrics: when each due key was first added, and when each in-flight key was handed out. */
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();

  constructor(options: WorkQueueOptions) {
    this.clock = options.clock;
    this.rateLimiter = options.rateLimiter ?? new ExponentialBackoffRateLimiter();
    this.name = options.name ?? 'queue';
    this.metrics = (options.metrics ?? scopedMetrics)?.(this.name);
  }

  /** Mark `key` as needing processing. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.metrics !== undefined) {
      this.metrics.added();
      this.addedAt.set(key, this.clock.now());
    }
    if (this.processing.has(key)) return; // re-queued by done()
    this.enqueue(key);
  }

  /** The next key to process, waiting while none is ready; `undefined` once shut down. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.dequeue();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise<string | undefined>((resolve) => this.getters.push(resolve));
  }

  /** The worker finished `key`; if it was added meanwhile it goes back in the queue. */
  done(key: string): void {
    if (this.metrics !== undefined) {
      const since = this.startedAt.get(key);
      if (since !== undefined) this.metrics.finished(this.clock.now() - since);
      this.startedAt.delete(key);
    }
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.enqueue(key);
  }

  /** Add `key` after `ms` milliseconds (at once when `ms <= 0`). A key already waiting keeps the earlier time. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = this.clock.now() + ms;
    const existing = this.waiting.get(key);
    if (existing !== undefined) {
      if (existing.due <= due) return;
      this.clock.clearTimeout(existing.handle);
    }
    const handle = this.clock.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { due, handle });
  }

  /** Add `key` after the rate limiter's back-off for it. */
  addRateLimited(key: string): void {
    this.metrics?.retried();
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** Reset `key`'s back-off (call after a successful sync, or when giving up). */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  /** Failures counted for `key` since the last `forget`. */
  numRequeues(key: string): number {
    return this.rateLimiter.numRequeues(key);
  }

  /** Keys ready to be handed out (not counting waiting or in-flight keys). */
  len(): number {
    return this.queue.length - this.queueHead;
  }

  /** Keys waiting on a delay. */
  waitingLen(): number {
    return this.waiting.size;
  }

  /** Stop handing out keys: pending and future `get()` calls resolve `undefined`; delayed adds are cancelled. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { handle } of this.waiting.values()) this.clock.clearTimeout(handle);
    this.waiting.clear();
    this.queue.length = 0;
    this.queueHead = 0;
    if (this.dirty.size > 0) this.metrics?.dropped(this.dirty.size);
    this.dirty.clear();
    this.addedAt.clear();
    const getters = this.getters.splice(0);
    for (const resolve of getters) resolve(undefined);
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  private enqueue(key: string): void {
    const getter = this.getters.shift();
    if (getter !== undefined) {
      // Hand the key straight to a blocked worker.
      this.dirty.delete(key);
      this.processing.add(key);
      this.handedOut(key);
      getter(key);
      return;
    }
    this.queue.push(key);
  }

  private dequeue(): string | undefined {
    if (this.queueHead >= this.queue.length) return undefined;
    const key = this.queue[this.queueHead] as string;
    this.queueHead++;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    this.dirty.delete(key);
    this.processing.add(key);
    this.handedOut(key);
    return key;
  }

  private handedOut(key: string): void {
    if (this.metrics === undefined) return;
    const now = this.clock.now();
    this.metrics.started(now - (this.addedAt.get(key) ?? now));
    this.addedAt.delete(key);
    this.startedAt.set(key, now);
  }
}
