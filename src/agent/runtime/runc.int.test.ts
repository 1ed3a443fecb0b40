// RuncRuntime against the real runc 1.1 and conmon 2.1 (as root), with a busybox layer dir.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../testkit/eventually.js';
import { detectCgroupLayout, cgroupDirs } from './cgroups.js';
import { isRuntimeError, type RuntimeError } from './errors.js';
import { mountPointsUnder, RuncRuntime } from './runc.js';
import { busyboxSpec, makeBusyboxLayer, realRuntimeUnavailable, uniqueId } from './testing.js';
import type { ContainerCreateSpec, ContainerStatus, ExecSession } from './types.js';

const unavailable = realRuntimeUnavailable();
if (unavailable !== undefined) console.warn(`skipping RuncRuntime integration tests: ${unavailable}`);

/** A process that exists and is not a zombie (conmon is reparented to init, which may reap it late). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  if (stream === null) return '';
  let out = '';
  for await (const chunk of stream) out += typeof chunk === 'string' ? chunk : chunk.toString();
  return out;
}

async function runExec(s: ExecSession, input?: string): Promise<{ out: string; err: string; code: number }> {
  const out = collect(s.stdout);
  const err = collect(s.stderr);
  if (s.stdin !== null) s.stdin.end(input ?? '');
  const code = await s.exit;
  return { out: await out, err: await err, code };
}

describe.skipIf(unavailable !== undefined)('RuncRuntime (real runc + conmon)', () => {
  let base: string;
  let layer: string;
  let rt: RuncRuntime;
  const cgroupParent = uniqueId('flotilla-rttest');

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'flotilla-runc-'));
    layer = makeBusyboxLayer(join(base, 'layer'));
    rt = new RuncRuntime({ root: join(base, 'containers'), runcRoot: join(base, 'runc') });
  });

  afterAll(async () => {
    if (rt !== undefined) {
      for (const c of await rt.listContainers()) await rt.removeContainer(c.id);
      await rt.removePodCgroup(cgroupParent);
    }
    if (base !== undefined) {
      expect(await mountPointsUnder(base)).toEqual([]);
      await rm(base, { recursive: true, force: true });
    }
  });

  const spec = (args: string[], o: Parameters<typeof busyboxSpec>[3] = {}): ContainerCreateSpec =>
    busyboxSpec(layer, cgroupParent, args, o);

  async function run(s: ContainerCreateSpec): Promise<void> {
    await rt.createContainer(s);
    await rt.startContainer(s.id);
  }

  async function exited(id: string, timeoutMs = 30_000, r: RuncRuntime = rt): Promise<ContainerStatus> {
    return eventually(async () => {
      const st = await r.containerStatus(id);
      expect(st?.state).toBe('exited');
      return st as ContainerStatus;
    }, timeoutMs);
  }

  it('runs echo hello: CRI log lines and exit code 0', async () => {
    const s = spec(['sh', '-c', 'echo hello; echo oops >&2']);
    await rt.createContainer(s);
    expect((await rt.containerStatus(s.id))?.state).toBe('created');
    await rt.startContainer(s.id);
    const st = await exited(s.id);
    expect(st.exitCode).toBe(0);
    expect(st.finishedAt).toBeInstanceOf(Date);
    expect(st.startedAt).toBeInstanceOf(Date);
    expect(st.labels.containerName).toBe(s.id);
    const log = await readFile(st.logPath, 'utf8');
    expect(log).toMatch(/^\d{4}-\d\d-\d\dT\S+ stdout F hello$/m);
    expect(log).toMatch(/^\S+ stderr F oops$/m);
    await rt.removeContainer(s.id);
  });

  it('makes the process only once `after` settled, and leaves nothing behind when it rejects', async () => {
    // The pod worker prepares a container while the pod's network namespace is still being created.
    let go: () => void = () => undefined;
    const gate = new Promise<void>((r) => (go = r));
    const s = spec(['sh', '-c', 'echo ran']);
    const creating = rt.createContainer(s, { after: gate });
    const dir = join(rt.root, s.id);
    // The rootfs is mounted while the process waits for the gate; conmon has not been started.
    await eventually(async () => expect(await mountPointsUnder(dir)).not.toEqual([]));
    expect(existsSync(join(dir, 'conmon.pid'))).toBe(false);
    expect((await rt.containerStatus(s.id))?.state).toBe('created');
    go();
    await creating;
    await rt.startContainer(s.id);
    expect((await exited(s.id)).exitCode).toBe(0);
    await rt.removeContainer(s.id);

    const cancelled = spec(['sh', '-c', 'echo never']);
    const err = await rt
      .createContainer(cancelled, { after: Promise.reject(new Error('no network namespace')) })
      .then(
        () => undefined,
        (e: unknown) => e as RuntimeError,
      );
    expect(err?.code).toBe('Cancelled');
    expect(err?.message).toMatch(/no network namespace/);
    expect(existsSync(join(rt.root, cancelled.id))).toBe(false);
    expect(await rt.containerStatus(cancelled.id)).toBeUndefined();
  });

  it('stops a container on SIGTERM, and SIGKILLs one that ignores it after the timeout', async () => {
    const polite = spec(['sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait']);
    // PID 1 of a pid namespace ignores SIGTERM unless it handles it: plain `sleep` is SIGKILLed.
    const stubborn = spec(['sleep', '1000']);
    await run(polite);
    await run(stubborn);
    await eventually(async () => expect((await rt.containerStatus(polite.id))?.state).toBe('running'));
    await sleep(300); // let the shell install its trap

    let t0 = Date.now();
    await rt.stopContainer(polite.id, 20);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect((await rt.containerStatus(polite.id))?.exitCode).toBe(0);

    t0 = Date.now();
    await rt.stopContainer(stubborn.id, 2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
    const st = await rt.containerStatus(stubborn.id);
    expect(st?.state).toBe('exited');
    expect(st?.exitCode).toBe(137);
    await rt.stopContainer(stubborn.id, 2); // already exited: a no-op
    await rt.removeContainer(polite.id);
    await rt.removeContainer(stubborn.id);
  });

  it('exec returns output and exit codes, with and without a tty', async () => {
    const s = spec(['sleep', '1000']);
    await run(s);
    await eventually(async () => expect((await rt.containerStatus(s.id))?.state).toBe('running'));

    let r = await runExec(await rt.exec(s.id, { command: ['echo', 'hi'], tty: false, stdin: false }));
    expect(r).toMatchObject({ out: 'hi\n', code: 0 });
    r = await runExec(
      await rt.exec(s.id, { command: ['sh', '-c', 'echo e >&2; exit 3'], tty: false, stdin: false }),
    );
    expect(r).toMatchObject({ err: 'e\n', code: 3 });
    r = await runExec(await rt.exec(s.id, { command: ['nope'], tty: false, stdin: false }));
    expect(r.code).toBe(127);
    expect(r.err).toContain('executable file not found');
    r = await runExec(await rt.exec(s.id, { command: ['/etc/passwd'], tty: false, stdin: false }));
    expect(r.code).toBe(126);
    r = await runExec(await rt.exec(s.id, { command: ['cat'], tty: false, stdin: true }), 'from stdin');
    expect(r).toMatchObject({ out: 'from stdin', code: 0 });

    r = await runExec(
      await rt.exec(s.id, {
        command: ['sh', '-c', 'sleep 0.5; tty; stty size; exit 3'],
        tty: true,
        stdin: false,
        columns: 100,
        rows: 30,
      }),
    );
    expect(r.code).toBe(3);
    expect(r.out).toContain('/dev/pts/');
    expect(r.out).toContain('30 100');
    r = await runExec(await rt.exec(s.id, { command: ['nope'], tty: true, stdin: false }));
    expect(r.code).toBe(127);

    // resize reaches the process; stdin through the terminal
    const session = await rt.exec(s.id, { command: ['sh'], tty: true, stdin: true, columns: 80, rows: 24 });
    const out = collect(session.stdout);
    session.resize(132, 43);
    await sleep(300);
    session.stdin?.write('stty size; exit 5\n');
    expect(await session.exit).toBe(5);
    expect(await out).toContain('43 132');

    await rt.stopContainer(s.id, 0);
    await rt.removeContainer(s.id);
  });

  it('two containers from one layer dir do not see each other’s files; removal discards them', async () => {
    const a = spec(['sh', '-c', 'echo secret > /data.txt; sleep 1000']);
    const b = spec(['sleep', '1000']);
    b.labels = { ...b.labels, podUid: '0000-other-pod' };
    await run(a);
    await run(b);
    // A pod's own listing (what its worker asks for) has its containers only.
    expect((await rt.listContainers({ podUid: '0000-other-pod' })).map((c) => c.id)).toEqual([b.id]);
    expect((await rt.listContainers()).map((c) => c.id)).toEqual(expect.arrayContaining([a.id, b.id]));
    await eventually(async () => {
      const r = await runExec(
        await rt.exec(a.id, { command: ['cat', '/data.txt'], tty: false, stdin: false }),
      );
      expect(r.out).toBe('secret\n');
    });
    const rb = await runExec(
      await rt.exec(b.id, { command: ['cat', '/data.txt'], tty: false, stdin: false }),
    );
    expect(rb.code).not.toBe(0);
    expect(existsSync(join(layer, 'data.txt'))).toBe(false);
    await rt.stopContainer(a.id, 0);
    await rt.removeContainer(a.id);

    const c = spec(['cat', '/data.txt']);
    await run(c);
    expect((await exited(c.id)).exitCode).not.toBe(0);
    for (const id of [b.id, c.id]) {
      await rt.stopContainer(id, 0);
      await rt.removeContainer(id);
    }
  });

  it('reports oomKilled when a container exceeds its memory limit', async () => {
    const s = spec(['sh', '-c', 'x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done'], {
      resources: { cpuRequestMilli: 100, memoryLimitBytes: 32 * 1024 * 1024 },
    });
    await run(s);
    const st = await exited(s.id, 60_000);
    expect(st.oomKilled).toBe(true);
    expect(st.exitCode).toBe(137);
    await rt.removeContainer(s.id);
    // conmon's `oom` marker went with the container, not into the agent's working directory.
    expect(existsSync(join(process.cwd(), 'oom'))).toBe(false);
  });

  it('holds a busy loop with cpuLimit 500m to about half a core (stats over 3 s)', async () => {
    const s = spec(['sh', '-c', 'while :; do :; done'], {
      resources: { cpuRequestMilli: 100, cpuLimitMilli: 500 },
    });
    await run(s);
    await sleep(500);
    const a = await rt.stats(s.id);
    await sleep(3000);
    const b = await rt.stats(s.id);
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    const cores =
      (b!.cpuUsageNanos - a!.cpuUsageNanos) / ((b!.timestamp.getTime() - a!.timestamp.getTime()) * 1e6);
    console.log(`busy loop with cpuLimit 500m used ${(cores * 1000).toFixed(0)}m over 3 s`);
    expect(cores).toBeGreaterThan(0.4);
    expect(cores).toBeLessThan(0.6);
    expect(b!.memoryWorkingSetBytes).toBeGreaterThan(0);
    expect(b!.memoryUsageBytes).toBeGreaterThanOrEqual(b!.memoryWorkingSetBytes);
    await rt.stopContainer(s.id, 0);
    await rt.removeContainer(s.id);
  });

  it('rejects a missing executable with runc’s message, also shown in the status', async () => {
    const s = spec(['nope']);
    const err = await rt.createContainer(s).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isRuntimeError(err)).toBe(true);
    expect((err as Error).message).toContain('exec: "nope": executable file not found in $PATH');
    const st = await rt.containerStatus(s.id);
    expect(st?.state).toBe('exited');
    expect(st?.message).toContain('executable file not found');
    expect(await mountPointsUnder(join(rt.root, s.id))).toEqual([]);
    await rt.removeContainer(s.id);
    expect(await rt.containerStatus(s.id)).toBeUndefined();
  });

  it('a second RuncRuntime on the same root adopts a running container and stops it', async () => {
    const s = spec(['sleep', '1000']);
    await run(s);
    const rt2 = new RuncRuntime({ root: rt.root, runcRoot: rt.runcRoot });
    const listed = await eventually(async () => {
      const l = (await rt2.listContainers()).find((c) => c.id === s.id);
      expect(l?.state).toBe('running');
      return l as ContainerStatus;
    });
    expect(listed.pid).toBeGreaterThan(0);
    expect(listed.labels).toEqual(s.labels);
    await rt2.stopContainer(s.id, 1);
    expect((await rt.containerStatus(s.id))?.exitCode).toBe(137);
    await rt2.removeContainer(s.id);
  });

  it("a pod's own listing sees another runtime's new container within a second, and its removal", async () => {
    const rt2 = new RuncRuntime({ root: rt.root, runcRoot: rt.runcRoot });
    expect(await rt2.listContainers()).toBeDefined(); // rt2 has read the root once
    const s = spec(['sleep', '1000']);
    await run(s); // made by rt, not rt2
    const mine = (): Promise<ContainerStatus[]> => rt2.listContainers({ podUid: s.labels.podUid });
    const started = Date.now();
    await eventually(async () => expect((await mine()).map((c) => c.id)).toEqual([s.id]), 5_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    await rt.stopContainer(s.id, 0);
    await rt.removeContainer(s.id);
    await eventually(async () => expect(await mine()).toEqual([]), 2_000);
  });

  it('tells exit listeners as soon as conmon writes the exit file (no polling)', async () => {
    const s = spec(['sh', '-c', 'sleep 0.5; exit 3']);
    const heard: string[] = [];
    let resolveHeard: () => void = () => undefined;
    const exitHeard = new Promise<void>((r) => (resolveHeard = r));
    const off = rt.onExit((id, labels) => {
      heard.push(`${id} ${labels.containerName}`);
      if (id === s.id) resolveHeard();
    });
    try {
      await run(s);
      const started = Date.now();
      await exitHeard;
      // The listener looks again: by then (or a moment later) the status has the exit code.
      const st = await exited(s.id, 5_000);
      expect(st.exitCode).toBe(3);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(heard).toContain(`${s.id} ${s.labels.containerName}`);
    } finally {
      off();
    }
    await rt.removeContainer(s.id);
  });

  it('a container whose conmon was killed is running while runc says so, then exited with the exit code lost', async () => {
    const s = spec(['sleep', '1000']);
    await run(s);
    await eventually(async () => expect((await rt.containerStatus(s.id))?.state).toBe('running'));
    const dir = join(rt.root, s.id);
    const conmonPid = Number((await readFile(join(dir, 'conmon.pid'), 'utf8')).trim());
    const containerPid = Number((await readFile(join(dir, 'container.pid'), 'utf8')).trim());
    process.kill(conmonPid, 'SIGKILL');
    await eventually(() => expect(alive(conmonPid)).toBe(false));
    // A runtime that never saw this conmon alive (an agent restarted after the kill) asks runc.
    const fresh = (): RuncRuntime => new RuncRuntime({ root: rt.root, runcRoot: rt.runcRoot });
    const st = await fresh().containerStatus(s.id);
    expect(st?.state).toBe('running');
    expect(st?.pid).toBe(containerPid);
    process.kill(containerPid, 'SIGKILL');
    const gone = await exited(s.id, 30_000, fresh());
    expect(gone.message).toMatch(/conmon\) died: exit code lost/);
    await rt.removeContainer(s.id);
    expect(existsSync(dir)).toBe(false);
  });

  it('remove leaves no mount, cgroup, process or dir behind (and prints conmon RSS)', async () => {
    const s = spec(['sleep', '1000'], { resources: { cpuRequestMilli: 100, memoryLimitBytes: 64 << 20 } });
    await run(s);
    const running = await eventually(async () => {
      const st = await rt.containerStatus(s.id);
      expect(st?.state).toBe('running');
      return st as ContainerStatus;
    });
    const dir = join(rt.root, s.id);
    const conmonPid = Number((await readFile(join(dir, 'conmon.pid'), 'utf8')).trim());
    const status = await readFile(`/proc/${conmonPid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    console.log(`conmon RSS for one container: ${rss} kB`);
    expect(Number(rss)).toBeGreaterThan(0);
    const layout = await detectCgroupLayout();
    const dirs = cgroupDirs(layout, `/${cgroupParent}/${s.id}`);
    expect(dirs.some((d) => existsSync(d))).toBe(true);
    expect(await mountPointsUnder(dir)).not.toEqual([]);

    await rt.removeContainer(s.id); // running: remove kills it
    expect(await mountPointsUnder(dir)).toEqual([]);
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
    expect(alive(conmonPid)).toBe(false);
    expect(alive(running.pid ?? 0)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    await rt.removeContainer(s.id); // idempotent
  });

  it('starts without a runc process as runc start would: runc then says running; remove leaves runc nothing', async () => {
    const runcRoot = join(base, 'runc');
    const runcState = (id: string): { code: number; status?: string } => {
      const r = spawnSync('runc', ['--root', runcRoot, 'state', id], { encoding: 'utf8' });
      return r.status === 0
        ? { code: 0, status: (JSON.parse(r.stdout) as { status: string }).status }
        : { code: r.status ?? -1 };
    };
    const s = spec(['sleep', '1000']);
    await rt.createContainer(s);
    expect(runcState(s.id).status).toBe('created');
    await rt.startContainer(s.id);
    expect(runcState(s.id).status).toBe('running');
    expect(existsSync(join(runcRoot, s.id, 'exec.fifo'))).toBe(false);
    // Starting it again is refused with runc's own words.
    await expect(rt.startContainer(s.id)).rejects.toThrow(/cannot start/);
    await rt.removeContainer(s.id);
    expect(runcState(s.id).code).not.toBe(0);
    expect(existsSync(join(runcRoot, s.id))).toBe(false);

    // A created container whose init died before the start: refused at once, nothing waits forever.
    const d = spec(['sleep', '1000']);
    await rt.createContainer(d);
    const pid = Number(
      JSON.parse(await readFile(join(runcRoot, d.id, 'state.json'), 'utf8')).init_process_pid,
    );
    process.kill(pid, 'SIGKILL');
    const t0 = Date.now();
    await expect(rt.startContainer(d.id)).rejects.toThrow(/dead|cannot start|stopped/);
    expect(Date.now() - t0).toBeLessThan(5_000);
    await rt.removeContainer(d.id);
    expect(existsSync(join(runcRoot, d.id))).toBe(false);
  });

  it('a removal cut short still lists the container until it is removed; dirs without a record are swept', async () => {
    const s = spec(['true']);
    await run(s);
    await exited(s.id);
    // As if the agent died in the middle of a removal: the runc state and most files are gone.
    await rt.removeContainer(s.id);
    const stray = join(rt.root, `${s.id}x`);
    await mkdir(join(stray, 'bundle'), { recursive: true });
    expect(existsSync(join(rt.root, s.id))).toBe(false);
    expect(await rt.removeIncomplete()).toEqual([`${s.id}x`]);
    expect(existsSync(stray)).toBe(false);
    // A container whose dir still has its record is listed and can be removed again.
    const t = spec(['true']);
    await run(t);
    await exited(t.id);
    await rm(join(rt.root, t.id, 'bundle', 'config.json'), { force: true });
    expect((await rt.listContainers()).map((c) => c.id)).toContain(t.id);
    await rt.removeContainer(t.id);
    expect(existsSync(join(rt.root, t.id))).toBe(false);
    expect(await rt.removeIncomplete()).toEqual([]);
  });

  it('readOnlyRootFilesystem refuses writes', async () => {
    const s = spec(['sh', '-c', 'touch /x && echo wrote'], { security: { readOnlyRootFilesystem: true } });
    await run(s);
    const st = await exited(s.id);
    expect(st.exitCode).not.toBe(0);
    expect(await readFile(st.logPath, 'utf8')).toContain('Read-only file system');
    await rt.removeContainer(s.id);
  });

  it('a non-privileged container cannot mount', async () => {
    const s = spec(['sh', '-c', 'mount -t tmpfs none /mnt && echo mounted']);
    await run(s);
    const st = await exited(s.id);
    expect(st.exitCode).not.toBe(0);
    const log = await readFile(st.logPath, 'utf8');
    expect(log).not.toContain('mounted');
    expect(log).toMatch(/operation not permitted|permission denied/i);
    await rt.removeContainer(s.id);
  });

  it('runAsUser 65534 runs as nobody; runAsNonRoot refuses root', async () => {
    const s = spec(['sh', '-c', 'id -u; id -un'], { security: { runAsUser: 65534 } });
    await run(s);
    const st = await exited(s.id);
    expect(st.exitCode).toBe(0);
    const log = await readFile(st.logPath, 'utf8');
    expect(log).toMatch(/stdout F 65534$/m);
    expect(log).toMatch(/stdout F nobody$/m);
    await rt.removeContainer(s.id);

    const root = spec(['true'], { security: { runAsNonRoot: true } });
    await expect(rt.createContainer(root)).rejects.toThrow(
      'container has runAsNonRoot and image will run as root',
    );
    expect(await rt.containerStatus(root.id)).toBeUndefined();

    const named = spec(['id', '-u'], { imageUser: 'nobody' });
    await run(named);
    expect(await readFile((await exited(named.id)).logPath, 'utf8')).toMatch(/stdout F 65534$/m);
    await rt.removeContainer(named.id);
  });
  it('RuntimeDefault seccomp refuses a user namespace that Unconfined allows', async () => {
    const confined = spec(['unshare', '-U', 'true']);
    const unconfined = spec(['unshare', '-U', 'true'], { security: { seccomp: 'Unconfined' } });
    await run(confined);
    await run(unconfined);
    const a = await exited(confined.id);
    const b = await exited(unconfined.id);
    expect(a.exitCode).not.toBe(0);
    expect(await readFile(a.logPath, 'utf8')).toMatch(/operation not permitted/i);
    expect(b.exitCode).toBe(0);
    await rt.removeContainer(confined.id);
    await rt.removeContainer(unconfined.id);
  });

  it('privileged containers run only where allowed, and can mount', async () => {
    const s = spec(['sh', '-c', 'mount -t tmpfs none /mnt && echo mounted'], {
      security: { privileged: true },
    });
    const refused = await rt.createContainer(s).catch((e: unknown) => e);
    expect(isRuntimeError(refused) && refused.code).toBe('InvalidSpec');
    const priv = new RuncRuntime({ root: rt.root, runcRoot: rt.runcRoot, allowPrivileged: true });
    await priv.createContainer(s);
    await priv.startContainer(s.id);
    const st = await exited(s.id);
    expect(await readFile(st.logPath, 'utf8')).toContain('stdout F mounted');
    expect(st.exitCode).toBe(0);
    await priv.removeContainer(s.id);
  });

  it('gives a tty container a terminal', async () => {
    const s = spec(['sh', '-c', 'sleep 0.5; tty'], { tty: true });
    await run(s);
    const st = await exited(s.id);
    expect(st.exitCode).toBe(0);
    expect(await readFile(st.logPath, 'utf8')).toContain('/dev/pts/0');
    await rt.removeContainer(s.id);
  });
});
