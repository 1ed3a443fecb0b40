// One watch's delivery queue, shared by the adapters.
//
// Events are delivered asynchronously (in a microtask, never inside the write that produced them), in the
// order they were pushed, in batches of at most MAX_BATCH. A failure is delivered after the events pushed
// before it, once; after it (or after `close()`), nothing more is delivered.

import type { StoreError, StoreEvent, Watcher, WatchOptions } from './store.js';

const MAX_BATCH = 1000;

export class WatchChannel implements Watcher {
  readonly prefix: string;
  private pending: StoreEvent[] = [];
  private failure: StoreError | undefined;
  private scheduled = false;
  private done = false;

  constructor(
    private readonly options: WatchOptions,
    /** Called once when the channel ends (closed by the user or failed), to unregister it. */
    private readonly onEnd: (channel: WatchChannel) => void,
  ) {
    this.prefix = options.prefix;
  }

  /** True once closed or failed: nothing more will be delivered. */
  get ended(): boolean {
    return this.done || this.failure !== undefined;
  }

  /** Queue the events whose key is under this watch's prefix. */
  push(events: readonly StoreEvent[]): void {
    if (this.ended) return;
    for (const event of events) {
      if (event.key.startsWith(this.prefix)) this.pending.push(event);
    }
    if (this.pending.length > 0) this.schedule();
  }

  /** End the watch with `err`, after the events already queued. Later calls are ignored. */
  fail(err: StoreError): void {
    if (this.ended) return;
    this.failure = err;
    this.schedule();
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.pending = [];
    this.onEnd(this);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.deliver());
  }

  private deliver(): void {
    this.scheduled = false;
    while (!this.done && this.pending.length > 0) {
      const batch = this.pending.length <= MAX_BATCH ? this.pending : this.pending.slice(0, MAX_BATCH);
      this.pending = batch === this.pending ? [] : this.pending.slice(MAX_BATCH);
      try {
        this.options.onEvents(batch);
      } catch (err) {
        // A throwing handler is a bug in the caller: let it surface as an uncaught error, but keep the
        // stream intact for the events still queued.
        if (this.pending.length > 0 || this.failure !== undefined) this.schedule();
        throw err;
      }
    }
    if (!this.done && this.failure !== undefined) {
      this.done = true;
      this.onEnd(this);
      this.options.onError(this.failure);
    }
  }
}
