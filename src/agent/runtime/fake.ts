// FakeRuntime: a ContainerRuntime for unit tests and simulated nodes. Containers "run" on the injected
// Clock until stopped, or exit after a scripted time with a scripted code; start errors, OOM kills,
// SIGTERM-ignoring processes and exec results are scripted too. Every call is recorded.

import { PassThrough } from 'node:stream';
import type { Clock, TimerHandle } from '../../machinery/clock.js';
import type {
  ContainerCreateSpec,
  ContainerFilter,
  ContainerRuntime,
  CreateOptions,
  ContainerStats,
  ContainerStatus,
  ExecOptions,
  ExecSession,
  RuntimeInfo,
} from './types.js';
import { RuntimeError } from './errors.js';

/** How one container instance behaves. */
export interface FakeContainerScript {
  /** Exit on its own this many ms after starting; undefined = run until stopped. */
  runForMs?: number;
  /** Exit code when it exits on its own (default 0). */
  exitCode?: number;
  /** The kernel OOM killer ends it (exit code 137) when it exits on its own. */
  oomKilled?: boolean;
  /** startContainer rejects with this message (the container ends exited, code 128). */
  startError?: string;
  /** Only SIGKILL at the end of the stop timeout ends it. */
  ignoreSigterm?: boolean;
  /** On SIGTERM it takes this long to exit (default 0). */
  stopDelayMs?: number;
  /** Exit code after SIGTERM (default 143). */
  sigtermExitCode?: number;
}

/** Which containers a script applies to; every given field must match. */
export interface FakeScriptSelector {
  image?: string;
  containerName?: string;
  podName?: string;
  /** The container's argv joined by spaces. */
  command?: string;
}

export type FakeScript = FakeContainerScript | ((spec: ContainerCreateSpec) => FakeContainerScript);

export interface FakeExecResult {
  exitCode: number;
  stdout?: string;
  stderr?: string;
  /** Take this long (on the clock) before exiting. */
  delayMs?: number;
}

export type FakeExecHandler = (id: string, command: string[], container: ContainerStatus) => FakeExecResult;

export interface FakeRuntimeCall {
  op: 'create' | 'start' | 'stop' | 'remove' | 'exec' | 'removePodCgroup';
  id: string;
  /** Container name (from labels) when known. */
  name?: string;
  timeoutSeconds?: number;
  command?: string[];
}

interface FakeContainer {
  spec: ContainerCreateSpec;
  status: ContainerStatus;
  script: FakeContainerScript;
  timer?: TimerHandle;
  stopping?: Promise<void> | undefined;
  exited: Array<() => void>;
}

export class FakeRuntime implements ContainerRuntime {
  readonly calls: FakeRuntimeCall[] = [];
  readonly removedCgroups: string[] = [];
  private readonly containers = new Map<string, FakeContainer>();
  private readonly scripts: Array<{ selector: FakeScriptSelector; script: FakeScript }> = [];
  private execHandler: FakeExecHandler = () => ({ exitCode: 0 });
  private nextPid = 1000;

  constructor(private readonly clock: Clock) {}

  /** Scripts are matched newest first; unmatched containers run until stopped. */
  script(selector: FakeScriptSelector, script: FakeScript): void {
    this.scripts.unshift({ selector, script });
  }

  onExec(handler: FakeExecHandler): void {
    this.execHandler = handler;
  }

  /** Makes a running container exit now (a crash), with this code. */
  crash(id: string, exitCode = 1, oomKilled = false): void {
    const c = this.containers.get(id);
    if (c?.status.state !== 'running') return;
    this.exit(c, exitCode, oomKilled);
  }

  /** Every container (for assertions). */
  all(): ContainerStatus[] {
    return [...this.containers.values()].map((c) => ({ ...c.status, labels: { ...c.status.labels } }));
  }

  running(): ContainerStatus[] {
    return this.all().filter((c) => c.state === 'running');
  }

  spec(id: string): ContainerCreateSpec | undefined {
    return this.containers.get(id)?.spec;
  }

  async info(): Promise<RuntimeInfo> {
    return { name: 'fake', version: '0.0.0', cgroupVersion: 2 };
  }

  async createContainer(spec: ContainerCreateSpec, opts: CreateOptions = {}): Promise<void> {
    opts.after?.catch(() => undefined);
    this.calls.push({ op: 'create', id: spec.id, name: spec.labels.containerName });
    if (this.containers.has(spec.id)) throw new Error(`container "${spec.id}" already exists`);
    if (opts.after !== undefined) {
      try {
        await opts.after;
      } catch (err) {
        throw new RuntimeError('Cancelled', `container ${spec.id} was not created: ${String(err)}`);
      }
    }
    const found = this.scripts.find((s) => matches(s.selector, spec));
    const script =
      found === undefined ? {} : typeof found.script === 'function' ? found.script(spec) : found.script;
    this.containers.set(spec.id, {
      spec,
      script,
      exited: [],
      status: {
        id: spec.id,
        labels: { ...spec.labels },
        imageRef: spec.imageRef,
        imageId: spec.imageId,
        state: 'created',
        createdAt: new Date(this.clock.now()),
        logPath: `/var/log/fake/${spec.id}.log`,
      },
    });
  }

  async startContainer(id: string): Promise<void> {
    const c = this.containers.get(id);
    this.calls.push({ op: 'start', id, ...(c === undefined ? {} : { name: c.spec.labels.containerName }) });
    if (c === undefined) throw new Error(`no such container "${id}"`);
    if (c.status.state !== 'created') throw new Error(`container "${id}" is ${c.status.state}, not created`);
    if (c.script.startError !== undefined) {
      c.status = {
        ...c.status,
        state: 'exited',
        exitCode: 128,
        finishedAt: new Date(this.clock.now()),
        message: c.script.startError,
      };
      throw new Error(c.script.startError);
    }
    c.status = { ...c.status, state: 'running', pid: this.nextPid++, startedAt: new Date(this.clock.now()) };
    if (c.script.runForMs !== undefined) {
      c.timer = this.clock.setTimeout(
        () =>
          this.exit(
            c,
            c.script.oomKilled === true ? 137 : (c.script.exitCode ?? 0),
            c.script.oomKilled === true,
          ),
        c.script.runForMs,
      );
    }
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    const c = this.containers.get(id);
    this.calls.push({
      op: 'stop',
      id,
      timeoutSeconds,
      ...(c === undefined ? {} : { name: c.spec.labels.containerName }),
    });
    if (c === undefined) throw new Error(`no such container "${id}"`);
    if (c.status.state === 'created') {
      this.exit(c, 0, false);
      return;
    }
    if (c.status.state !== 'running') return;
    if (c.stopping !== undefined) return c.stopping;
    const done = new Promise<void>((resolve) => c.exited.push(resolve));
    const killMs = Math.max(0, timeoutSeconds * 1000);
    const killTimer = this.clock.setTimeout(() => this.exit(c, 137, false), killMs);
    if (c.script.ignoreSigterm !== true) {
      const delay = c.script.stopDelayMs ?? 0;
      if (delay < killMs) {
        const term = (): void => {
          this.clock.clearTimeout(killTimer);
          this.exit(c, c.script.sigtermExitCode ?? 143, false);
        };
        if (delay <= 0) term();
        else this.clock.setTimeout(term, delay);
      }
    }
    c.stopping = done;
    return done;
  }

  async removeContainer(id: string): Promise<void> {
    const c = this.containers.get(id);
    this.calls.push({ op: 'remove', id, ...(c === undefined ? {} : { name: c.spec.labels.containerName }) });
    if (c === undefined) return;
    if (c.status.state === 'running') throw new Error(`cannot remove running container "${id}"`);
    if (c.timer !== undefined) this.clock.clearTimeout(c.timer);
    this.containers.delete(id);
  }

  async listContainers(filter: ContainerFilter = {}): Promise<ContainerStatus[]> {
    return this.all().filter((c) => filter.podUid === undefined || c.labels.podUid === filter.podUid);
  }

  async containerStatus(id: string): Promise<ContainerStatus | undefined> {
    return this.all().find((c) => c.id === id);
  }

  async exec(id: string, opts: ExecOptions): Promise<ExecSession> {
    const c = this.containers.get(id);
    this.calls.push({
      op: 'exec',
      id,
      command: opts.command,
      ...(c === undefined ? {} : { name: c.spec.labels.containerName }),
    });
    if (c?.status.state !== 'running') throw new Error(`container "${id}" is not running`);
    const result = this.execHandler(id, opts.command, { ...c.status });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let killed = false;
    let finish: (code: number) => void = () => undefined;
    const exit = new Promise<number>((resolve) => {
      finish = resolve;
    });
    const complete = (): void => {
      if (killed) return;
      stdout.end(result.stdout ?? '');
      stderr.end(result.stderr ?? '');
      finish(result.exitCode);
    };
    let timer: TimerHandle | undefined;
    if (result.delayMs !== undefined && result.delayMs > 0)
      timer = this.clock.setTimeout(complete, result.delayMs);
    else queueMicrotask(complete);
    return {
      stdin: null,
      stdout,
      stderr: opts.tty ? null : stderr,
      resize: () => undefined,
      exit,
      kill: () => {
        if (killed) return;
        killed = true;
        if (timer !== undefined) this.clock.clearTimeout(timer);
        stdout.end();
        stderr.end();
        finish(137);
      },
    };
  }

  async stats(id: string): Promise<ContainerStats | undefined> {
    const c = this.containers.get(id);
    if (c?.status.state !== 'running') return undefined;
    return {
      id,
      cpuUsageNanos: 0,
      memoryWorkingSetBytes: 1 << 20,
      memoryUsageBytes: 1 << 20,
      timestamp: new Date(this.clock.now()),
    };
  }

  async removePodCgroup(cgroupParent: string): Promise<void> {
    this.calls.push({ op: 'removePodCgroup', id: cgroupParent });
    this.removedCgroups.push(cgroupParent);
  }

  private exit(c: FakeContainer, exitCode: number, oomKilled: boolean): void {
    if (c.status.state === 'exited') return;
    if (c.timer !== undefined) this.clock.clearTimeout(c.timer);
    const { pid: _pid, ...rest } = c.status;
    c.status = { ...rest, state: 'exited', exitCode, finishedAt: new Date(this.clock.now()) };
    if (oomKilled) c.status.oomKilled = true;
    const waiters = c.exited.splice(0);
    c.stopping = undefined;
    for (const w of waiters) w();
  }
}

function matches(sel: FakeScriptSelector, spec: ContainerCreateSpec): boolean {
  if (sel.image !== undefined && sel.image !== spec.imageRef) return false;
  if (sel.containerName !== undefined && sel.containerName !== spec.labels.containerName) return false;
  if (sel.podName !== undefined && sel.podName !== spec.labels.podName) return false;
  if (sel.command !== undefined && sel.command !== spec.args.join(' ')) return false;
  return true;
}
