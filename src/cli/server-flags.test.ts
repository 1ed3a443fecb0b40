import { describe, expect, it } from 'vitest';
import { memoryIO } from './io.js';
import { run } from './main.js';

describe('server toleration flags', () => {
  it.each([
    ['--default-not-ready-toleration-seconds', '-1'],
    ['--default-unreachable-toleration-seconds', '2.5'],
    ['--default-unreachable-toleration-seconds', 'soon'],
  ])('%s %s is refused before anything starts, naming the flag', async (flag, value) => {
    const io = memoryIO();
    const code = await run(['server', '--data-dir', '/nonexistent/flotilla-flag-test', flag, value], io);
    expect(code).toBe(2);
    expect(io.err()).toContain(flag);
    expect(io.err()).toContain('whole number of seconds');
  });

  it('are listed by `flotilla server --help` and `flotilla up --help`', async () => {
    for (const cmd of ['server', 'up']) {
      const io = memoryIO();
      expect(await run([cmd, '--help'], io)).toBe(0);
      expect(io.out()).toContain('--default-not-ready-toleration-seconds');
      expect(io.out()).toContain('--default-unreachable-toleration-seconds');
    }
  });
});

describe('server service range flags', () => {
  it.each([
    ['--service-cluster-ip-range', '10.43.0.0', 'must be an IPv4 CIDR'],
    ['--service-cluster-ip-range', '10.0.0.0/8', 'between /12 and /30'],
    ['--service-cluster-ip-range', 'fd00::/108', 'only IPv4'],
    ['--service-node-port-range', '32767-30000', 'must be a port range'],
    ['--service-node-port-range', '30000-70000', 'must be a port range'],
  ])('%s %s is refused before anything starts, naming the flag', async (flag, value, why) => {
    const io = memoryIO();
    const code = await run(['server', '--data-dir', '/nonexistent/flotilla-flag-test', flag, value], io);
    expect(code).toBe(2);
    expect(io.err()).toContain(flag);
    expect(io.err()).toContain(why);
  });

  it('are listed by `flotilla server --help` and `flotilla up --help` with their defaults', async () => {
    for (const cmd of ['server', 'up']) {
      const io = memoryIO();
      expect(await run([cmd, '--help'], io)).toBe(0);
      expect(io.out()).toMatch(/--service-cluster-ip-range <cidr>[\s\S]*10\.43\.0\.0\/16/);
      expect(io.out()).toMatch(/--service-node-port-range <min-max>[\s\S]*30000-32767/);
    }
  });
});

describe('server --deployment-rollback-on-failure', () => {
  it('is listed by `flotilla server --help` and `flotilla up --help`, naming the opt-out annotation', async () => {
    for (const cmd of ['server', 'up']) {
      const io = memoryIO();
      expect(await run([cmd, '--help'], io)).toBe(0);
      expect(io.out()).toMatch(/--deployment-rollback-on-failure[\s\S]*flotilla\.dev\/rollback-on-failure/);
    }
  });
});

describe('server --hpa-sync-period', () => {
  it.each(['soon', '0s'])(
    '--hpa-sync-period %s is refused before anything starts, naming the flag',
    async (value) => {
      const io = memoryIO();
      const code = await run(
        ['server', '--data-dir', '/nonexistent/flotilla-flag-test', '--hpa-sync-period', value],
        io,
      );
      expect(code).toBe(2);
      expect(io.err()).toContain('--hpa-sync-period');
    },
  );

  it('is listed by `flotilla server --help` and `flotilla up --help` with its default', async () => {
    for (const cmd of ['server', 'up']) {
      const io = memoryIO();
      expect(await run([cmd, '--help'], io)).toBe(0);
      expect(io.out()).toMatch(/--hpa-sync-period <duration>[\s\S]*default 15s/);
    }
  });
});
