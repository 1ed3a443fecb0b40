import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../testkit/clock.js';
import { systemClock } from './clock.js';
import { isMachineryError } from './errors.js';

describe('VirtualClock', () => {
  it('runs due timers in due-time order, ties in the order they were set, with now() at each due time', async () => {
    const clock = new VirtualClock(1000);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => seen.push(`c@${clock.now()}`), 20);
    clock.setTimeout(() => seen.push(`late@${clock.now()}`), 31);
    await clock.advance(30);
    expect(seen).toEqual(['a@1010', 'b@1020', 'c@1020']);
    expect(clock.now()).toBe(1030);
    expect(clock.pendingTimers()).toBe(1);
    await clock.advance(1);
    expect(seen).toEqual(['a@1010', 'b@1020', 'c@1020', 'late@1031']);
  });

  it('lets promise chains woken by one timer run before the next timer fires', async () => {
    const clock = new VirtualClock(0);
    const seen: string[] = [];
    const task = async (): Promise<void> => {
      await clock.sleep(10);
      await Promise.resolve();
      await Promise.resolve();
      seen.push(`task resumed at ${clock.now()}`);
      // A timer set by woken code inside the window runs in the same advance.
      await clock.sleep(5);
      seen.push(`task slept again until ${clock.now()}`);
    };
    const done = task();
    clock.setTimeout(() => seen.push(`timer at ${clock.now()}`), 11);
    await clock.advance(100);
    await done;
    expect(seen).toEqual(['task resumed at 10', 'timer at 11', 'task slept again until 15']);
  });

  it('cancels timers with clearTimeout', async () => {
    const clock = new VirtualClock(0);
    let fired = false;
    const h = clock.setTimeout(() => (fired = true), 5);
    clock.clearTimeout(h);
    await clock.advance(10);
    expect(fired).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('sleep rejects with code Aborted when the signal aborts, and cancels its timer', async () => {
    const clock = new VirtualClock(0);
    const ac = new AbortController();
    const p = clock.sleep(1000, ac.signal);
    ac.abort();
    const err: unknown = await p.catch((e: unknown) => e);
    expect(isMachineryError(err) && err.code).toBe('Aborted');
    expect(clock.pendingTimers()).toBe(0);
    const already = await clock.sleep(1, ac.signal).catch((e: unknown) => e);
    expect(isMachineryError(already) && already.code).toBe('Aborted');
  });

  it('runAll runs timers that reschedule themselves up to the limit', async () => {
    const clock = new VirtualClock(0);
    let n = 0;
    const tick = (): void => {
      n++;
      if (n < 5) clock.setTimeout(tick, 100);
    };
    clock.setTimeout(tick, 100);
    await clock.runAll();
    expect(n).toBe(5);
    expect(clock.now()).toBe(500);
  });
});

describe('systemClock', () => {
  it('sleep aborts through the signal', async () => {
    const ac = new AbortController();
    const p = systemClock.sleep(60_000, ac.signal);
    ac.abort();
    const err: unknown = await p.catch((e: unknown) => e);
    expect(isMachineryError(err) && err.code).toBe('Aborted');
  });

  it('clearTimeout prevents a timer from running', async () => {
    let fired = false;
    const h = systemClock.setTimeout(() => (fired = true), 0);
    systemClock.clearTimeout(h);
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
    expect(fired).toBe(false);
  });
});
