import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VirtualClock } from '../testkit/clock.js';
import { ExponentialBackoffRateLimiter, WorkQueue } from './workqueue.js';

function queue(clock = new VirtualClock(0)): { q: WorkQueue; clock: VirtualClock } {
  return { q: new WorkQueue({ clock }), clock };
}

describe('WorkQueue', () => {
  it('hands keys out in FIFO order and dedupes a key added while queued', async () => {
    const { q } = queue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('re-queues a key added while it is processed only after done, never to two workers at once', async () => {
    const { q } = queue();
    q.add('a');
    const key = await q.get();
    expect(key).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0); // held back while processing
    let second: string | undefined;
    const waiting = q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done('a');
    await waiting;
    expect(second).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('get waits for an add, and resolves undefined on shutDown', async () => {
    const { q } = queue();
    const first = q.get();
    const second = q.get();
    q.add('x');
    expect(await first).toBe('x');
    q.shutDown();
    expect(await second).toBeUndefined();
    expect(await q.get()).toBeUndefined();
    q.add('y');
    expect(q.len()).toBe(0);
  });

  it('drops queued and delayed keys on shutDown', async () => {
    const { q, clock } = queue();
    q.add('a');
    q.addAfter('b', 100);
    q.shutDown();
    expect(q.len()).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it('addAfter adds the key when the delay passes, keeping the earlier of two delays', async () => {
    const { q, clock } = queue();
    q.addAfter('a', 100);
    q.addAfter('a', 50);
    q.addAfter('a', 200);
    expect(q.waitingLen()).toBe(1);
    await clock.advance(49);
    expect(q.len()).toBe(0);
    await clock.advance(1);
    expect(q.len()).toBe(1);
    await clock.advance(1000);
    expect(q.len()).toBe(1);
    q.addAfter('b', 0);
    expect(q.len()).toBe(2);
  });

  it('addRateLimited backs off exponentially per key until forget', async () => {
    const { q, clock } = queue();
    const readyAfter = async (key: string): Promise<number> => {
      const start = clock.now();
      q.addRateLimited(key);
      while (q.len() === 0) await clock.advance(1);
      const got = await q.get();
      expect(got).toBe(key);
      q.done(key);
      return clock.now() - start;
    };
    expect(await readyAfter('k')).toBe(5);
    expect(await readyAfter('k')).toBe(10);
    expect(await readyAfter('k')).toBe(20);
    expect(q.numRequeues('k')).toBe(3);
    expect(await readyAfter('other')).toBe(5);
    q.forget('k');
    expect(await readyAfter('k')).toBe(5);
  });
});

describe('ExponentialBackoffRateLimiter', () => {
  it('doubles from the base and never exceeds the cap, even after very many failures', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 100, max: 10_000_000 }),
        fc.integer({ min: 1, max: 2000 }),
        (base, cap, n) => {
          const rl = new ExponentialBackoffRateLimiter({ baseDelayMs: base, maxDelayMs: cap });
          const delays = Array.from({ length: n }, () => rl.when('k'));
          expect(delays[0]).toBe(Math.min(base, cap));
          expect(delays.every((d, i) => d <= cap && d >= (delays[i - 1] ?? 0))).toBe(true);
          expect(delays.every((d, i) => d === Math.min(cap, base * 2 ** i))).toBe(true);
          expect(rl.numRequeues('k')).toBe(n);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('defaults to 5 ms base and a 1000 s cap', () => {
    const rl = new ExponentialBackoffRateLimiter();
    const delays = Array.from({ length: 30 }, () => rl.when('k'));
    expect(delays.slice(0, 3)).toEqual([5, 10, 20]);
    expect(delays.at(-1)).toBe(1_000_000);
  });
});

describe('WorkQueue model check', () => {
  it('every added key is processed after its last add, and never by two workers at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.constantFrom('a', 'b', 'c').map((k) => ({ op: 'add' as const, k })),
            fc.constant({ op: 'step' as const, k: '' }),
          ),
          {
            maxLength: 60,
          },
        ),
        async (ops) => {
          const { q } = queue();
          const inFlight = new Set<string>();
          const addedSinceStart = new Map<string, boolean>();
          let held: string[] = [];
          for (const { op, k } of ops) {
            if (op === 'add') {
              q.add(k);
              addedSinceStart.set(k, true);
            } else if (held.length > 0) {
              const key = held[0]!;
              held = held.slice(1);
              inFlight.delete(key);
              q.done(key);
            } else if (q.len() > 0) {
              const key = (await q.get())!;
              expect(inFlight.has(key)).toBe(false);
              inFlight.add(key);
              addedSinceStart.set(key, false);
              held.push(key);
            }
          }
          for (const key of held) q.done(key);
          // Drain: every key added after its last hand-out must come out once more.
          const drained = new Set<string>();
          while (q.len() > 0) {
            const key = (await q.get())!;
            expect(drained.has(key)).toBe(false);
            drained.add(key);
            q.done(key);
          }
          for (const [key, pending] of addedSinceStart) expect(drained.has(key)).toBe(pending);
        },
      ),
      { numRuns: 200 },
    );
  });
});
