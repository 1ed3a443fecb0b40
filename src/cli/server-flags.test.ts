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
