import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../testkit/clock.js';
import { Controller, keyOf, splitKey } from './controller.js';
import { isMachineryError } from './errors.js';
import { MemoryLogger } from './logger.js';

describe('keyOf / splitKey', () => {
  it('round-trips namespaced and cluster-scoped keys', () => {
    expect(keyOf({ metadata: { namespace: 'ns', name: 'web' } })).toBe('ns/web');
    expect(keyOf({ metadata: { name: 'node-1' } })).toBe('node-1');
    expect(splitKey('ns/web')).toEqual({ namespace: 'ns', name: 'web' });
    expect(splitKey('node-1')).toEqual({ namespace: undefined, name: 'node-1' });
  });

  it('rejects malformed keys with code InvalidKey', () => {
    for (const bad of ['', '/x', 'x/', 'a/b/c']) {
      let err: unknown;
      try {
        splitKey(bad);
      } catch (e: unknown) {
        err = e;
      }
      expect(isMachineryError(err) && err.code).toBe('InvalidKey');
    }
    expect(() => keyOf({ metadata: {} })).toThrow(/no metadata.name/);
  });
});

describe('Controller', () => {
  it('syncs enqueued keys with N workers, one sync per key at a time, and stop waits for in-flight syncs', async () => {
    const clock = new VirtualClock(0);
    const active = new Set<string>();
    let maxConcurrent = 0;
    const synced: string[] = [];
    const controller = new Controller({
      name: 'test',
      clock,
      workers: 3,
      sync: async (key) => {
        expect(active.has(key)).toBe(false);
        active.add(key);
        maxConcurrent = Math.max(maxConcurrent, active.size);
        await clock.sleep(10);
        active.delete(key);
        synced.push(key);
      },
    });
    controller.start();
    for (const k of ['a', 'b', 'c', 'd']) controller.enqueue(k);
    controller.enqueue('a'); // while a is in flight: one more sync of a afterwards
    await clock.advance(0);
    expect(maxConcurrent).toBe(3);
    await clock.advance(10);
    await clock.advance(10);
    expect(synced.sort()).toEqual(['a', 'a', 'b', 'c', 'd']);
    controller.enqueue('e');
    await clock.advance(0);
    let stopped = false;
    const stopping = controller.stop().then(() => (stopped = true));
    await clock.advance(5);
    expect(stopped).toBe(false); // 'e' still syncing
    await clock.advance(5);
    await stopping;
    expect(synced).toContain('e');
  });

  it('retries a failing key with exponential back-off, then drops it after maxRetries with a log', async () => {
    const clock = new VirtualClock(0);
    const logger = new MemoryLogger();
    const attempts: number[] = [];
    const controller = new Controller({
      name: 'flaky',
      clock,
      maxRetries: 3,
      logger,
      sync: async () => {
        attempts.push(clock.now());
        throw new Error('boom');
      },
    });
    controller.start();
    controller.enqueue('k');
    await clock.advance(1000);
    // first try at 0, then retries after 5, 10 and 20 ms; then dropped.
    expect(attempts).toEqual([0, 5, 15, 35]);
    expect(logger.find('dropping key', 'error')).toHaveLength(1);
    expect(logger.find('will retry', 'warn')).toHaveLength(3);
    expect(controller.queue.numRequeues('k')).toBe(0);
    await controller.stop();
  });

  it('forgets the back-off after a successful sync', async () => {
    const clock = new VirtualClock(0);
    let fail = 2;
    const attempts: number[] = [];
    const controller = new Controller({
      name: 'recovering',
      clock,
      sync: async () => {
        attempts.push(clock.now());
        if (fail-- > 0) throw new Error('not yet');
      },
    });
    controller.start();
    controller.enqueue('k');
    await clock.advance(100);
    expect(attempts).toEqual([0, 5, 15]);
    expect(controller.queue.numRequeues('k')).toBe(0);
    fail = 1;
    controller.enqueue('k');
    await clock.advance(100);
    expect(attempts.slice(3)).toEqual([100, 105]); // back-off restarted at the base delay
    await controller.stop();
  });

  it('refuses to start twice', async () => {
    const controller = new Controller({ name: 'x', clock: new VirtualClock(0), sync: async () => {} });
    controller.start();
    expect(() => controller.start()).toThrow(/already started/);
    await controller.stop();
    await controller.stop();
  });
});
