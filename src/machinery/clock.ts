// The Clock port: every timer, back-off, resync period and timeout in the control plane goes through an
// injected Clock, so unit tests drive time with `VirtualClock` (src/testkit/clock.ts) and never sleep.

import { MachineryError } from './errors.js';

/** An opaque timer handle; only the Clock that made it can cancel it. */
export interface TimerHandle {
  readonly timerId: number;
}

export interface Clock {
  /** Milliseconds since the Unix epoch (virtual clocks may start anywhere). */
  now(): number;
  /** Run `fn` once, `ms` milliseconds from now (negative counts as 0). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancel a timer; a no-op when it already ran or was cancelled. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Resolve after `ms` milliseconds. Rejects with a `MachineryError` of code `Aborted` when `signal`
   * aborts first (or is already aborted).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export function abortedError(signal: AbortSignal): MachineryError {
  return new MachineryError('Aborted', 'the wait was aborted', { cause: signal.reason, transient: false });
}

/**
 * `sleep` in terms of a clock's own setTimeout/clearTimeout; shared by the system and virtual clocks so
 * both abort the same way.
 */
export function sleepWith(
  clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortedError(signal));
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(abortedError(signal as AbortSignal));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

class SystemClock implements Clock {
  private readonly timers = new Map<number, ReturnType<typeof globalThis.setTimeout>>();
  private nextId = 1;

  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timerId = this.nextId++;
    const t = globalThis.setTimeout(
      () => {
        this.timers.delete(timerId);
        fn();
      },
      Math.max(0, ms),
    );
    this.timers.set(timerId, t);
    return { timerId };
  }

  clearTimeout(handle: TimerHandle): void {
    const t = this.timers.get(handle.timerId);
    if (t !== undefined) {
      globalThis.clearTimeout(t);
      this.timers.delete(handle.timerId);
    }
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, ms, signal);
  }
}

/** Wall-clock time and real timers. */
export const systemClock: Clock = new SystemClock();
