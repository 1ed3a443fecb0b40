// Probes and lifecycle hooks. A prober per running container runs its startup, readiness and liveness
// probes (httpGet, tcpSocket, exec) on the injected Clock with the kubelet's semantics: initial delay,
// period, timeout, success/failure thresholds, startup gating the others. Results feed the pod worker
// (probe state by container id) and failures are recorded as `Unhealthy` events with upstream messages.
// Lifecycle hooks (postStart, preStop: exec, httpGet, sleep) share the handler code.

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { KubeObject } from '../../api/types.js';
import { asArr, asNum, asObj, asStr, type Obj } from '../../api/validation/access.js';
import type { Clock } from '../../machinery/clock.js';
import type { EventRecorder } from '../../machinery/event-recorder.js';
import type { ContainerRuntime, ContainerStatus } from '../runtime/types.js';
import { podContainers, podFullName } from './pod-view.js';
import { runtimeIdPrefix } from './status.js';
import type { ProbeState } from './step.js';

export interface HandlerTarget {
  /** Pod IP (the host IP for hostNetwork pods); the default host of httpGet and tcpSocket. */
  podIP: string | undefined;
  containerId: string;
  /** The container spec (for named ports). */
  container: Obj;
}

export interface HandlerDeps {
  runtime: ContainerRuntime;
  clock: Clock;
}

export interface HandlerResult {
  ok: boolean;
  /** Why it failed, worded as the kubelet words it. */
  message: string;
  /**
   * A timeout that says more about the agent than the container: its timer fired well after the
   * deadline (the agent's event loop was starved). A probe does not count it either way.
   */
  starved?: boolean;
}

/** A timeout fired this late (ms past its deadline) means the agent, not the container, was slow. */
export function starvedAfterMs(timeoutMs: number): number {
  return Math.max(250, timeoutMs / 2);
}

/** Upstream's probe User-Agent prefix (some applications answer probes by it). */
const probeUserAgent = 'kube-probe/1.31';

/**
 * Races a promise against a clock timeout; `onTimeout` cleans up and gives the result, told how late
 * (ms past the deadline) the timer fired. The timeout yields once to pending I/O first: after the event
 * loop was blocked, timers run before the sockets are read, and an answer that did arrive in time must win.
 */
async function withTimeout<T>(
  clock: Clock,
  ms: number,
  work: Promise<T>,
  onTimeout: (lateMs: number) => T,
): Promise<T> {
  let handle: ReturnType<Clock['setTimeout']> | undefined;
  let settled = false;
  const deadline = clock.now() + ms;
  void work.then(
    () => (settled = true),
    () => (settled = true),
  );
  const timeout = new Promise<T>((resolve) => {
    handle = clock.setTimeout(() => {
      const lateMs = clock.now() - deadline;
      setImmediate(() => {
        if (!settled) resolve(onTimeout(lateMs));
      });
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    if (handle !== undefined) clock.clearTimeout(handle);
  }
}

export function resolvePort(port: unknown, container: Obj): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port !== 'string' || port === '') return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  for (const p of asArr(container['ports'])) {
    const o = asObj(p);
    if (o?.['name'] === port) return asNum(o['containerPort']);
  }
  return undefined;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function dialError(host: string, port: number, err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const target = hostPort(host, port);
  if (code === 'ECONNREFUSED') return `dial tcp ${target}: connect: connection refused`;
  if (code === 'EHOSTUNREACH') return `dial tcp ${target}: connect: no route to host`;
  if (code === 'ECONNRESET') return `read tcp ${target}: read: connection reset by peer`;
  return `dial tcp ${target}: ${err instanceof Error ? err.message : String(err)}`;
}

/** GET with a timeout; 200–399 is success. HTTPS is not verified (as upstream). */
export async function httpGetCheck(
  action: Obj,
  target: HandlerTarget,
  clock: Clock,
  timeoutMs: number,
): Promise<HandlerResult & { statusCode?: number }> {
  const port = resolvePort(action['port'], target.container);
  const host = asStr(action['host']) ?? target.podIP;
  const scheme = (asStr(action['scheme']) ?? 'HTTP').toUpperCase() === 'HTTPS' ? 'https' : 'http';
  let path = asStr(action['path']) ?? '/';
  if (!path.startsWith('/')) path = `/${path}`;
  if (port === undefined) return { ok: false, message: `unknown port ${JSON.stringify(action['port'])}` };
  if (host === undefined || host === '') return { ok: false, message: 'the pod has no IP address yet' };
  const url = `${scheme}://${hostPort(host, port)}${path}`;
  const headers: Record<string, string> = { 'User-Agent': probeUserAgent, Accept: '*/*' };
  for (const h of asArr(action['httpHeaders'])) {
    const o = asObj(h);
    const name = asStr(o?.['name']);
    if (name !== undefined && name !== '') headers[name] = asStr(o?.['value']) ?? '';
  }
  let req: ReturnType<typeof httpRequest> | undefined;
  const work = new Promise<HandlerResult & { statusCode?: number }>((resolve) => {
    const onResponse = (res: IncomingMessage): void => {
      const code = res.statusCode ?? 0;
      res.resume();
      res.on('error', () => undefined);
      if (code >= 200 && code < 400) resolve({ ok: true, message: '', statusCode: code });
      else resolve({ ok: false, message: `HTTP probe failed with statuscode: ${code}`, statusCode: code });
    };
    const opts = { method: 'GET', headers, ...(scheme === 'https' ? { rejectUnauthorized: false } : {}) };
    req = scheme === 'https' ? httpsRequest(url, opts, onResponse) : httpRequest(url, opts, onResponse);
    req.on('error', (err) => resolve({ ok: false, message: `Get "${url}": ${dialError(host, port, err)}` }));
    req.end();
  });
  return withTimeout(clock, timeoutMs, work, (lateMs) => {
    req?.destroy();
    return {
      ok: false,
      message: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
      ...(lateMs > starvedAfterMs(timeoutMs) ? { starved: true } : {}),
    };
  });
}

export async function tcpCheck(
  action: Obj,
  target: HandlerTarget,
  clock: Clock,
  timeoutMs: number,
): Promise<HandlerResult> {
  const port = resolvePort(action['port'], target.container);
  const host = asStr(action['host']) ?? target.podIP;
  if (port === undefined) return { ok: false, message: `unknown port ${JSON.stringify(action['port'])}` };
  if (host === undefined || host === '') return { ok: false, message: 'the pod has no IP address yet' };
  const socket = connect({ host, port });
  const work = new Promise<HandlerResult>((resolve) => {
    socket.once('connect', () => {
      socket.destroy();
      resolve({ ok: true, message: '' });
    });
    socket.once('error', (err) => resolve({ ok: false, message: dialError(host, port, err) }));
  });
  return withTimeout(clock, timeoutMs, work, (lateMs) => {
    socket.destroy();
    return {
      ok: false,
      message: `dial tcp ${hostPort(host, port)}: i/o timeout`,
      ...(lateMs > starvedAfterMs(timeoutMs) ? { starved: true } : {}),
    };
  });
}

export async function execCheck(
  command: string[],
  target: HandlerTarget,
  deps: HandlerDeps,
  timeoutMs: number,
): Promise<HandlerResult & { output: string; exitCode?: number }> {
  let session;
  try {
    session = await deps.runtime.exec(target.containerId, { command, tty: false, stdin: false });
  } catch (err: unknown) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, message, output: '' };
  }
  const chunks: Buffer[] = [];
  const collect = (s: NodeJS.ReadableStream | null): void => {
    s?.on('data', (d: Buffer | string) => chunks.push(typeof d === 'string' ? Buffer.from(d) : d));
  };
  collect(session.stdout);
  collect(session.stderr);
  const s = session;
  const work = s.exit.then((code) => ({ code, timedOut: false, starved: false }));
  const res = await withTimeout(clock(deps), timeoutMs, work, (lateMs) => {
    s.kill();
    return { code: -1, timedOut: true, starved: lateMs > starvedAfterMs(timeoutMs) };
  });
  // Let the streams deliver what they buffered.
  await new Promise<void>((resolve) => setImmediate(resolve));
  const output = Buffer.concat(chunks).toString('utf8');
  if (res.timedOut)
    return {
      ok: false,
      message: `command "${command.join(' ')}" timed out`,
      output,
      ...('starved' in res && res.starved ? { starved: true } : {}),
    };
  if (res.code === 0) return { ok: true, message: '', output, exitCode: 0 };
  return { ok: false, message: output, output, exitCode: res.code };
}

function clock(deps: HandlerDeps): Clock {
  return deps.clock;
}

/** Runs a probe or hook handler: exec, httpGet, tcpSocket or sleep. */
export async function runHandler(
  handler: Obj,
  target: HandlerTarget,
  deps: HandlerDeps,
  timeoutMs: number,
): Promise<HandlerResult> {
  const exec = asObj(handler['exec']);
  if (exec !== undefined) {
    const command = asArr(exec['command']).map((x) => String(x));
    return execCheck(command, target, deps, timeoutMs);
  }
  const http = asObj(handler['httpGet']);
  if (http !== undefined) return httpGetCheck(http, target, deps.clock, timeoutMs);
  const tcp = asObj(handler['tcpSocket']);
  if (tcp !== undefined) return tcpCheck(tcp, target, deps.clock, timeoutMs);
  const sleep = asObj(handler['sleep']);
  if (sleep !== undefined) {
    const ms = (asNum(sleep['seconds']) ?? 0) * 1000;
    await withTimeout(deps.clock, timeoutMs, deps.clock.sleep(ms), () => undefined);
    return { ok: true, message: '' };
  }
  if (asObj(handler['grpc']) !== undefined)
    return { ok: false, message: 'grpc probes are not supported by flotilla' };
  return { ok: false, message: 'missing probe handler' };
}

/**
 * Runs a lifecycle hook bounded by `timeoutMs`; the failure message is worded as the kubelet's.
 * Resolves with undefined on success.
 */
export async function runLifecycleHook(
  handler: Obj,
  target: HandlerTarget & { containerName: string; pod: KubeObject },
  deps: HandlerDeps,
  timeoutMs: number,
): Promise<string | undefined> {
  const res = await runHandler(handler, target, deps, timeoutMs);
  if (res.ok) return undefined;
  const who = `for Container "${target.containerName}" in Pod "${podFullName(target.pod)}"`;
  const exec = asObj(handler['exec']);
  if (exec !== undefined) {
    const cmd = asArr(exec['command']).map(String);
    const out = (res as { output?: string }).output ?? '';
    const code = (res as { exitCode?: number }).exitCode;
    const error = code === undefined ? res.message : `command '${cmd.join(' ')}' exited with ${code}: ${out}`;
    return `Exec lifecycle hook ([${cmd.join(' ')}]) ${who} failed - error: ${error}, message: ${JSON.stringify(out)}`;
  }
  const http = asObj(handler['httpGet']);
  if (http !== undefined) {
    return `HTTP lifecycle hook (${asStr(http['path']) ?? '/'}) ${who} failed - error: ${res.message}`;
  }
  return `lifecycle hook ${who} failed - error: ${res.message}`;
}

type ProbeType = 'startup' | 'readiness' | 'liveness';
const probeField: Record<ProbeType, string> = {
  startup: 'startupProbe',
  readiness: 'readinessProbe',
  liveness: 'livenessProbe',
};
const probeTitle: Record<ProbeType, string> = {
  startup: 'Startup',
  readiness: 'Readiness',
  liveness: 'Liveness',
};

export interface ProberDeps extends HandlerDeps {
  recorder: EventRecorder;
  /** A probe result changed: the pod worker should look again. */
  onChange: () => void;
}

/** The pod's reported status of container `name` when it describes the instance `id`. */
function reportedStatus(pod: KubeObject, name: string, id: string): Obj | undefined {
  const statuses = asArr(asObj(pod.status)?.['containerStatuses']);
  for (const s of statuses) {
    const o = asObj(s);
    if (o !== undefined && o['name'] === name && o['containerID'] === runtimeIdPrefix + id) return o;
  }
  return undefined;
}

/** The probes of one running container. */
class ContainerProber {
  readonly state: ProbeState;
  private readonly abort = new AbortController();

  constructor(
    private readonly pod: KubeObject,
    private readonly container: Obj,
    private readonly status: ContainerStatus,
    private readonly podIP: string | undefined,
    private readonly deps: ProberDeps,
  ) {
    const has = (t: ProbeType): boolean => asObj(container[probeField[t]]) !== undefined;
    // The same container instance as the pod's last reported status (an agent restart adopted it): its
    // results so far hold until a probe says otherwise, so a ready pod does not leave its Services.
    const reported = reportedStatus(pod, asStr(container['name']) ?? '', status.id);
    this.state = {
      started: !has('startup') || reported?.['started'] === true,
      ready: (!has('readiness') && !has('startup')) || reported?.['ready'] === true,
      livenessFailed: false,
      startupFailed: false,
    };
    for (const t of ['startup', 'readiness', 'liveness'] as const) {
      const probe = asObj(container[probeField[t]]);
      if (probe !== undefined) void this.loop(t, probe);
    }
  }

  stop(): void {
    this.abort.abort();
  }

  private async loop(type: ProbeType, probe: Obj): Promise<void> {
    const { clock } = this.deps;
    const signal = this.abort.signal;
    const periodMs = Math.max(1, asNum(probe['periodSeconds']) ?? 10) * 1000;
    const timeoutMs = Math.max(1, asNum(probe['timeoutSeconds']) ?? 1) * 1000;
    const successThreshold = Math.max(1, asNum(probe['successThreshold']) ?? 1);
    const failureThreshold = Math.max(1, asNum(probe['failureThreshold']) ?? 3);
    const startedAt = (this.status.startedAt ?? this.status.createdAt).getTime();
    const firstAt = startedAt + (asNum(probe['initialDelaySeconds']) ?? 0) * 1000;
    let successes = 0;
    let failures = 0;
    let starved = 0;
    try {
      await clock.sleep(Math.max(0, firstAt - clock.now()), signal);
      for (;;) {
        if (signal.aborted) return;
        if (type === 'startup' && this.state.started) return;
        if (type !== 'startup' && !this.state.started) {
          await clock.sleep(periodMs, signal);
          continue;
        }
        const res = await runHandler(
          probe,
          { podIP: this.podIP, containerId: this.status.id, container: this.container },
          this.deps,
          timeoutMs,
        );
        if (signal.aborted) return;
        // A timeout the agent caused by being too busy to read the answer says nothing about the
        // container: try again next period, unless it keeps happening (then it counts as a failure).
        if (res.starved === true && ++starved < failureThreshold) {
          await clock.sleep(periodMs, signal);
          continue;
        }
        starved = 0;
        if (res.ok) {
          successes++;
          failures = 0;
          if (successes >= successThreshold) this.set(type, true);
        } else {
          failures++;
          successes = 0;
          this.deps.recorder.record(
            this.pod,
            'Warning',
            'Unhealthy',
            `${probeTitle[type]} probe failed: ${res.message}`,
          );
          if (failures >= failureThreshold) {
            this.set(type, false);
            if (type !== 'readiness') return; // the worker kills the container
          }
        }
        await clock.sleep(periodMs, signal);
      }
    } catch {
      // aborted: the container stopped or the worker ended
    }
  }

  private set(type: ProbeType, ok: boolean): void {
    const before = JSON.stringify(this.state);
    switch (type) {
      case 'startup':
        if (ok) {
          this.state.started = true;
          if (asObj(this.container['readinessProbe']) === undefined) this.state.ready = true;
        } else this.state.startupFailed = true;
        break;
      case 'readiness':
        this.state.ready = ok;
        break;
      case 'liveness':
        if (!ok) this.state.livenessFailed = true;
        break;
    }
    if (JSON.stringify(this.state) !== before) this.deps.onChange();
  }
}

/** The probers of one pod, kept in step with its running containers. */
export class PodProber {
  private readonly probers = new Map<string, ContainerProber>();

  constructor(private readonly deps: ProberDeps) {}

  /** Starts probers for newly running regular containers and stops those of containers no longer running. */
  sync(pod: KubeObject, containers: ContainerStatus[], podIP: string | undefined): void {
    const specs = new Map(podContainers(pod, 'regular').map((c) => [c.name, c.spec]));
    const running = new Set<string>();
    for (const c of containers) {
      // `unknown`: the runtime could not tell this time (runc's listing missed it under load). A prober
      // already running keeps its results; restarting it would turn a ready container unready until its
      // next probe, and every pod of the node at once when the whole listing was short.
      if (c.state === 'unknown' && this.probers.has(c.id)) {
        running.add(c.id);
        continue;
      }
      if (c.state !== 'running' || c.labels.kind !== 'regular') continue;
      const spec = specs.get(c.labels.containerName);
      if (spec === undefined) continue;
      running.add(c.id);
      if (!this.probers.has(c.id))
        this.probers.set(c.id, new ContainerProber(pod, spec, c, podIP, this.deps));
    }
    for (const [id, p] of this.probers) {
      if (!running.has(id)) {
        p.stop();
        this.probers.delete(id);
      }
    }
  }

  results(): Record<string, ProbeState> {
    const out: Record<string, ProbeState> = {};
    for (const [id, p] of this.probers) out[id] = { ...p.state };
    return out;
  }

  stop(): void {
    for (const p of this.probers.values()) p.stop();
    this.probers.clear();
  }
}
