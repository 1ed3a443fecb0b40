// Pod volumes as plain directories under the pod dir (kubelet layout `volumes/<plugin>/<name>`):
// emptyDir, hostPath (with type checks), and the API-data volumes configMap, secret, downwardAPI and
// projected, written with the kubelet's atomic-writer layout (`..<timestamp>` dir, `..data` symlink
// swapped by rename, user-visible entries as symlinks through `..data`) so a refresh is atomic for
// readers. Also the container side: volumeMounts → bind mounts, with subPath checks.
import type { Stats } from 'node:fs';
import {
  chmod,
  lchown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, posix, sep } from 'node:path';
import type { KubeObject } from '../../api/types.js';
import { isObject } from '../../api/types.js';
import type { Mount } from '../runtime/types.js';
import type { ObjectLookup, PodContext } from './container-spec.js';
import {
  configError,
  configMapText,
  expandVars,
  list,
  podFieldValue,
  podSpec,
  rec,
  resourceFieldValue,
  secretValues,
  str,
} from './env.js';

export type VolumeKind = 'emptyDir' | 'hostPath' | 'configMap' | 'secret' | 'downwardAPI' | 'projected';
const pluginDir: Record<Exclude<VolumeKind, 'hostPath'>, string> = {
  emptyDir: 'kubernetes.io~empty-dir',
  configMap: 'kubernetes.io~configmap',
  secret: 'kubernetes.io~secret',
  downwardAPI: 'kubernetes.io~downward-api',
  projected: 'kubernetes.io~projected',
};
/** Host-side parent dirs: secrets (and projected volumes, which usually hold tokens) only for root. */
const pluginDirMode: Record<Exclude<VolumeKind, 'hostPath'>, number> = {
  emptyDir: 0o750,
  configMap: 0o750,
  secret: 0o700,
  downwardAPI: 0o750,
  projected: 0o700,
};
const volumeKinds: VolumeKind[] = ['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected'];

/** Volumes the kubelet always mounts read-only into containers. */
export function isApiDataVolume(kind: VolumeKind): boolean {
  return kind === 'configMap' || kind === 'secret' || kind === 'downwardAPI' || kind === 'projected';
}

/** The kind of a pod volume, or undefined for a type Flotilla does not support. */
export function volumeKind(volume: Record<string, unknown>): VolumeKind | undefined {
  return volumeKinds.find((k) => volume[k] !== undefined && volume[k] !== null);
}

/** Volume name → its kind, for the pod's spec.volumes. */
export function podVolumeKinds(pod: KubeObject): Map<string, VolumeKind | undefined> {
  const out = new Map<string, VolumeKind | undefined>();
  for (const v of list(podSpec(pod)['volumes']).filter(isObject)) {
    const name = str(v['name']);
    if (name !== undefined) out.set(name, volumeKind(v));
  }
  return out;
}

// ---- payloads ----

export interface FileProjection {
  data: Buffer;
  mode: number;
}
type Payload = Map<string, FileProjection>;

function checkRelPath(p: string): void {
  if (p === '' || isAbsolute(p) || p.split('/').some((part) => part === '..') || p.startsWith('..'))
    throw configError(`invalid path "${p}": must be relative and may not contain '..' or start with '..'`);
}

function modeOf(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0o777 ? v : fallback;
}

function addKeys(
  out: Payload,
  source: Map<string, Buffer>,
  items: unknown[],
  mode: number,
  optional: boolean,
  missingKey: (key: string) => string,
): void {
  if (items.length === 0) {
    for (const [k, v] of source) {
      checkRelPath(k);
      out.set(k, { data: v, mode });
    }
    return;
  }
  for (const raw of items) {
    const item = rec(raw);
    const key = str(item['key']) ?? '';
    const path = str(item['path']) ?? key;
    const data = source.get(key);
    if (data === undefined) {
      if (optional) continue;
      throw configError(missingKey(key));
    }
    checkRelPath(path);
    out.set(path, { data, mode: modeOf(item['mode'], mode) });
  }
}

function configMapBytes(cm: KubeObject): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of configMapText(cm)) out.set(k, Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries(rec(cm['binaryData'])))
    if (typeof v === 'string') out.set(k, Buffer.from(v, 'base64'));
  return out;
}

async function configMapPayload(
  out: Payload,
  src: Record<string, unknown>,
  ns: string,
  mode: number,
  lookup: ObjectLookup,
): Promise<void> {
  const name = str(src['name']) ?? '';
  const optional = src['optional'] === true;
  const cm = await lookup.configMap(ns, name);
  if (cm === undefined) {
    if (optional) return;
    throw configError(`configmap "${name}" not found`);
  }
  addKeys(
    out,
    configMapBytes(cm),
    list(src['items']),
    mode,
    optional,
    (k) => `configmap references non-existent config key: ${k}`,
  );
}

async function secretPayload(
  out: Payload,
  src: Record<string, unknown>,
  nameField: 'name' | 'secretName',
  ns: string,
  mode: number,
  lookup: ObjectLookup,
): Promise<void> {
  const name = str(src[nameField]) ?? '';
  const optional = src['optional'] === true;
  const secret = await lookup.secret(ns, name);
  if (secret === undefined) {
    if (optional) return;
    throw configError(`secret "${name}" not found`);
  }
  addKeys(
    out,
    secretValues(secret),
    list(src['items']),
    mode,
    optional,
    (k) => `references non-existent secret key: ${k}`,
  );
}

function downwardPayload(out: Payload, ctx: PodContext, items: unknown[], mode: number): void {
  for (const raw of items) {
    const item = rec(raw);
    const path = str(item['path']) ?? '';
    checkRelPath(path);
    let value: string;
    if (isObject(item['fieldRef'])) {
      const fieldPath = str(item['fieldRef']['fieldPath']) ?? '';
      const v = podFieldValue(ctx, fieldPath);
      if (v === undefined || fieldPath.startsWith('status.') || fieldPath.startsWith('spec.'))
        throw configError(`unsupported fieldPath in downwardAPI volume: ${fieldPath}`);
      value = v;
    } else if (isObject(item['resourceFieldRef'])) {
      value = resourceFieldValue(ctx, {}, item['resourceFieldRef']);
    } else throw configError(`downwardAPI item "${path}" has neither fieldRef nor resourceFieldRef`);
    out.set(path, { data: Buffer.from(value, 'utf8'), mode: modeOf(item['mode'], mode) });
  }
}

/** The files an API-data volume holds now. Throws ContainerConfigError for a missing non-optional source. */
export async function volumePayload(
  ctx: PodContext,
  kind: 'configMap' | 'secret' | 'downwardAPI' | 'projected',
  source: Record<string, unknown>,
  lookup: ObjectLookup,
): Promise<Payload> {
  const ns = ctx.pod.metadata.namespace ?? 'default';
  const mode = modeOf(source['defaultMode'], 0o644);
  const out: Payload = new Map();
  switch (kind) {
    case 'configMap':
      await configMapPayload(out, source, ns, mode, lookup);
      break;
    case 'secret':
      await secretPayload(out, source, 'secretName', ns, mode, lookup);
      break;
    case 'downwardAPI':
      downwardPayload(out, ctx, list(source['items']), mode);
      break;
    case 'projected':
      for (const raw of list(source['sources'])) {
        const s = rec(raw);
        if (isObject(s['configMap'])) await configMapPayload(out, s['configMap'], ns, mode, lookup);
        else if (isObject(s['secret'])) await secretPayload(out, s['secret'], 'name', ns, mode, lookup);
        else if (isObject(s['downwardAPI'])) downwardPayload(out, ctx, list(s['downwardAPI']['items']), mode);
        // serviceAccountToken and clusterTrustBundle sources are not served yet: nothing is written.
      }
      break;
  }
  return out;
}

// ---- the atomic writer ----

function timestampName(): string {
  const d = new Date();
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.`;
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch {
    return undefined;
  }
}

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await listFiles(root, r)));
    else out.push(r);
  }
  return out;
}

async function sameContent(dir: string, payload: Payload, fileMode: (m: number) => number): Promise<boolean> {
  try {
    const files = await listFiles(dir);
    if (files.length !== payload.size) return false;
    for (const f of files) {
      const want = payload.get(f);
      if (want === undefined) return false;
      const st = await stat(join(dir, f));
      if ((st.mode & 0o7777) !== fileMode(want.mode)) return false;
      if (!(await readFile(join(dir, f))).equals(want.data)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes payload into target with the kubelet's atomic-writer layout. Returns false when the current
 * contents already match (nothing written). With fsGroup, files and dirs get that group, files at least
 * 0440 and dirs setgid + group search, as upstream's volume ownership does for read-only volumes.
 */
export async function writeAtomic(target: string, payload: Payload, fsGroup?: number): Promise<boolean> {
  const fileMode = (m: number): number => (fsGroup !== undefined ? m | 0o440 : m);
  const dirMode = fsGroup !== undefined ? 0o2755 : 0o755;
  await mkdir(target, { recursive: true });
  await setDirOwnership(target, dirMode, fsGroup);
  const dataLink = join(target, '..data');
  let current: string | undefined;
  try {
    current = await readlink(dataLink);
  } catch {
    current = undefined;
  }
  if (current !== undefined && (await sameContent(join(target, current), payload, fileMode))) return false;

  const ts = await mkdtemp(join(target, timestampName()));
  await setDirOwnership(ts, dirMode, fsGroup);
  for (const [rel, f] of payload) {
    const file = join(ts, rel);
    const parent = dirname(file);
    if (parent !== ts) {
      await mkdir(parent, { recursive: true });
      // Every directory between ts and the file gets the same mode and group.
      for (let d = parent; d !== ts && d.startsWith(ts + sep); d = dirname(d))
        await setDirOwnership(d, dirMode, fsGroup);
    }
    await writeFile(file, f.data);
    if (fsGroup !== undefined) await lchown(file, -1, fsGroup);
    await chmod(file, fileMode(f.mode));
  }

  // Swap ..data atomically: a fresh symlink renamed over the old one.
  const tmpLink = join(target, '..data_tmp');
  await rm(tmpLink, { force: true });
  await symlink(basename(ts), tmpLink);
  await rename(tmpLink, dataLink);

  // User-visible top-level entries: symlinks through ..data.
  const tops = new Set([...payload.keys()].map((p) => p.split('/')[0] ?? p));
  for (const top of tops) {
    const link = join(target, top);
    const st = await lstatOrUndefined(link);
    if (st !== undefined && st.isSymbolicLink() && (await readlink(link)) === posix.join('..data', top))
      continue;
    if (st !== undefined) await rm(link, { recursive: true, force: true });
    await symlink(posix.join('..data', top), link);
  }
  for (const e of await readdir(target)) {
    if (e === '..data') continue;
    const p = join(target, e);
    if (e.startsWith('..')) {
      if (e !== basename(ts)) await rm(p, { recursive: true, force: true });
    } else if (!tops.has(e)) {
      const st = await lstatOrUndefined(p);
      if (st?.isSymbolicLink() === true) await unlink(p);
    }
  }
  return true;
}

async function setDirOwnership(dir: string, mode: number, fsGroup?: number): Promise<void> {
  if (fsGroup !== undefined) await lchown(dir, -1, fsGroup);
  await chmod(dir, mode);
}

// ---- hostPath ----

async function checkHostPath(path: string, type: string): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  const fail = (what: string): never => {
    throw configError(`hostPath type check failed: ${path} is not a ${what}`);
  };
  switch (type) {
    case '':
      return;
    case 'DirectoryOrCreate':
      if (st === undefined) {
        await mkdir(path, { recursive: true, mode: 0o755 });
        return;
      }
      if (!st.isDirectory()) fail('directory');
      return;
    case 'Directory':
      if (st?.isDirectory() !== true) fail('directory');
      return;
    case 'FileOrCreate':
      if (st === undefined) {
        try {
          await writeFile(path, '', { flag: 'a', mode: 0o644 });
        } catch (err) {
          throw configError(`hostPath type check failed: cannot create ${path}: ${(err as Error).message}`);
        }
        return;
      }
      if (!st.isFile()) fail('file');
      return;
    case 'File':
      if (st?.isFile() !== true) fail('file');
      return;
    case 'Socket':
      if (st?.isSocket() !== true) fail('socket file');
      return;
    case 'CharDevice':
      if (st?.isCharacterDevice() !== true) fail('character device');
      return;
    case 'BlockDevice':
      if (st?.isBlockDevice() !== true) fail('block device');
      return;
    default:
      throw configError(`hostPath type ${type} is not supported`);
  }
}

// ---- the pod's volumes ----

/** The fsGroup from the pod securityContext, if any. */
export function podFsGroup(pod: KubeObject): number | undefined {
  const v = rec(podSpec(pod)['securityContext'])['fsGroup'];
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

/**
 * Sets up every volume of the pod; returns volume name → host path. Safe to call again: emptyDir and
 * hostPath are left as they are, API-data volumes are refreshed atomically when their contents changed.
 */
export async function prepareVolumes(ctx: PodContext, lookup: ObjectLookup): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const fsGroup = podFsGroup(ctx.pod);
  for (const volume of list(podSpec(ctx.pod)['volumes']).filter(isObject)) {
    const name = str(volume['name']) ?? '';
    const kind = volumeKind(volume);
    if (kind === undefined) {
      const type = Object.keys(volume).find((k) => k !== 'name') ?? 'unknown';
      throw configError(`volume "${name}": volume type ${type} is not supported`);
    }
    const source = rec(volume[kind]);
    if (kind === 'hostPath') {
      const path = str(source['path']) ?? '';
      if (!isAbsolute(path)) throw configError(`volume "${name}": hostPath path must be absolute`);
      await checkHostPath(path, str(source['type']) ?? '');
      out.set(name, path);
      continue;
    }
    const parent = join(ctx.podDir, 'volumes', pluginDir[kind]);
    await mkdir(parent, { recursive: true, mode: pluginDirMode[kind] });
    await chmod(parent, pluginDirMode[kind]);
    const dir = join(parent, name);
    if (kind === 'emptyDir') {
      const existed = (await lstatOrUndefined(dir)) !== undefined;
      await mkdir(dir, { recursive: true });
      if (!existed) await setDirOwnership(dir, fsGroup !== undefined ? 0o2777 : 0o777, fsGroup);
    } else {
      await writeAtomic(dir, await volumePayload(ctx, kind, source, lookup), fsGroup);
    }
    out.set(name, dir);
  }
  return out;
}

// ---- container side ----

function isWithin(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/**
 * The bind mounts for a container's volumeMounts. subPath (or subPathExpr expanded with the pod's env)
 * must be relative without `..`, is created as a directory when missing (as the kubelet does), and must
 * not lead out of the volume through a symlink. API-data volumes are always read-only.
 */
export async function volumeMounts(args: {
  pod: KubeObject;
  container: Record<string, unknown>;
  volumes: Map<string, string>;
  podVars: Map<string, string>;
}): Promise<Mount[]> {
  const kinds = podVolumeKinds(args.pod);
  const containerName = str(args.container['name']) ?? '';
  const out: Mount[] = [];
  for (const raw of list(args.container['volumeMounts'])) {
    const vm = rec(raw);
    const name = str(vm['name']) ?? '';
    const mountPath = str(vm['mountPath']) ?? '';
    const hostDir = args.volumes.get(name);
    if (hostDir === undefined)
      throw configError(`cannot find volume "${name}" to mount into container "${containerName}"`);
    const kind = kinds.get(name);
    let subPath = str(vm['subPath']) ?? '';
    const expr = str(vm['subPathExpr']);
    if (subPath === '' && expr !== undefined && expr !== '')
      subPath = expandVars(expr, (n) => args.podVars.get(n));
    let hostPath = hostDir;
    if (subPath !== '') {
      if (isAbsolute(subPath)) throw configError(`subPath "${subPath}" must not be an absolute path`);
      if (subPath.split(/[\\/]/).includes('..'))
        throw configError(`subPath "${subPath}" must not contain '..'`);
      const base = await realpath(hostDir);
      const parts = normalize(subPath)
        .split(sep)
        .filter((p) => p !== '' && p !== '.');
      // Walk the existing part resolving symlinks, each step inside the volume; create the rest.
      let cur = base;
      for (let i = 0; i < parts.length; i++) {
        const next = join(cur, parts[i] ?? '');
        if ((await lstatOrUndefined(next)) === undefined) {
          const mode = (await stat(base)).mode & 0o7777;
          await mkdir(join(cur, ...parts.slice(i)), { recursive: true, mode });
          cur = join(cur, ...parts.slice(i));
          break;
        }
        cur = await realpath(next);
        if (!isWithin(cur, base)) throw configError(`subpath "${cur}" not within volume path "${base}"`);
      }
      const real = await realpath(cur);
      if (!isWithin(real, base)) throw configError(`subpath "${real}" not within volume path "${base}"`);
      hostPath = real;
    }
    const readOnly = vm['readOnly'] === true || (kind !== undefined && isApiDataVolume(kind));
    out.push({ containerPath: mountPath, hostPath, readOnly });
  }
  return out;
}
