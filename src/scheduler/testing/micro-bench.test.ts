import { describe, expect, it } from 'vitest';
import { formatBench, runSchedulerBench } from './micro-bench.js';

describe('scheduler micro-benchmark (prints pods/s, asserts only that pods were placed)', () => {
  it('5,000 nodes', () => {
    const lines: string[] = [];
    for (const mode of ['plain', 'spread', 'anti-affinity', 'affinity'] as const) {
      const r = runSchedulerBench({
        nodes: 5000,
        pods: mode === 'plain' ? 2000 : 500,
        mode,
        existingPods: 2000,
      });
      lines.push(formatBench(r));
      expect(r.scheduled).toBe(r.pods);
    }
    console.log(`\n${lines.join('\n')}`);
  });
});
