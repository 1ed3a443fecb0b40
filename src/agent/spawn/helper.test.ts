// The spawn helper runs real commands (sh, cat, a missing file): every answer must match what Node's own
// child_process gives for the same command, since the agent switches between them with FLOTILLA_SPAWN.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HelperProcessRunner, NodeProcessRunner, SpawnError, type ProcessRunner } from './helper.js';

const helper = new HelperProcessRunner();
const dir = mkdtempSync(join(tmpdir(), 'flotilla-spawn-'));
afterAll(() => {
  helper.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.each<[string, ProcessRunner]>([
  ['helper', helper],
  ['node', new NodeProcessRunner()],
])('%s runner', (_name, runner) => {
  it('gives the exit code, stdout and stderr of a command', async () => {
    const r = await runner.run('/bin/sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ code: 3, signal: null, timedOut: false, stdout: 'out\n', stderr: 'err\n' });
  });

  it('feeds the input to stdin and closes it', async () => {
    const input = 'x'.repeat(200_000) + '\nend\n';
    const r = await runner.run('/bin/cat', [], { input });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(input);
  });

  it('gives stdin at EOF when there is no input', async () => {
    const r = await runner.run('/bin/cat', []);
    expect(r).toMatchObject({ code: 0, stdout: '' });
  });

  it('keeps arguments with spaces, quotes and UTF-8 as they are', async () => {
    const args = ['a b', `"q'`, 'ünï', ''];
    const r = await runner.run('/bin/sh', [
      '-c',
      'for a in "$@"; do printf "[%s]" "$a"; done',
      'sh',
      ...args,
    ]);
    expect(r.stdout).toBe('[a b]["q\'][ünï][]');
  });

  it('runs in the given directory with exactly the given environment', async () => {
    const r = await runner.run('/bin/sh', ['-c', 'pwd; echo "$ONLY"; env | wc -l'], {
      cwd: dir,
      env: { ONLY: 'this', PATH: '/usr/bin:/bin' },
    });
    const [pwd, only, count] = r.stdout.trim().split('\n');
    expect(pwd).toBe(dir);
    expect(only).toBe('this');
    // ONLY and PATH, and the PWD (and perhaps SHLVL or _) the shell itself sets.
    expect(Number(count)).toBeLessThanOrEqual(5);
  });

  it('inherits the environment when none is given', async () => {
    const r = await runner.run('/bin/sh', ['-c', 'echo "$HOME"']);
    expect(r.stdout.trim()).toBe(process.env.HOME ?? '');
  });

  it('reports a command ended by a signal', async () => {
    const r = await runner.run('/bin/sh', ['-c', 'kill -TERM $$']);
    expect(r).toMatchObject({ code: null, signal: 'SIGTERM', timedOut: false });
  });

  it('kills a command that outlives its timeout and says so', async () => {
    const start = Date.now();
    const r = await runner.run('/bin/sleep', ['30'], { timeoutMs: 300 });
    expect(r).toMatchObject({ code: null, signal: 'SIGKILL', timedOut: true });
    expect(Date.now() - start).toBeLessThan(5000);
  });

  it('rejects with the errno name when the file cannot be run', async () => {
    const err = await runner.run(join(dir, 'missing'), []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpawnError);
    expect((err as SpawnError).code).toBe('ENOENT');
    expect((err as SpawnError).message).toContain('missing');
  });

  it('answers many commands at once, each with its own output', async () => {
    const rs = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        runner.run('/bin/sh', ['-c', `head -c ${i * 3000} /dev/zero | tr '\\0' a; echo ${i} >&2`]),
      ),
    );
    rs.forEach((r, i) => {
      expect(r.stdout.length).toBe(i * 3000);
      expect(r.stderr).toBe(`${i}\n`);
    });
  });

  it('starts a detached command and returns the first line it writes to fd 3', async () => {
    const log = join(dir, `sync-${_name}.log`);
    const r = await runner.runSynced(
      '/bin/sh',
      // Both lines in one write: once the first line is answered the helper closes the pipe, and a later
      // write to it would end the shell with SIGPIPE. It then lives until the test has looked at it.
      ['-c', 'echo logged; printf \'{"pid": %s}\\nmore\\n\' $$ >&3; exec sleep 30'],
      {
        cwd: dir,
        logFile: log,
      },
    );
    expect(r.line).toMatch(/^\{"pid": \d+\}$/);
    const pid = (JSON.parse(r.line ?? '{}') as { pid: number }).pid;
    // Its own session: a signal to the agent's process group does not reach it.
    const sid = execFileSync('ps', ['-o', 'sid=', '-p', String(pid)])
      .toString()
      .trim();
    try {
      expect(sid).toBe(String(pid));
      expect(readFileSync(log, 'utf8')).toContain('logged\n');
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });

  it('says how a detached command ended when it reports nothing', async () => {
    const r = await runner.runSynced('/bin/sh', ['-c', 'echo failing; exit 7'], {
      cwd: dir,
      logFile: join(dir, `fail-${_name}.log`),
    });
    expect(r).toEqual({ code: 7, signal: null });
    expect(readFileSync(join(dir, `fail-${_name}.log`), 'utf8')).toBe('failing\n');
  });

  it('rejects a detached command that cannot be run, and writes nothing', async () => {
    const err = await runner
      .runSynced(join(dir, 'no-conmon'), [], { cwd: dir, logFile: join(dir, `missing-${_name}.log`) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpawnError);
    expect((err as SpawnError).code).toBe('ENOENT');
  });
  // Root only (mount and network namespaces); CI runs as root.
  it.runIf(process.getuid?.() === 0)(
    'mounts and unmounts an overlay, and reports a failed one like mount(8) does',
    async () => {
      const base = mkdtempSync(join(dir, 'ovl-'));
      for (const d of ['lower', 'upper', 'work', 'merged']) execFileSync('mkdir', [join(base, d)]);
      writeFileSync(join(base, 'lower', 'hello'), 'from the lower layer');
      const merged = join(base, 'merged');
      const data = `lowerdir=${base}/lower,upperdir=${base}/upper,workdir=${base}/work`;
      const mounted = await runner.native({
        op: 'mount',
        source: 'overlay',
        target: merged,
        fstype: 'overlay',
        data,
      });
      expect(mounted.code).toBe(0);
      expect(readFileSync(join(merged, 'hello'), 'utf8')).toBe('from the lower layer');
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).toContain(` ${merged} `);
      expect((await runner.native({ op: 'umount', target: merged })).code).toBe(0);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(` ${merged} `);
      // Not mounted any more, and a target that does not exist: non-zero, with the path in the message.
      const again = await runner.native({ op: 'umount', target: merged });
      expect(again.code).not.toBe(0);
      expect(again.stderr).toContain(merged);
      const missing = await runner.native({
        op: 'mount',
        source: 'overlay',
        target: join(base, 'absent'),
        fstype: 'overlay',
        data,
      });
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain(join(base, 'absent'));
    },
  );

  it.runIf(process.getuid?.() === 0)(
    'adds a network namespace as ip netns add does, refuses one that exists, and deletes it',
    async () => {
      const name = `flotilla-spawn-ns-${process.pid}-${_name}`;
      const netnsPath = `/var/run/netns/${name}`;
      // ip makes the dir a shared mount on its first use; the helper expects that done.
      execFileSync('ip', ['netns', 'add', `${name}-first`]);
      execFileSync('ip', ['netns', 'delete', `${name}-first`]);
      try {
        expect(await runner.native({ op: 'netns-add', netnsPath })).toMatchObject({ code: 0 });
        expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).toContain(name);
        // A namespace of its own: only lo, down, and not the host's.
        const links = execFileSync('ip', ['-n', name, '-o', 'link'], { encoding: 'utf8' }).trim().split('\n');
        expect(links).toHaveLength(1);
        expect(links[0]).toMatch(/^1: lo:/);
        const again = await runner.native({ op: 'netns-add', netnsPath });
        expect(again.code).not.toBe(0);
        expect(again.stderr).toMatch(/exists/);
        expect(await runner.native({ op: 'netns-delete', netnsPath })).toMatchObject({ code: 0 });
        expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(name);
        expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(netnsPath.replace('/var', ''));
      } finally {
        execFileSync('sh', ['-c', `ip netns delete ${name} 2>/dev/null || true`]);
      }
    },
  );

  it.runIf(process.getuid?.() === 0)('sets lo up in a network namespace', async () => {
    const name = `flotilla-spawn-test-${process.pid}-${_name}`;
    execFileSync('ip', ['netns', 'add', name]);
    try {
      const lo = (): string =>
        execFileSync('ip', ['-n', name, '-o', 'link', 'show', 'lo'], { encoding: 'utf8' });
      expect(lo()).not.toMatch(/[<,]UP[,>]/);
      expect((await runner.native({ op: 'lo-up', netnsPath: `/var/run/netns/${name}` })).code).toBe(0);
      expect(lo()).toMatch(/[<,]UP[,>]/);
      const gone = await runner.native({ op: 'lo-up', netnsPath: '/var/run/netns/flotilla-no-such-netns' });
      expect(gone.code).not.toBe(0);
      expect(gone.stderr).toMatch(/flotilla-no-such-netns/);
    } finally {
      execFileSync('ip', ['netns', 'delete', name]);
    }
  });
});

describe('helper process', () => {
  it('is started again after it dies; what was pending is rejected, not lost silently', async () => {
    const runner = new HelperProcessRunner();
    await runner.run('/bin/true', []);
    const first = runner.pid;
    const pending = runner.run('/bin/sleep', ['5']);
    process.kill(first ?? 0, 'SIGKILL');
    await expect(pending).rejects.toThrow(/spawn helper exited/);
    const again = await runner.run('/bin/sh', ['-c', 'echo back']);
    expect(again.stdout).toBe('back\n');
    expect(runner.pid).not.toBe(first);
    runner.close();
  });

  it('falls back to Node when perl is missing', async () => {
    const runner = new HelperProcessRunner(join(dir, 'no-perl'));
    const r = await runner.run('/bin/sh', ['-c', 'echo fallback']);
    expect(r.stdout).toBe('fallback\n');
  });

  it('keeps the process alive only while a command is pending', async () => {
    const processes = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === 'ProcessWrap').length;
    const runner = new HelperProcessRunner();
    await runner.run('/bin/true', []);
    const idle = processes();
    const pending = runner.run('/bin/sleep', ['0.3']);
    expect(processes()).toBe(idle + 1);
    await pending;
    expect(processes()).toBe(idle);
    runner.close();
  });
});
