// RuncRuntime: real OCI containers with runc under conmon. Everything is on disk (meta.json, conmon's pid
// and exit files, runc's state), so a new RuncRuntime over the same root adopts running containers without
// touching them, and the agent can be killed and restarted at any time. What it keeps in memory is only a
// cache of those files (meta.json it wrote itself, exit codes once written, conmon's pid once verified):
// a listing of 100 running containers is then a readdir, a stat and a kill(pid, 0) each, with no runc
// process spawned unless a container's conmon is gone.
//
// Layout (see docs/design/agent-runtime.md):
//   <root>/<id>/meta.json          labels, image, times, cgroup path, messages, OOM verdict
//   <root>/<id>/bundle/config.json the OCI runtime config
//   <root>/<id>/bundle/rootfs      overlayfs mount (lower = image layers, upper/work below)
//   <root>/<id>/upper, work        the container's writable layer
//   <root>/<id>/container.log      CRI-format log written by conmon
//   <root>/<id>/exit/<id>          exit code written by conmon; its mtime is finishedAt
//   <root>/<id>/conmon.pid, container.pid, conmon.log

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { basename, join, resolve } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import * as pty from 'node-pty';
import {
  cgroupDirs,
  detectCgroupLayout,
  readOomKills,
  readUsage,
  removeCgroup,
  type CgroupLayout,
} from './cgroups.js';
import { RuntimeError } from './errors.js';
import {
  ALL_CAPABILITIES,
  buildOciSpec,
  capabilitiesFromMask,
  NOFILE_LIMIT,
  type OciDevice,
} from './oci-spec.js';
import {
  execFailureExitCode,
  processAlive,
  runNative,
  runcMessage,
  Runc,
  type RuncState,
} from './runc-cli.js';
import type {
  ContainerCreateSpec,
  ContainerFilter,
  ContainerLabels,
  ContainerRuntime,
  CreateOptions,
  ContainerState,
  ContainerStats,
  ContainerStatus,
  ExecOptions,
  ExecSession,
  RuntimeInfo,
} from './types.js';
import { resolveUser } from './user.js';
import { processRunner, type SyncOutcome } from '../spawn/helper.js';

export interface RuncRuntimeOptions {
  /** State dir, e.g. `<data-dir>/agent/containers`. */
  root: string;
  /** runc's --root (default /run/flotilla/runc): tests use their own so they never see other containers. */
  runcRoot?: string;
  runcPath?: string;
  conmonPath?: string;
  /** Allow `privileged: true` containers (default false: rejected with InvalidSpec). */
  allowPrivileged?: boolean;
  /** conmon --log-size-max in bytes (the log file is truncated when it grows past it). */
  logSizeMax?: number;
}

/** What meta.json holds. */
interface ContainerMeta {
  id: string;
  labels: ContainerLabels;
  imageRef: string;
  imageId: string;
  createdAt: string;
  startedAt?: string;
  /** Set when runc/conmon refused the container: it never ran. */
  failedAt?: string;
  message?: string;
  oomKilled?: boolean;
  cgroupsPath: string;
  stopSignal?: string;
}

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
/** Exit code reported for a container that could not be started (Kubernetes shows 128 for StartError). */
const START_FAILED_EXIT_CODE = 128;

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/** What the runtime remembers of one container; all of it can be read again from disk. */
interface Known {
  meta: ContainerMeta;
  /** conmon's exit file, once it exists (it never changes after). */
  exit?: { code: number; at: Date };
  /** conmon's pid, checked by its command line; re-checked every `verifyConmonMs`. */
  conmon?: { pid: number; verifiedAt: number };
  /** The container's init pid (conmon's `-p` file). */
  pid?: number;
}

/** How often a cached conmon pid is checked again by its command line (a pid reused after a `kill -9`). */
const verifyConmonMs = 10_000;
/** How stale a pod's own container listing may be about dirs another process made or removed. */
const dirNamesMaxAgeMs = 1000;

export class RuncRuntime implements ContainerRuntime {
  readonly root: string;
  readonly runcRoot: string;
  private readonly runc: Runc;
  private readonly conmonPath: string;
  private readonly allowPrivileged: boolean;
  private readonly logSizeMax: number | undefined;
  private layoutPromise: Promise<CgroupLayout> | undefined;
  private hostFactsPromise:
    Promise<{ swapAccounting: boolean; nofileLimit: number; availableCapabilities: string[] }> | undefined;
  private readonly known = new Map<string, Known>();
  /** Each container's file paths, computed once (listings ask for them on every container). */
  private readonly pathsById = new Map<string, ReturnType<RuncRuntime['paths']>>();
  /** Each container's pod uid (labels never change), for a pod's own listing without reading every meta. */
  private readonly podById = new Map<string, string>();
  /** The container dir names as last read, kept current by this runtime's own creates and removals. */
  private dirNames: { names: Set<string>; readAt: number } | undefined;
  /** Containers this runtime is creating right now (conmon not up yet): `created` without asking runc. */
  private readonly creating = new Set<string>();
  private readonly exitListeners = new Set<(id: string, labels: ContainerLabels) => void>();
  /** inotify watches on the exit dirs of containers that have not exited (conmon writes the file there). */
  private readonly exitWatches = new Map<string, FSWatcher>();

  constructor(options: RuncRuntimeOptions) {
    this.root = resolve(options.root);
    this.runcRoot = resolve(options.runcRoot ?? '/run/flotilla/runc');
    this.runc = new Runc(options.runcPath ?? '/usr/sbin/runc', this.runcRoot);
    this.conmonPath = options.conmonPath ?? '/usr/bin/conmon';
    this.allowPrivileged = options.allowPrivileged ?? false;
    this.logSizeMax = options.logSizeMax;
  }

  private layout(): Promise<CgroupLayout> {
    return (this.layoutPromise ??= detectCgroupLayout());
  }

  /** Facts about this host and process that every OCI spec needs; they do not change while we run. */
  private hostFacts(): Promise<{
    swapAccounting: boolean;
    nofileLimit: number;
    availableCapabilities: string[];
  }> {
    return (this.hostFactsPromise ??= (async () => ({
      swapAccounting: await hasSwapAccounting(await this.layout()),
      nofileLimit: await nofileLimit(),
      availableCapabilities: await ownCapabilities(),
    }))());
  }

  private dir(id: string): string {
    if (!ID_RE.test(id)) throw new RuntimeError('InvalidSpec', `invalid container id "${id}"`);
    return join(this.root, id);
  }

  private paths(id: string): {
    dir: string;
    meta: string;
    bundle: string;
    rootfs: string;
    upper: string;
    work: string;
    log: string;
    exitDir: string;
    exitFile: string;
    conmonPid: string;
    containerPid: string;
    conmonLog: string;
    execDir: string;
  } {
    const cached = this.pathsById.get(id);
    if (cached !== undefined) return cached;
    const dir = this.dir(id);
    const paths = {
      dir,
      meta: join(dir, 'meta.json'),
      bundle: join(dir, 'bundle'),
      rootfs: join(dir, 'bundle', 'rootfs'),
      upper: join(dir, 'upper'),
      work: join(dir, 'work'),
      log: join(dir, 'container.log'),
      exitDir: join(dir, 'exit'),
      exitFile: join(dir, 'exit', id),
      conmonPid: join(dir, 'conmon.pid'),
      containerPid: join(dir, 'container.pid'),
      conmonLog: join(dir, 'conmon.log'),
      execDir: join(dir, 'exec'),
    };
    this.pathsById.set(id, paths);
    return paths;
  }

  private async readMeta(id: string): Promise<ContainerMeta | undefined> {
    const known = this.known.get(id);
    if (known !== undefined) return known.meta;
    try {
      const meta = JSON.parse(await readFile(this.paths(id).meta, 'utf8')) as ContainerMeta;
      this.podById.set(id, meta.labels.podUid);
      // A write of our own may have landed while the file was read: keep the newer record.
      const raced = this.known.get(id);
      if (raced !== undefined) return raced.meta;
      // Another runtime on this root (an agent being replaced) may still start it: cache a record read
      // from disk only once it is settled (started, or failed at create).
      if (meta.startedAt !== undefined || meta.failedAt !== undefined) this.known.set(id, { meta });
      return meta;
    } catch (err) {
      if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  private async writeMeta(meta: ContainerMeta): Promise<void> {
    const p = this.paths(meta.id).meta;
    const tmp = `${p}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(meta));
    await rename(tmp, p);
    this.podById.set(meta.id, meta.labels.podUid);
    const known = this.known.get(meta.id);
    if (known === undefined) this.known.set(meta.id, { meta });
    else known.meta = meta;
  }

  async info(): Promise<RuntimeInfo> {
    return { name: 'runc', version: await this.runc.version(), cgroupVersion: (await this.layout()).version };
  }

  async createContainer(spec: ContainerCreateSpec, opts: CreateOptions = {}): Promise<void> {
    // Awaited later, after the files: a rejection before then is not an unhandled one.
    opts.after?.catch(() => undefined);
    let mine = false;
    try {
      await this.create(spec, opts, () => {
        mine = true;
        this.creating.add(spec.id);
      });
    } finally {
      if (mine) this.creating.delete(spec.id);
    }
  }

  private async create(spec: ContainerCreateSpec, opts: CreateOptions, claimed: () => void): Promise<void> {
    const p = this.paths(spec.id);
    if (spec.security.privileged && !this.allowPrivileged) {
      throw new RuntimeError('InvalidSpec', 'privileged containers are not allowed on this node');
    }
    if (spec.layerDirs.length === 0) throw new RuntimeError('InvalidSpec', 'the image has no layers');
    if (this.dirNames === undefined) await mkdir(this.root, { recursive: true, mode: 0o700 });
    try {
      await mkdir(p.dir, { mode: 0o700 });
    } catch (err) {
      if (isErrno(err, 'EEXIST'))
        throw new RuntimeError('AlreadyExists', `container ${spec.id} already exists`);
      if (isErrno(err, 'ENOENT')) this.dirNames = undefined; // the root was removed (agent reset): again
      throw err;
    }
    this.dirNames?.names.add(spec.id);
    claimed();
    // Listings of other pods skip this dir by its pod at once, instead of looking for its meta.json (not
    // written yet) on every pass while the container is being made.
    this.podById.set(spec.id, spec.labels.podUid);
    const layout = await this.layout();
    const user = await resolveUser(spec).catch(async (err: unknown) => {
      await rm(p.dir, { recursive: true, force: true });
      throw err;
    });
    const meta: ContainerMeta = {
      id: spec.id,
      labels: spec.labels,
      imageRef: spec.imageRef,
      imageId: spec.imageId,
      createdAt: new Date().toISOString(),
      cgroupsPath: '',
    };
    if (spec.stopSignal !== undefined) meta.stopSignal = spec.stopSignal;
    try {
      for (const d of [p.bundle, p.rootfs, p.upper, p.work, p.exitDir]) await mkdir(d, { recursive: true });
      const lower = [...spec.layerDirs].reverse().map((d) => resolve(d));
      await this.mountOverlay(lower, p.upper, p.work, p.rootfs);
      const oci = buildOciSpec(spec, {
        cgroupVersion: layout.version,
        user,
        arch: process.arch,
        rootfsPath: p.rootfs,
        ...(await this.hostFacts()),
        ...(spec.security.privileged ? { hostDevices: await hostDevices() } : {}),
      });
      meta.cgroupsPath = oci.linux.cgroupsPath;
      await this.writeMeta(meta);
      await writeFile(join(p.bundle, 'config.json'), JSON.stringify(oci, null, 2));
    } catch (err) {
      await this.cleanupFiles(spec.id, meta.cgroupsPath).catch(() => undefined);
      throw err;
    }
    if (opts.after !== undefined) {
      try {
        await opts.after;
      } catch (err) {
        await this.cleanupFiles(spec.id, meta.cgroupsPath).catch(() => undefined);
        throw new RuntimeError(
          'Cancelled',
          `container ${spec.id} was not created: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
    }
    const failure = await this.startConmon(spec);
    if (failure !== undefined) {
      // The container never ran: keep its record (listContainers shows the message) but no mount.
      await this.runc.delete(spec.id).catch(() => undefined);
      await this.unmountAll(p.dir).catch(() => undefined);
      await removeCgroup(layout, meta.cgroupsPath).catch(() => undefined);
      meta.failedAt = new Date().toISOString();
      meta.message = failure;
      await this.writeMeta(meta);
      throw new RuntimeError('RuntimeFailed', failure);
    }
    this.watchExit(spec.id, spec.labels);
  }

  private async mountOverlay(lower: string[], upper: string, work: string, target: string): Promise<void> {
    const opts = `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}`;
    const r = await runNative({ op: 'mount', source: 'overlay', target, fstype: 'overlay', data: opts });
    if (r.code !== 0) {
      throw new RuntimeError('RuntimeFailed', `cannot mount the container's rootfs: ${r.stderr.trim()}`);
    }
  }

  /** Starts conmon, which runs `runc create`; resolves undefined once created, or runc's error message. */
  private async startConmon(spec: ContainerCreateSpec): Promise<string | undefined> {
    const p = this.paths(spec.id);
    const l = spec.labels;
    const args = [
      '--cid',
      spec.id,
      '--cuuid',
      spec.id,
      '-n',
      `k8s_${l.containerName}_${l.podName}_${l.podNamespace}_${l.podUid}_${l.attempt}`,
      '-r',
      this.runc.path,
      '--runtime-arg',
      `--root=${this.runcRoot}`,
      '-b',
      p.bundle,
      '-p',
      p.containerPid,
      '-P',
      p.conmonPid,
      '-l',
      `k8s-file:${p.log}`,
      '--exit-dir',
      p.exitDir,
      '--socket-dir-path',
      p.dir,
      '--syslog',
      '--log-level',
      'error',
    ];
    if (spec.tty) args.push('-t');
    if (this.logSizeMax !== undefined) args.push('--log-size-max', String(this.logSizeMax));
    let reported: SyncOutcome;
    try {
      // conmon writes an `oom` file into its working directory when the container is OOM-killed: keep it
      // in the container's own directory (removed with it), not wherever the agent was started.
      reported = await processRunner().runSynced(this.conmonPath, args, { cwd: p.dir, logFile: p.conmonLog });
    } catch (err) {
      return `cannot run ${this.conmonPath}: ${err instanceof Error ? err.message : String(err)}`;
    }
    let message: { pid: number; message?: string } | undefined;
    try {
      message =
        reported.line === undefined
          ? undefined
          : (JSON.parse(reported.line) as { pid: number; message?: string });
    } catch {
      message = undefined;
    }
    if (message === undefined) {
      const log = await readFile(p.conmonLog, 'utf8').catch(() => '');
      return runcMessage(log) || 'conmon exited without reporting the container';
    }
    if (message.pid < 0) return runcMessage(message.message ?? '') || 'runc create failed';
    return undefined;
  }

  async startContainer(id: string): Promise<void> {
    const meta = await this.mustMeta(id);
    if (meta.failedAt !== undefined)
      throw new RuntimeError('InvalidState', meta.message ?? 'container failed');
    try {
      await this.runc.start(id);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      meta.message = message;
      await this.writeMeta(meta);
      throw new RuntimeError('RuntimeFailed', message);
    }
    meta.startedAt = new Date().toISOString();
    await this.writeMeta(meta);
  }

  private async mustMeta(id: string): Promise<ContainerMeta> {
    const meta = await this.readMeta(id);
    if (meta === undefined) throw new RuntimeError('NotFound', `container ${id} not found`);
    return meta;
  }

  private async exitCode(id: string): Promise<{ code: number; at: Date } | undefined> {
    const known = this.known.get(id);
    if (known?.exit !== undefined) return known.exit;
    const f = this.paths(id).exitFile;
    try {
      // Most containers run: a synchronous stat of a missing file is far cheaper than a failed async read.
      const st = statSync(f, { throwIfNoEntry: false });
      if (st === undefined) return undefined;
      const code = Number.parseInt((await readFile(f, 'utf8')).trim(), 10);
      if (!Number.isFinite(code)) return undefined; // conmon is still writing it
      const exit = { code, at: st.mtime };
      const k = this.known.get(id);
      if (k !== undefined) k.exit = exit;
      return exit;
    } catch {
      return undefined;
    }
  }

  /**
   * Whether the container's conmon lives: true/false, or undefined when there is no pid file (conmon not
   * started yet, or it failed). A pid is trusted once its command line names conmon and this container,
   * and checked that way again every `verifyConmonMs`; in between a kill(pid, 0) answers.
   */
  private async conmonAlive(id: string): Promise<boolean | undefined> {
    const known = this.known.get(id);
    const now = Date.now();
    const cached = known?.conmon;
    if (cached !== undefined && now - cached.verifiedAt < verifyConmonMs) return processAlive(cached.pid);
    const pid = cached?.pid ?? (await readPid(this.paths(id).conmonPid));
    if (pid === undefined) return undefined;
    if (!(await isConmonOf(pid, id))) return false;
    const k = this.known.get(id);
    if (k !== undefined) k.conmon = { pid, verifiedAt: now };
    return true;
  }

  private async containerPid(id: string): Promise<number | undefined> {
    const known = this.known.get(id);
    if (known?.pid !== undefined) return known.pid;
    const pid = await readPid(this.paths(id).containerPid);
    const k = this.known.get(id);
    if (k !== undefined && pid !== undefined) k.pid = pid;
    return pid;
  }

  private async waitExit(id: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await this.exitCode(id)) !== undefined) return true;
      const meta = await this.readMeta(id);
      if (meta === undefined || meta.failedAt !== undefined) return true;
      if (Date.now() >= deadline) return false;
      await sleep(100);
    }
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    const status = await this.containerStatus(id);
    if (status === undefined) throw new RuntimeError('NotFound', `container ${id} not found`);
    if (status.state === 'exited') return;
    const meta = await this.mustMeta(id);
    if (status.state === 'running' && timeoutSeconds > 0) {
      await this.signal(id, status, meta.stopSignal ?? 'SIGTERM');
      if (await this.waitExit(id, timeoutSeconds * 1000)) return;
    }
    await this.signal(id, status, 'SIGKILL');
    if (!(await this.waitExit(id, 30_000))) {
      throw new RuntimeError('RuntimeFailed', `container ${id} did not exit after SIGKILL`, {
        transient: true,
      });
    }
  }

  /**
   * Sends `sig` to the container's init process, as `runc kill` does: directly when its conmon lives
   * (the pid in conmon's file is then the container's, and no runc process is spawned), else via runc.
   */
  private async signal(id: string, status: ContainerStatus, sig: string): Promise<void> {
    const known = os.constants.signals[sig as keyof typeof os.constants.signals] !== undefined;
    if (known && status.state === 'running' && status.pid !== undefined && (await this.conmonAlive(id))) {
      try {
        process.kill(status.pid, sig);
        return;
      } catch (err) {
        if (isErrno(err, 'ESRCH')) return; // already gone: conmon is writing the exit file
        throw err;
      }
    }
    await this.runc.kill(id, sig);
  }

  async removeContainer(id: string): Promise<void> {
    const meta = await this.readMeta(id);
    const status = await this.containerStatus(id);
    // Every process of the container has exited: nothing is left for runc to stop or delete.
    let stopped = status?.state === 'exited';
    if (status?.state === 'running' || status?.state === 'created') {
      await this.signal(id, status, 'SIGKILL');
      stopped = await this.waitExit(id, 10_000);
    } else if (status?.state !== 'exited') {
      // Unknown to us (no record, or conmon gone): runc decides whether something still runs.
      const state = await this.runc.state(id);
      if (
        state !== undefined &&
        (state.status === 'running' || state.status === 'created' || state.status === 'paused')
      ) {
        await this.runc.kill(id, 'SIGKILL');
        await this.waitExit(id, 10_000);
      }
    }
    if (stopped && meta?.failedAt === undefined) await this.runc.forget(id);
    else await this.runc.delete(id);
    await this.killConmon(id);
    await this.cleanupFiles(id, meta?.cgroupsPath ?? '');
  }

  /** Unmounts everything under the container dir, removes its cgroup and the dir. */
  private async cleanupFiles(id: string, cgroupsPath: string): Promise<void> {
    const p = this.paths(id);
    await this.unmountAll(p.dir);
    if (cgroupsPath !== '') await removeCgroup(await this.layout(), cgroupsPath);
    await removeDirMetaLast(p.dir, p.meta);
    this.dirNames?.names.delete(id);
    this.known.delete(id);
    this.podById.delete(id);
    this.pathsById.delete(id);
    this.unwatchExit(id);
  }

  /**
   * Removes container dirs without a meta.json: a create or a removal cut short by a crash left them, and
   * no listing shows them. Only while nothing is being created (agent start, `flotilla agent reset`).
   */
  async removeIncomplete(): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await this.containerDirNames()) {
      if (this.creating.has(name)) continue;
      const p = this.paths(name);
      if (existsSync(p.meta)) continue;
      await this.unmountAll(p.dir);
      await rm(p.dir, { recursive: true, force: true });
      this.pathsById.delete(name);
      removed.push(name);
    }
    return removed;
  }

  onExit(listener: (id: string, labels: ContainerLabels) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /**
   * Watches the container's exit dir, so listeners hear of an exit as conmon writes it instead of at the
   * next poll. Not persistent: a watch never keeps the process alive. Dropped once the exit is seen.
   */
  private watchExit(id: string, labels: ContainerLabels): void {
    if (this.exitWatches.has(id)) return;
    let w: FSWatcher;
    try {
      w = watch(this.paths(id).exitDir, { persistent: false }, () => {
        for (const l of this.exitListeners) l(id, labels);
      });
    } catch {
      return; // the dir is gone: the container is being removed
    }
    w.on('error', () => this.unwatchExit(id));
    this.exitWatches.set(id, w);
  }

  private unwatchExit(id: string): void {
    const w = this.exitWatches.get(id);
    if (w === undefined) return;
    this.exitWatches.delete(id);
    w.close();
  }

  private async unmountAll(dir: string): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const mounts = (await mountPointsUnder(dir)).sort((a, b) => b.length - a.length);
      if (mounts.length === 0) return;
      for (const m of mounts) {
        const r = await runNative({ op: 'umount', target: m });
        if (r.code !== 0 && attempt >= 10) await runNative({ op: 'umount', target: m, lazy: true });
      }
      if (attempt > 0) await sleep(100);
    }
    const left = await mountPointsUnder(dir);
    if (left.length > 0) throw new RuntimeError('RuntimeFailed', `cannot unmount ${left.join(', ')}`);
  }

  private async killConmon(id: string): Promise<void> {
    const pid = await readPid(this.paths(id).conmonPid);
    if (pid === undefined) return;
    if (!(await isConmonOf(pid, id))) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    for (let i = 0; i < 50 && processAlive(pid); i++) await sleep(50);
  }

  /**
   * The names of the container dirs under the root (none when the root does not exist yet). Read afresh
   * when older than `maxAgeMs`; this runtime's own creates and removals keep the copy current in between,
   * so only dirs made or removed by another process on the same root (an agent being replaced) can be
   * missing from it, for at most `maxAgeMs`.
   */
  private async containerDirNames(maxAgeMs = 0): Promise<string[]> {
    const now = performance.now();
    if (this.dirNames !== undefined && now - this.dirNames.readAt < maxAgeMs) return [...this.dirNames.names];
    let names: string[];
    try {
      names = (await readdir(this.root)).filter((name) => ID_RE.test(name));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      this.dirNames = undefined;
      return [];
    }
    // Creates that began while the dir was read are in `creating`; keep them.
    const all = new Set(names);
    for (const id of this.creating) all.add(id);
    this.dirNames = { names: all, readAt: now };
    return [...all];
  }

  async listContainers(filter: ContainerFilter = {}): Promise<ContainerStatus[]> {
    // A pod's own listing (every pod worker pass) reads the root at most once a second; a full one reads it.
    const names = await this.containerDirNames(filter.podUid === undefined ? 0 : dirNamesMaxAgeMs);
    // runc's own listing only for containers whose conmon is gone (one `runc list` at most per call).
    let states: Promise<Map<string, RuncState>> | undefined;
    const runcState = async (id: string): Promise<RuncState | undefined> =>
      (await (states ??= this.runc.list())).get(id);
    const present = new Set<string>();
    const out: ContainerStatus[] = [];
    for (const name of names) {
      present.add(name);
      // A pod's own listing looks at its containers only.
      if (filter.podUid !== undefined) {
        const pod = this.podById.get(name) ?? (await this.readMeta(name))?.labels.podUid;
        if (pod !== filter.podUid) continue;
      }
      const s = await this.statusWith(name, runcState);
      if (s !== undefined) out.push(s);
    }
    if (filter.podUid === undefined) {
      for (const id of this.known.keys()) if (!present.has(id)) this.known.delete(id);
      for (const id of this.pathsById.keys()) if (!present.has(id)) this.pathsById.delete(id);
      for (const id of this.podById.keys()) if (!present.has(id)) this.podById.delete(id);
    }
    return out;
  }

  async containerStatus(id: string): Promise<ContainerStatus | undefined> {
    if (!ID_RE.test(id)) return undefined;
    return this.statusWith(id, (x) => this.runc.state(x));
  }

  /**
   * A container's state from what is on disk: failed at create → exited (128); conmon's exit file →
   * exited with its code; conmon alive → running once started, else created. Only when conmon is gone
   * without an exit file does runc's own state decide (`runcState`, called lazily).
   */
  private async statusWith(
    id: string,
    runcState: (id: string) => Promise<RuncState | undefined>,
  ): Promise<ContainerStatus | undefined> {
    const meta = await this.readMeta(id);
    if (meta === undefined) return undefined;
    const p = this.paths(id);
    const status: ContainerStatus = {
      id,
      labels: meta.labels,
      imageRef: meta.imageRef,
      imageId: meta.imageId,
      state: 'unknown',
      createdAt: new Date(meta.createdAt),
      logPath: p.log,
    };
    if (meta.startedAt !== undefined) status.startedAt = new Date(meta.startedAt);
    if (meta.message !== undefined) status.message = meta.message;
    if (meta.failedAt !== undefined) {
      status.state = 'exited';
      status.exitCode = START_FAILED_EXIT_CODE;
      status.finishedAt = new Date(meta.failedAt);
      return status;
    }
    let exit = await this.exitCode(id);
    let state: ContainerState;
    let rs: RuncState | undefined;
    if (exit !== undefined) {
      state = 'exited';
      status.exitCode = exit.code;
      status.finishedAt = exit.at;
    } else if (this.creating.has(id)) {
      state = 'created';
    } else if ((await this.conmonAlive(id)) === true) {
      // conmon lives exactly as long as the container's process, and writes the exit file as it ends.
      state = meta.startedAt !== undefined ? 'running' : 'created';
    } else if ((exit = await this.exitCode(id)) !== undefined) {
      // conmon wrote the exit file and ended between the first look and this one.
      state = 'exited';
      status.exitCode = exit.code;
      status.finishedAt = exit.at;
    } else {
      rs = await runcState(id);
      switch (rs?.status) {
        case undefined:
          state = 'unknown';
          break;
        case 'creating':
        case 'created':
          state = 'created';
          break;
        case 'running':
        case 'paused':
          state = 'running';
          break;
        case 'stopped':
          // conmon writes the exit file right after the process ends; without conmon it never will.
          state = 'exited';
          status.message ??= 'the container monitor (conmon) died: exit code lost';
          break;
      }
    }
    status.state = state;
    if (state === 'exited') this.unwatchExit(id);
    else if (state === 'running' || state === 'created') this.watchExit(id, meta.labels);
    if (state === 'running') {
      const pid = rs !== undefined && rs.pid > 0 ? rs.pid : await this.containerPid(id);
      if (pid !== undefined) status.pid = pid;
    }
    if (state === 'exited') {
      if (meta.oomKilled === undefined) {
        const kills = await readOomKills(await this.layout(), meta.cgroupsPath);
        if (kills !== undefined) {
          meta.oomKilled = kills > 0;
          await this.writeMeta(meta).catch(() => undefined);
        }
      }
      if (meta.oomKilled === true) status.oomKilled = true;
    }
    return status;
  }

  async exec(id: string, opts: ExecOptions): Promise<ExecSession> {
    const state = await this.runc.state(id);
    if (state?.status !== 'running') {
      throw new RuntimeError('InvalidState', `container ${id} is not running`);
    }
    if (opts.command.length === 0) throw new RuntimeError('InvalidSpec', 'exec needs a command');
    const p = this.paths(id);
    await mkdir(p.execDir, { recursive: true });
    const tag = randomBytes(6).toString('hex');
    const logFile = join(p.execDir, `${tag}.log`);
    const pidFile = join(p.execDir, `${tag}.pid`);
    const args = [
      '--root',
      this.runcRoot,
      '--log',
      logFile,
      '--log-format',
      'json',
      'exec',
      '--pid-file',
      pidFile,
      ...(opts.tty ? ['--tty'] : []),
      id,
      ...opts.command,
    ];
    const finish = async (code: number): Promise<number> => {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      await rm(logFile, { force: true });
      await rm(pidFile, { force: true });
      if (code === 0) return 0;
      return execFailureExitCode(runcMessage(log)) ?? code;
    };
    const killInside = async (): Promise<void> => {
      const pid = await readPid(pidFile);
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    };

    if (opts.tty) {
      const term = pty.spawn(this.runc.path, args, {
        name: 'xterm',
        cols: opts.columns ?? 80,
        rows: opts.rows ?? 24,
        cwd: '/',
        env: { ...process.env, TERM: 'xterm' },
      });
      const stdout = new PassThrough();
      term.onData((d) => stdout.write(d));
      const exit = new Promise<number>((res) => {
        term.onExit(({ exitCode }) => {
          setTimeout(() => {
            stdout.end();
            res(finish(exitCode));
          }, 50);
        });
      });
      const stdin = opts.stdin
        ? new Writable({
            write(chunk: Buffer | string, _enc, cb): void {
              term.write(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
              cb();
            },
            final(cb): void {
              term.write('\x04');
              cb();
            },
          })
        : null;
      return {
        stdin,
        stdout,
        stderr: null,
        resize: (columns, rows) => {
          try {
            term.resize(columns, rows);
          } catch {
            // the session already ended
          }
        },
        exit,
        kill: () => {
          void killInside().finally(() => {
            try {
              term.kill();
            } catch {
              // already gone
            }
          });
        },
      };
    }

    const child = spawn(this.runc.path, args, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const exit = new Promise<number>((res) => {
      child.once('error', () => res(finish(126)));
      child.once('close', (code, signal) => res(finish(code ?? (signal === null ? 1 : 137))));
    });
    child.stdin?.on('error', () => undefined);
    return {
      stdin: child.stdin,
      stdout: child.stdout as NodeJS.ReadableStream,
      stderr: child.stderr as NodeJS.ReadableStream,
      resize: () => undefined,
      exit,
      kill: () => {
        void killInside();
      },
    };
  }

  async stats(id: string): Promise<ContainerStats | undefined> {
    const meta = await this.readMeta(id);
    if (meta === undefined || meta.cgroupsPath === '') return undefined;
    const usage = await readUsage(await this.layout(), meta.cgroupsPath);
    if (usage === undefined) return undefined;
    return { id, ...usage, timestamp: new Date() };
  }

  async removePodCgroup(cgroupParent: string): Promise<void> {
    const rel = cgroupParent.replace(/^\/+|\/+$/g, '');
    if (rel === '') return;
    await removeCgroup(await this.layout(), `/${rel}`);
  }

  /**
   * The cgroups directly under `cgroupRoot` in any hierarchy (`<root>/pod<uid>` for pods), e.g. what a
   * teardown cut short left behind with no container record pointing at it.
   */
  async childCgroups(cgroupRoot: string): Promise<string[]> {
    const rel = cgroupRoot.replace(/^\/+|\/+$/g, '');
    if (rel === '') return [];
    const names = new Set<string>();
    for (const dir of cgroupDirs(await this.layout(), `/${rel}`)) {
      try {
        for (const e of await readdir(dir, { withFileTypes: true })) if (e.isDirectory()) names.add(e.name);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
    return [...names].sort().map((n) => `${rel}/${n}`);
  }
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await readFile(file, 'utf8')).trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is the conmon of container `id` (by its command line: a pid can be reused). */
async function isConmonOf(pid: number, id: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('conmon') && cmdline.split('\0').includes(id);
}

/** Mount points at or below `dir` (from /proc/self/mountinfo). */
export async function mountPointsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (mp === undefined) continue;
    const decoded = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (decoded === dir || decoded.startsWith(prefix)) out.push(decoded);
  }
  return out;
}

const CAP_SYS_RESOURCE = 24n;

/** The agent's effective capabilities (a privileged container cannot get more). */
async function ownCapabilities(): Promise<string[]> {
  try {
    const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(await readFile('/proc/self/status', 'utf8'))?.[1];
    return eff === undefined ? [...ALL_CAPABILITIES] : capabilitiesFromMask(eff);
  } catch {
    return [...ALL_CAPABILITIES];
  }
}

/** 1048576, or (without CAP_SYS_RESOURCE, which raising a hard limit needs) our own hard limit when lower. */
export async function nofileLimit(): Promise<number> {
  try {
    const status = await readFile('/proc/self/status', 'utf8');
    const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    const nrOpen = Number((await readFile('/proc/sys/fs/nr_open', 'utf8')).trim());
    const wanted = Number.isFinite(nrOpen) && nrOpen > 0 ? Math.min(NOFILE_LIMIT, nrOpen) : NOFILE_LIMIT;
    if (eff !== undefined && (BigInt(`0x${eff}`) >> CAP_SYS_RESOURCE) & 1n) return wanted;
    const limits = await readFile('/proc/self/limits', 'utf8');
    const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(limits)?.[1];
    if (hard === undefined || hard === 'unlimited') return wanted;
    return Math.min(wanted, Number(hard));
  } catch {
    return NOFILE_LIMIT;
  }
}

async function hasSwapAccounting(layout: CgroupLayout): Promise<boolean> {
  const memory = layout.v1.get('memory');
  if (layout.version === 2 || memory === undefined) return false;
  try {
    await stat(join(memory, 'memory.memsw.limit_in_bytes'));
    return true;
  } catch {
    return false;
  }
}

/** Host device nodes for privileged containers: /dev and one level below, without pts, shm, mqueue. */
async function hostDevices(): Promise<OciDevice[]> {
  const out: OciDevice[] = [];
  const skipDirs = new Set(['pts', 'shm', 'mqueue']);
  const skipNames = new Set(['ptmx', 'console']);
  const visit = async (dir: string, depth: number): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (depth === 0 && !skipDirs.has(e.name)) await visit(path, 1);
        continue;
      }
      if (!e.isCharacterDevice() && !e.isBlockDevice()) continue;
      if (depth === 0 && skipNames.has(e.name)) continue;
      try {
        const st = await stat(path, { bigint: true });
        const rdev = st.rdev;
        const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
        const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
        out.push({
          path,
          type: e.isCharacterDevice() ? 'c' : 'b',
          major,
          minor,
          fileMode: Number(st.mode & 0o777n),
          uid: Number(st.uid),
          gid: Number(st.gid),
        });
      } catch {
        // vanished
      }
    }
  };
  await visit('/dev', 0);
  return out;
}

/**
 * Removes a container dir with its meta.json last, so that a removal cut short (a `kill -9` of the agent)
 * leaves a container the next listing still shows, and removes again.
 */
async function removeDirMetaLast(dir: string, meta: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  const metaName = basename(meta);
  for (const e of entries) if (e !== metaName) await rm(join(dir, e), { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
}
