import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dueInWindow } from './schedule.js';

describe('dueInWindow', () => {
  it.each([
    // from, to, period, count, expected
    [0, 100, 10_000, 100, [1]], // offsets 0,100,200,...: (0,100] holds 100
    [100, 1000, 10_000, 100, [2, 3, 4, 5, 6, 7, 8, 9, 10]],
    [9_900, 10_100, 10_000, 100, [0, 1]], // wraps past the period start
    [5_000, 5_000, 10_000, 100, []], // empty window
    [0, 10_000, 10_000, 3, [0, 1, 2]], // a whole period: everyone
    [0, 50_000, 10_000, 3, [0, 1, 2]], // more than a period: still once each
    [0, 1000, 10_000, 0, []],
  ])('(%i, %i] with period %i over %i nodes', (from, to, period, count, expected) => {
    expect(dueInWindow(from, to, period, count)).toEqual(expected);
  });

  it('spreads 5,000 nodes at 10 s into about 50 renewals per 100 ms tick', () => {
    const sizes: number[] = [];
    for (let t = 0; t < 10_000; t += 100) sizes.push(dueInWindow(t, t + 100, 10_000, 5_000).length);
    expect(Math.min(...sizes)).toBe(50);
    expect(Math.max(...sizes)).toBe(50);
  });

  it('gives every node exactly once per period, whatever the tick lengths', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 100, max: 20_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.array(fc.integer({ min: 1, max: 3_000 }), { minLength: 1, maxLength: 200 }),
        (count, period, start, steps) => {
          const seen = new Array<number>(count).fill(0);
          let t = start;
          for (const step of steps) {
            if (step >= period) continue; // a window of a period or more returns everyone once (tested above)
            for (const i of dueInWindow(t, t + step, period, count)) seen[i] = (seen[i] ?? 0) + 1;
            t += step;
          }
          const elapsed = t - start;
          // Each node's instants in (start, t]: floor or ceil of elapsed/period.
          for (const n of seen) {
            expect(n).toBeGreaterThanOrEqual(Math.floor(elapsed / period));
            expect(n).toBeLessThanOrEqual(Math.ceil(elapsed / period));
          }
        },
      ),
    );
  });
});
