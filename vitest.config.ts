import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Integration suites start real servers, etcd and kubectl; keep the 2-core machine from thrashing.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
