import { describe, expect, it } from 'vitest';
import { execFailureExitCode, runcMessage } from './runc-cli.js';
import { parseFlatKeyed } from './cgroups.js';

describe('runcMessage', () => {
  it('extracts the message from logrus text and JSON lines', () => {
    const text =
      'time="2026-11-26T16:42:20Z" level=error msg="runc create failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH"\n';
    expect(runcMessage(text)).toBe(
      'runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH',
    );
    const json =
      '{"level":"warning","msg":"ignored"}\n{"level":"error","msg":"exec failed: permission denied"}\n';
    expect(runcMessage(json)).toBe('exec failed: permission denied');
  });
  it('maps exec start failures to shell exit codes', () => {
    expect(
      execFailureExitCode(
        'exec failed: unable to start container process: exec: "x": executable file not found in $PATH',
      ),
    ).toBe(127);
    expect(
      execFailureExitCode(
        'exec failed: unable to start container process: exec: "/etc/passwd": permission denied',
      ),
    ).toBe(126);
    expect(execFailureExitCode('something else')).toBeUndefined();
  });
});

describe('parseFlatKeyed', () => {
  it('reads cgroup key/value files', () => {
    const m = parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    expect(m.get('oom_kill')).toBe(2);
  });
});
