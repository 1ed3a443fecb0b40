// A thin wrapper over the runc command line (always with our own --root, so we only ever see our
// containers), and the parsing of its logrus error lines into the message a user should read.

import { constants as fsConstants, open as openFd, closeSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { processRunner, type NativeOp, type RunOutcome } from '../spawn/helper.js';
import { RuntimeError } from './errors.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCommand(
  file: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<CommandResult> {
  return commandResult(file, processRunner().run(file, args, { timeoutMs }));
}

/** A mount, an unmount or a namespace's lo up, by system call where the spawn helper can (helper.ts). */
export function runNative(step: NativeOp, timeoutMs = 60_000): Promise<CommandResult> {
  return commandResult(step.op, processRunner().native(step, { timeoutMs }));
}

async function commandResult(what: string, outcome: Promise<RunOutcome>): Promise<CommandResult> {
  try {
    const r = await outcome;
    return { code: r.code ?? (r.signal === null ? 1 : 128), stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new RuntimeError('RuntimeFailed', `cannot run ${what}: ${message}`, { cause: err });
  }
}

/**
 * The human part of runc's output: `time="..." level=error msg="runc create failed: ..."` becomes
 * `runc create failed: ...`; JSON log lines (`--log-format json`) give their `msg`. Plain text stays.
 */
export function runcMessage(output: string): string {
  const messages: string[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('{')) {
      try {
        const j = JSON.parse(line) as { level?: string; msg?: string };
        if (
          typeof j.msg === 'string' &&
          (j.level === undefined || j.level === 'error' || j.level === 'fatal')
        ) {
          messages.push(j.msg);
        }
        continue;
      } catch {
        // not JSON: fall through
      }
    }
    const m = /level=(?:error|fatal) msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m?.[1] !== undefined) {
      messages.push(unquoteGo(m[1]));
      continue;
    }
    if (!/level=(?:warning|info|debug)/.test(line)) messages.push(line);
  }
  const uniq = [...new Set(messages.map((m) => m.trim()).filter((m) => m !== ''))];
  return uniq.join('; ');
}

function unquoteGo(s: string): string {
  try {
    return JSON.parse(`"${s.replace(/\\'/g, "'")}"`) as string;
  } catch {
    return s.replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }
}

/** The exec exit code a shell would give when runc could not start the process (127 not found, 126 not executable). */
export function execFailureExitCode(message: string): number | undefined {
  if (!/exec failed|unable to start container process|starting container process/.test(message))
    return undefined;
  if (/executable file not found|no such file or directory/.test(message)) return 127;
  if (/permission denied|exec format error|is a directory/.test(message)) return 126;
  return 126;
}

export interface RuncState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
  created: string;
}

export class Runc {
  constructor(
    readonly path: string,
    readonly root: string,
  ) {}

  private base(): string[] {
    return ['--root', this.root];
  }

  async run(args: readonly string[], timeoutMs?: number): Promise<CommandResult> {
    return runCommand(this.path, [...this.base(), ...args], timeoutMs);
  }

  /** Runs and throws RuntimeFailed with runc's message on a non-zero exit. */
  async must(args: readonly string[], timeoutMs?: number): Promise<string> {
    const r = await this.run(args, timeoutMs);
    if (r.code !== 0) {
      throw new RuntimeError(
        'RuntimeFailed',
        runcMessage(r.stderr) || `runc ${args[0] ?? ''} exited with ${r.code}`,
      );
    }
    return r.stdout;
  }

  async list(): Promise<Map<string, RuncState>> {
    const r = await this.run(['list', '--format', 'json']);
    const out = new Map<string, RuncState>();
    if (r.code !== 0) {
      // A root that does not exist yet simply has no containers.
      if (/no such file or directory/i.test(r.stderr)) return out;
      throw new RuntimeError('RuntimeFailed', runcMessage(r.stderr), { transient: true });
    }
    const parsed = JSON.parse(r.stdout.trim() === '' ? 'null' : r.stdout) as RuncState[] | null;
    for (const s of parsed ?? []) out.set(s.id, s);
    return out;
  }

  async state(id: string): Promise<RuncState | undefined> {
    const r = await this.run(['state', id]);
    if (r.code !== 0) return undefined;
    return JSON.parse(r.stdout) as RuncState;
  }

  /**
   * Starts a created container. Its init process waits to open `<root>/<id>/exec.fifo` for writing; once
   * a reader has it open, init writes one byte, closes the fifo and execs the container's process. Reading
   * that byte and removing the fifo is what `runc start` does for a container without hooks (runc then
   * reports it running), so no runc process is needed. Without a fifo (a container that is not in the
   * created state) runc itself is asked, and says why it cannot start it.
   */
  async start(id: string, timeoutMs = 30_000): Promise<void> {
    const fifo = join(this.root, id, 'exec.fifo');
    const fd = await new Promise<number | undefined>((resolve, reject) => {
      openFd(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK, (err, n) => {
        if (err === null) resolve(n);
        else if (err.code === 'ENOENT') resolve(undefined);
        else reject(err);
      });
    });
    if (fd === undefined) {
      await this.must(['start', id]);
      return;
    }
    const initPid = await this.initPid(id);
    // An unknown pid (0) counts as alive: only the timeout then ends the wait. A zombie is dead.
    const initAlive = (): boolean => initPid <= 0 || (processAlive(initPid) && !isZombie(initPid));
    let timedOut = false;
    const got = await new Promise<boolean>((resolve, reject) => {
      let sock: Socket;
      try {
        sock = new Socket({ fd, readable: true, writable: false });
      } catch (err) {
        closeSync(fd);
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      let bytes = 0;
      const started = Date.now();
      // A reader waits for a writer that has not come yet; an init that died never comes.
      const check = setInterval(() => {
        if (bytes > 0) return;
        if (!initAlive()) sock.destroy();
        else if (Date.now() - started > timeoutMs) {
          timedOut = true;
          sock.destroy();
        }
      }, 100);
      const done = (): void => {
        clearInterval(check);
        resolve(bytes > 0);
      };
      sock.on('data', (d: Buffer) => (bytes += d.length));
      sock.once('error', done);
      sock.once('close', done);
    });
    // Without the byte, the fifo ended because init went away (or never came, and it is gone).
    if (!got) {
      throw new RuntimeError(
        'RuntimeFailed',
        timedOut ? `container ${id} did not start in time` : 'container process is already dead',
      );
    }
    await rm(fifo, { force: true });
  }

  /** The pid runc recorded for the container's init process (0 when unknown). */
  private async initPid(id: string): Promise<number> {
    try {
      const state = JSON.parse(await readFile(join(this.root, id, 'state.json'), 'utf8')) as {
        init_process_pid?: unknown;
      };
      return typeof state.init_process_pid === 'number' ? state.init_process_pid : 0;
    } catch {
      return 0;
    }
  }

  /**
   * Forgets a container whose processes have all exited: removes its state dir, the rest of what
   * `runc delete` does for a stopped container (the cgroup is removed by the caller), without a runc
   * process.
   */
  async forget(id: string): Promise<void> {
    await rm(join(this.root, id), { recursive: true, force: true });
  }

  async version(): Promise<string> {
    const r = await runCommand(this.path, ['--version']);
    const m = /runc version (\S+)/.exec(r.stdout);
    return m?.[1] ?? 'unknown';
  }

  /** Sends a signal; false when the container is not running (already stopped or gone). */
  async kill(id: string, signal: string): Promise<boolean> {
    const r = await this.run(['kill', id, signal]);
    return r.code === 0;
  }

  async delete(id: string): Promise<void> {
    const r = await this.run(['delete', '--force', id]);
    if (r.code !== 0 && !/does not exist|not exist/.test(r.stderr)) {
      throw new RuntimeError('RuntimeFailed', runcMessage(r.stderr) || `runc delete ${id} failed`);
    }
  }
}

/** True when `pid` has exited and waits to be reaped (state Z in /proc). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** True while process `pid` exists (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
