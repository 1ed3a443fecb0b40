// The controller runner: N workers take keys from a WorkQueue and call `sync(key)`.
//
// client-go's processNextWorkItem loop: a key is held by one worker at a time; a successful sync
// forgets the key's back-off; a failed sync re-adds the key with rate limiting until it failed
// `maxRetries` times in a row, then the key is dropped with a log line (a later add, from an informer
// event or a resync, starts it afresh). Errors that say `transient: false` are retried the same way:
// level-triggered syncs often succeed once the world changed, and the back-off keeps it cheap.

import type { KubeObject } from '../api/types.js';
import type { Clock } from './clock.js';
import { describeError, MachineryError } from './errors.js';
import { nullLogger, type Logger } from './logger.js';
import { WorkQueue, type RateLimiter } from './workqueue.js';

export type SyncFn = (key: string) => Promise<void>;

export interface ControllerOptions {
  /** Names the controller in logs. */
  name: string;
  sync: SyncFn;
  clock: Clock;
  /** Default: a new WorkQueue on `clock` with `rateLimiter`. */
  queue?: WorkQueue;
  rateLimiter?: RateLimiter;
  /** Concurrent workers. Default 1. */
  workers?: number;
  /** Consecutive failures after which a key is dropped. Default 15. */
  maxRetries?: number;
  logger?: Logger;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly sync: SyncFn;
  private readonly workers: number;
  private readonly maxRetries: number;
  private readonly logger: Logger;
  private running: Promise<void>[] | undefined;
  private stopped = false;

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.sync = options.sync;
    this.queue =
      options.queue ??
      new WorkQueue({
        clock: options.clock,
        name: options.name,
        ...(options.rateLimiter === undefined ? {} : { rateLimiter: options.rateLimiter }),
      });
    this.workers = Math.max(1, options.workers ?? 1);
    this.maxRetries = options.maxRetries ?? 15;
    this.logger = options.logger ?? nullLogger;
  }

  /** Queue a key for sync. */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Queue an object's key (`namespace/name` or `name`). */
  enqueueObject(obj: KubeObject): void {
    this.queue.add(keyOf(obj));
  }

  /** Start the workers. Throws `AlreadyStarted` when called twice or after `stop()`. */
  start(): void {
    if (this.running !== undefined || this.stopped) {
      throw new MachineryError('AlreadyStarted', `controller ${this.name} was already started`, {
        transient: false,
      });
    }
    this.logger.info('starting controller', { controller: this.name, workers: this.workers });
    this.running = Array.from({ length: this.workers }, (_, i) => this.worker(i));
  }

  /** Shut the queue down and resolve when every worker finished its current sync. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.shutDown();
    if (this.running !== undefined) await Promise.all(this.running);
    this.logger.info('stopped controller', { controller: this.name });
  }

  private async worker(id: number): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.sync(key);
        this.queue.forget(key);
      } catch (err: unknown) {
        this.handleError(key, err, id);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private handleError(key: string, err: unknown, worker: number): void {
    const failures = this.queue.numRequeues(key);
    if (failures < this.maxRetries) {
      this.logger.warn('sync failed, will retry', {
        controller: this.name,
        key,
        worker,
        attempt: failures + 1,
        error: describeError(err),
      });
      this.queue.addRateLimited(key);
      return;
    }
    this.logger.error('sync failed too many times, dropping key', {
      controller: this.name,
      key,
      attempts: failures + 1,
      error: describeError(err),
    });
    this.queue.forget(key);
  }
}

/** The queue key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function keyOf(obj: Pick<KubeObject, 'metadata'>): string {
  const name = obj.metadata.name;
  if (name === undefined || name === '') {
    throw new MachineryError('InvalidKey', 'object has no metadata.name', { transient: false });
  }
  const ns = obj.metadata.namespace;
  return ns === undefined || ns === '' ? name : `${ns}/${name}`;
}

/** Inverse of `keyOf`. Throws `InvalidKey` for an empty key, an empty part, or more than one `/`. */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const [first, second, ...rest] = key.split('/');
  if (rest.length === 0 && first !== undefined && first !== '') {
    if (second === undefined) return { namespace: undefined, name: first };
    if (second !== '') return { namespace: first, name: second };
  }
  throw new MachineryError('InvalidKey', `unexpected key format: ${JSON.stringify(key)}`, {
    transient: false,
  });
}
