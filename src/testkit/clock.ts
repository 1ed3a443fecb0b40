// VirtualClock: a Clock whose time moves only when a test says so.
//
// `advance(ms)` runs every timer that falls due within the next `ms` milliseconds, in due-time order
// (ties in the order they were set), setting `now()` to each timer's due time before running it and
// letting pending promise callbacks settle between timers, so async code awoken by one timer (a worker
// picking up a re-queued key, say) runs before the next timer fires. Timers set while advancing are
// run too when they fall due inside the window.

import { sleepWith, type Clock, type TimerHandle } from '../machinery/clock.js';

interface Timer {
  id: number;
  due: number;
  fn: () => void;
}

/** Let queued microtasks (and the promise chains they start) run to completion. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

export class VirtualClock implements Clock {
  private current: number;
  private readonly timers: Timer[] = [];
  private nextId = 1;

  /** Starts at `start` ms since the epoch (default 2024-01-01T00:00:00Z, so timestamps look real). */
  constructor(start = Date.UTC(2024, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { id: this.nextId++, due: this.current + Math.max(0, ms), fn };
    // Keep the list sorted by (due, id): insert after every timer due at or before this one.
    let i = this.timers.length;
    while (i > 0 && (this.timers[i - 1] as Timer).due > timer.due) i--;
    this.timers.splice(i, 0, timer);
    return { timerId: timer.id };
  }

  clearTimeout(handle: TimerHandle): void {
    const i = this.timers.findIndex((t) => t.id === handle.timerId);
    if (i >= 0) this.timers.splice(i, 1);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, ms, signal);
  }

  /** Number of timers not yet run. */
  pendingTimers(): number {
    return this.timers.length;
  }

  /** Due time of the next timer, if any. */
  nextDue(): number | undefined {
    return this.timers[0]?.due;
  }

  /** Move time forward by `ms`, running due timers in order and settling promises between them. */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new RangeError(`VirtualClock.advance: negative duration ${ms}`);
    const target = this.current + ms;
    await settle();
    for (;;) {
      const next = this.timers[0];
      if (next === undefined || next.due > target) break;
      this.timers.shift();
      this.current = next.due;
      next.fn();
      await settle();
    }
    this.current = target;
    await settle();
  }

  /** Run timers until none remain or `limit` timers ran (guards against self-rescheduling loops). */
  async runAll(limit = 10_000): Promise<void> {
    for (let n = 0; n < limit; n++) {
      const next = this.timers[0];
      if (next === undefined) return;
      await this.advance(next.due - this.current);
    }
  }
}
