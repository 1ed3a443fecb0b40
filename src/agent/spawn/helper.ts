// Running commands (runc, conmon, CNI plugins, ip, nft) without forking the agent.
//
// Node's child_process forks the whole agent: libuv copies the page tables of a process of 100+ MB, and the
// main thread then blocks until the child has reached exec. On two busy cores that wait is a scheduler
// time slice or more per command, and a pod start or teardown runs several commands. In a 100-replica
// rolling update the agent's main thread spent a third of its time inside spawn().
//
// So the agent hands commands to a small helper process (perl, from perl-base, which every Debian has) of a
// few MB. It forks once per command and watches every command's pipes in one select loop, then answers with
// the exit status and output. The agent only writes a request and reads an answer on a pipe.
//
// Frames, both directions: a 4-byte big-endian length, then NUL-separated fields.
//   request: id, mode (run | sync | native), timeoutMs, cwd, log file, file, argc, args…, envc (-1 = inherit), env…,
//            then the input for the command's stdin (the rest of the frame).
//   answer:  id, kind, code, signal number, message length, stdout length, then message, stdout, stderr.
// `sync` mode starts a detached command (own session, output appended to a log file) that reports on fd 3,
// as conmon does with _OCI_SYNCPIPE, and answers with the first line written there.
//
// `native` mode does a step with a system call instead of a command (see NativeOp): the helper mounts and
// unmounts itself, and sets a pod's lo up in a forked child without an exec. Where it cannot (another CPU
// architecture), it answers ENOSYS once and the command runs instead from then on.
//
// FLOTILLA_SPAWN=node uses Node's child_process instead (the same results); so does a machine without perl.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { basename } from 'node:path';
import { constants as osConstants } from 'node:os';
import { helperScript } from './helper-script.js';

export interface RunOptions {
  /** Written to the command's stdin, which is then closed (empty: stdin at EOF at once). */
  input?: string;
  /** The whole environment; the agent's own when left out. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** SIGKILL after this long (default 60 s); the answer then says timedOut. */
  timeoutMs?: number;
}

export interface RunOutcome {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

export interface SyncOptions {
  cwd: string;
  /** stdout and stderr of the command are appended here. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the report on fd 3 (default 120 s). */
  timeoutMs?: number;
}

export interface SyncOutcome {
  /** The first line the command wrote to fd 3 (without the newline); undefined when it wrote none. */
  line?: string;
  /** When it wrote none: how it ended, if it ended within 5 s of closing fd 3. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The command could not be started at all (`code` is the errno name, as Node's spawn errors have). */
export class SpawnError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SpawnError';
  }
}

/**
 * A step the helper does with a system call, and the command that does the same step elsewhere:
 * - mount: `mount -t FSTYPE -o DATA SOURCE TARGET` (no flags);
 * - umount: `umount TARGET`, or with `lazy` `umount -l TARGET`;
 * - lo-up: set `lo` up in the network namespace at the path (the CNI loopback plugin's whole job), as
 *   `ip -n NAME link set lo up` does;
 * - netns-add, netns-delete: `ip netns add|delete NAME` for a path under /var/run/netns. ip also makes that
 *   directory a shared mount first; netns-add expects it to be one already.
 * Outcomes read like the command's: code 0, or non-zero with the reason on stderr.
 */
export type NativeOp =
  | { op: 'mount'; source: string; target: string; fstype: string; data: string }
  | { op: 'umount'; target: string; lazy?: boolean }
  | { op: 'lo-up'; netnsPath: string }
  | { op: 'netns-add'; netnsPath: string }
  | { op: 'netns-delete'; netnsPath: string };

const MNT_DETACH = 2;

/** The command doing a native step's work: the fallback wherever the helper cannot. */
export function nativeCommand(n: NativeOp): { file: string; args: string[] } {
  switch (n.op) {
    case 'mount':
      return { file: 'mount', args: ['-t', n.fstype, '-o', n.data, n.source, n.target] };
    case 'umount':
      return { file: 'umount', args: n.lazy === true ? ['-l', n.target] : [n.target] };
    case 'lo-up':
      return { file: 'ip', args: ['-n', basename(n.netnsPath), 'link', 'set', 'lo', 'up'] };
    case 'netns-add':
      return { file: 'ip', args: ['netns', 'add', basename(n.netnsPath)] };
    case 'netns-delete':
      return { file: 'ip', args: ['netns', 'delete', basename(n.netnsPath)] };
  }
}

function nativeArgs(n: NativeOp): string[] {
  switch (n.op) {
    case 'mount':
      return [n.source, n.target, n.fstype, n.data];
    case 'umount':
      return [n.target, String(n.lazy === true ? MNT_DETACH : 0)];
    case 'lo-up':
    case 'netns-add':
    case 'netns-delete':
      return [n.netnsPath];
  }
}

export interface ProcessRunner {
  run(file: string, args: readonly string[], opts?: RunOptions): Promise<RunOutcome>;
  /** Does a step with a system call where it can, else runs the step's command (nativeCommand). */
  native(step: NativeOp, opts?: { timeoutMs?: number }): Promise<RunOutcome>;
  /** Starts a detached command with a sync pipe on fd 3 and waits for its first line there. */
  runSynced(file: string, args: readonly string[], opts: SyncOptions): Promise<SyncOutcome>;
}

const defaultTimeoutMs = 60_000;

function signalName(n: number): NodeJS.Signals | null {
  if (n === 0) return null;
  for (const [name, value] of Object.entries(osConstants.signals)) {
    if (value === n) return name as NodeJS.Signals;
  }
  return null;
}

/** Node's child_process: the fallback, and the reference the helper's answers must match. */
export class NodeProcessRunner implements ProcessRunner {
  native(step: NativeOp, opts: { timeoutMs?: number } = {}): Promise<RunOutcome> {
    const c = nativeCommand(step);
    return this.run(c.file, c.args, opts);
  }

  run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunOutcome> {
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        ...(opts.env !== undefined ? { env: opts.env } : {}),
        ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, opts.timeoutMs ?? defaultTimeoutMs);
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new SpawnError(e.code ?? 'EUNKNOWN', e.message));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({
          code,
          signal,
          timedOut,
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString(),
        });
      });
      child.stdin.on('error', () => {
        // The command may exit without reading its input; its exit status tells the story.
      });
      child.stdin.end(opts.input ?? '');
    });
  }

  async runSynced(file: string, args: readonly string[], opts: SyncOptions): Promise<SyncOutcome> {
    const out = openSync(opts.logFile, 'a');
    try {
      const child = spawn(file, args, {
        cwd: opts.cwd,
        stdio: ['ignore', out, out, 'pipe'],
        env: { ...(opts.env ?? process.env), _OCI_SYNCPIPE: '3' },
        detached: true,
      });
      const sync = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
      let ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      const exited = new Promise<void>((res) =>
        child.once('close', (code, signal) => {
          ended = { code, signal };
          res();
        }),
      );
      const spawnError = new Promise<SpawnError>((res) =>
        child.once('error', (e: NodeJS.ErrnoException) =>
          res(new SpawnError(e.code ?? 'EUNKNOWN', e.message)),
        ),
      );
      const line = await new Promise<string | SpawnError | undefined>((res) => {
        let buf = '';
        const timer = setTimeout(() => res(undefined), opts.timeoutMs ?? 120_000);
        const done = (v: string | SpawnError | undefined): void => {
          clearTimeout(timer);
          res(v);
        };
        sync.on('data', (d: Buffer) => {
          buf += d.toString();
          const nl = buf.indexOf('\n');
          if (nl >= 0) done(buf.slice(0, nl));
        });
        sync.on('end', () => done(undefined));
        void spawnError.then(done);
      });
      sync.destroy();
      child.unref();
      if (line instanceof SpawnError) throw line;
      if (line !== undefined) return { line, code: null, signal: null };
      await Promise.race([exited, new Promise((res) => setTimeout(res, 5000).unref())]);
      return { code: ended?.code ?? null, signal: ended?.signal ?? null };
    } finally {
      closeSync(out);
    }
  }
}

interface Pending {
  /** undefined: the helper could not be started (no perl); the caller falls back to Node. */
  resolve(a: Answer | undefined): void;
  reject(e: Error): void;
}

interface Answer {
  kind: string;
  code: number;
  signal: number;
  message: string;
  stdout: string;
  stderr: string;
}

/** The helper client: one perl process, started on first use and again after it dies. */
export class HelperProcessRunner implements ProcessRunner {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffer: Buffer = Buffer.alloc(0);
  private fallback: NodeProcessRunner | undefined;
  /** The helper said ENOSYS: native steps run their commands from now on. */
  private nativeUnsupported = false;

  constructor(private readonly perl = existsSync('/usr/bin/perl') ? '/usr/bin/perl' : 'perl') {}

  async run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunOutcome> {
    if (this.fallback) return this.fallback.run(file, args, opts);
    const a = await this.request(
      'run',
      opts.timeoutMs ?? defaultTimeoutMs,
      opts.cwd ?? '',
      '',
      file,
      args,
      opts.env,
      opts.input ?? '',
    );
    if (a === undefined) return (this.fallback ?? new NodeProcessRunner()).run(file, args, opts);
    if (a.kind === 'error') throw errorOf(file, a.message);
    return runOutcomeOf(a);
  }

  async native(step: NativeOp, opts: { timeoutMs?: number } = {}): Promise<RunOutcome> {
    const command = nativeCommand(step);
    if (this.fallback || this.nativeUnsupported) return this.run(command.file, command.args, opts);
    const a = await this.request(
      'native',
      opts.timeoutMs ?? defaultTimeoutMs,
      '',
      '',
      step.op,
      nativeArgs(step),
      undefined,
      '',
    );
    if (a === undefined || (a.kind === 'error' && a.message.startsWith('ENOSYS\0'))) {
      if (a !== undefined) this.nativeUnsupported = true;
      return this.run(command.file, command.args, opts);
    }
    if (a.kind === 'error') throw errorOf(step.op, a.message);
    return runOutcomeOf(a);
  }

  async runSynced(file: string, args: readonly string[], opts: SyncOptions): Promise<SyncOutcome> {
    if (this.fallback) return this.fallback.runSynced(file, args, opts);
    const env = { ...(opts.env ?? process.env), _OCI_SYNCPIPE: '3' };
    const a = await this.request(
      'sync',
      opts.timeoutMs ?? 120_000,
      opts.cwd,
      opts.logFile,
      file,
      args,
      env,
      '',
    );
    if (a === undefined) return (this.fallback ?? new NodeProcessRunner()).runSynced(file, args, opts);
    if (a.kind === 'error') throw errorOf(file, a.message);
    if (a.kind === 'sync') return { line: a.message, code: null, signal: null };
    return { code: a.kind === 'exit' ? a.code : null, signal: signalName(a.signal) };
  }

  /** The helper's pid while it runs (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Stops the helper (it would also stop by itself when this process exits and its stdin closes). */
  close(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }

  /** Resolves undefined when the helper cannot be started at all (no perl): the caller falls back. */
  private request(
    mode: 'run' | 'sync' | 'native',
    timeoutMs: number,
    cwd: string,
    log: string,
    file: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv | undefined,
    input: string,
  ): Promise<Answer | undefined> {
    const fields = [
      mode,
      String(Math.max(1, Math.round(timeoutMs))),
      cwd,
      log,
      file,
      String(args.length),
      ...args,
    ];
    if (env === undefined) fields.push('-1');
    else {
      const pairs = Object.entries(env)
        .filter((e): e is [string, string] => e[1] !== undefined)
        .map(([k, v]) => `${k}=${v}`);
      fields.push(String(pairs.length), ...pairs);
    }
    if (fields.some((f) => f.includes('\0'))) {
      return Promise.reject(
        new SpawnError('EINVAL', `spawn ${file}: an argument or variable holds a NUL byte`),
      );
    }
    const child = this.ensure();
    if (child === undefined) return Promise.resolve(undefined);
    const id = this.nextId++;
    const payload = Buffer.concat([Buffer.from(`${id}\0${fields.join('\0')}\0`), Buffer.from(input)]);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(payload.length);
    return new Promise<Answer | undefined>((resolve, reject) => {
      if (this.pending.size === 0) refAll(child, true);
      this.pending.set(id, { resolve, reject });
      child.stdin?.write(Buffer.concat([head, payload]));
    });
  }

  private ensure(): ChildProcess | undefined {
    if (this.child !== undefined) return this.child;
    const child = spawn(this.perl, ['-e', helperScript], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child = child;
    child.stdin?.on('error', () => {
      // The helper died: its exit fails what is pending.
    });
    child.stdout?.on('data', (d: Buffer) => this.onData(d));
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (this.child === child) this.child = undefined;
      if (e.code === 'ENOENT' || e.code === 'EACCES') {
        // No perl on this machine: Node's child_process from now on, for these requests too.
        this.fallback = new NodeProcessRunner();
        this.settleAll((p) => p.resolve(undefined));
      } else {
        this.settleAll((p) => p.reject(new SpawnError('EHELPER', `the spawn helper failed: ${e.message}`)));
      }
    });
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      this.buffer = Buffer.alloc(0);
      this.settleAll((p) =>
        p.reject(
          new SpawnError(
            'EHELPER',
            `the spawn helper exited (${signal ?? `code ${code}`}) before it answered`,
          ),
        ),
      );
    });
    refAll(child, false);
    return child;
  }

  private settleAll(f: (p: Pending) => void): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) f(p);
  }

  private onData(d: Buffer): void {
    this.buffer = this.buffer.length === 0 ? d : Buffer.concat([this.buffer, d]);
    while (this.buffer.length >= 4) {
      const len = this.buffer.readUInt32BE(0);
      if (this.buffer.length < 4 + len) break;
      const frame = this.buffer.subarray(4, 4 + len);
      this.buffer = this.buffer.subarray(4 + len);
      this.onFrame(frame);
    }
  }

  private onFrame(frame: Buffer): void {
    const head: string[] = [];
    let pos = 0;
    for (let i = 0; i < 6; i++) {
      const nul = frame.indexOf(0, pos);
      if (nul < 0) return;
      head.push(frame.toString('latin1', pos, nul));
      pos = nul + 1;
    }
    const [idText = '', kind = '', code = '0', signal = '0', msgLen = '0', outLen = '0'] = head;
    const p = this.pending.get(Number(idText));
    if (p === undefined) return;
    this.pending.delete(Number(idText));
    if (this.pending.size === 0 && this.child !== undefined) refAll(this.child, false);
    const m = pos + Number(msgLen);
    const o = m + Number(outLen);
    p.resolve({
      kind,
      code: Number(code),
      signal: Number(signal),
      message: frame.toString('utf8', pos, m),
      stdout: frame.toString('utf8', m, o),
      stderr: frame.toString('utf8', o),
    });
  }
}

/** While nothing is pending, the helper must not keep the agent (or a CLI, or a test) alive. */
function refAll(child: ChildProcess, on: boolean): void {
  for (const h of [child, child.stdin, child.stdout] as Array<{ ref?(): void; unref?(): void } | null>) {
    if (on) h?.ref?.();
    else h?.unref?.();
  }
}

function runOutcomeOf(a: Answer): RunOutcome {
  return {
    code: a.kind === 'exit' ? a.code : a.signal === 0 ? a.code : null,
    signal: signalName(a.signal),
    timedOut: a.kind === 'timeout',
    stdout: a.stdout,
    stderr: a.stderr,
  };
}

function errorOf(file: string, message: string): SpawnError {
  const nul = message.indexOf('\0');
  const code = nul < 0 ? 'EUNKNOWN' : message.slice(0, nul);
  const text = nul < 0 ? message : message.slice(nul + 1);
  return new SpawnError(code, `spawn ${file} ${code}: ${text}`);
}

let shared: ProcessRunner | undefined;

/** The process runner every agent part uses: the helper, unless FLOTILLA_SPAWN=node. */
export function processRunner(): ProcessRunner {
  shared ??= process.env.FLOTILLA_SPAWN === 'node' ? new NodeProcessRunner() : new HelperProcessRunner();
  return shared;
}
