// Resolves the user a container runs as: pod runAsUser/runAsGroup, else the image's `User` ("name[:group]"
// or numeric), looked up in the image's /etc/passwd and /etc/group. The files are read through the image
// layer directories (top first) the way overlayfs would show them, resolving symlinks inside the image
// only: an `/etc -> /host/etc` or `../../..` link can never make us read a file of the host.

import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from './errors.js';
import type { ResolvedUser } from './oci-spec.js';
import type { ContainerCreateSpec } from './types.js';

const MAX_SYMLINKS = 40;

async function lstatOrUndefined(p: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await lstat(p);
  } catch {
    return undefined;
  }
}

function isWhiteout(st: import('node:fs').Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Finds the topmost layer holding `comps` (or undefined when absent or whited out). */
async function lookup(
  layers: readonly string[],
  comps: readonly string[],
): Promise<{ layer: string; stat: import('node:fs').Stats } | undefined> {
  const name = comps[comps.length - 1];
  const parent = comps.slice(0, -1);
  for (const layer of layers) {
    if (name !== undefined && (await lstatOrUndefined(join(layer, ...parent, `.wh.${name}`))) !== undefined) {
      return undefined;
    }
    const st = await lstatOrUndefined(join(layer, ...comps));
    if (st === undefined) continue;
    if (isWhiteout(st)) return undefined;
    return { layer, stat: st };
  }
  return undefined;
}

/**
 * Resolves `path` inside the layered rootfs, following symlinks within it (".." stops at the root,
 * absolute targets restart at the root). Returns the layer holding the final regular file and its
 * components, or undefined when the path does not exist.
 */
export async function resolveInLayers(
  layersTopFirst: readonly string[],
  path: string,
): Promise<{ layer: string; comps: string[] } | undefined> {
  let pending = path.split('/').filter((c) => c !== '' && c !== '.');
  let resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const c = pending[0] as string;
    pending = pending.slice(1);
    if (c === '.' || c === '') continue;
    if (c === '..') {
      resolved = resolved.slice(0, -1);
      continue;
    }
    const candidate = [...resolved, c];
    const found = await lookup(layersTopFirst, candidate);
    if (found === undefined) return undefined;
    if (found.stat.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return undefined;
      const target = await readlink(join(found.layer, ...candidate));
      const targetComps = target.split('/').filter((x) => x !== '' && x !== '.');
      if (target.startsWith('/')) resolved = [];
      pending = [...targetComps, ...pending];
      continue;
    }
    if (pending.length > 0 && !found.stat.isDirectory()) return undefined;
    resolved = candidate;
    if (pending.length === 0) {
      if (!found.stat.isFile()) return undefined;
      return { layer: found.layer, comps: resolved };
    }
  }
  return undefined;
}

/** Reads a file of the layered rootfs; undefined when absent. Never follows a symlink out of the image. */
export async function readLayeredFile(
  layersTopFirst: readonly string[],
  path: string,
): Promise<string | undefined> {
  const r = await resolveInLayers(layersTopFirst, path);
  if (r === undefined) return undefined;
  // Within the chosen layer every ancestor must be a real directory (a lower layer's symlink could be
  // shadowed by an upper layer's directory during resolution).
  for (let i = 1; i < r.comps.length; i++) {
    const st = await lstatOrUndefined(join(r.layer, ...r.comps.slice(0, i)));
    if (st === undefined || !st.isDirectory()) return undefined;
  }
  const fh = await open(join(r.layer, ...r.comps), constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (f[0] === undefined || !Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], uid, gid });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const gid = Number(f[2]);
    if (f[0] === undefined || !Number.isInteger(gid)) continue;
    const members = (f[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    out.push({ name: f[0], gid, members });
  }
  return out;
}

const numeric = (s: string): boolean => /^[0-9]+$/.test(s);

export const RUN_AS_NON_ROOT_MESSAGE = 'container has runAsNonRoot and image will run as root';

/** The uid, gid and supplementary gids the container's process gets. `layerDirs` bottom first, as in the spec. */
export async function resolveUser(spec: ContainerCreateSpec): Promise<ResolvedUser> {
  const layers = [...spec.layerDirs].reverse();
  let passwdCache: PasswdEntry[] | undefined;
  let groupCache: GroupEntry[] | undefined;
  const passwd = async (): Promise<PasswdEntry[]> =>
    (passwdCache ??= parsePasswd((await readLayeredFile(layers, '/etc/passwd')) ?? ''));
  const groups = async (): Promise<GroupEntry[]> =>
    (groupCache ??= parseGroup((await readLayeredFile(layers, '/etc/group')) ?? ''));

  const sec = spec.security;
  let uid: number;
  let gid: number | undefined;
  let userName: string | undefined;
  if (sec.runAsUser !== undefined) {
    uid = sec.runAsUser;
    const entry = (await passwd()).find((p) => p.uid === uid);
    userName = entry?.name;
    gid = entry?.gid;
  } else if (spec.imageUser !== undefined && spec.imageUser !== '') {
    const [u = '', g] = spec.imageUser.split(':', 2);
    if (numeric(u)) {
      uid = Number(u);
      const entry = (await passwd()).find((p) => p.uid === uid);
      userName = entry?.name;
      gid = entry?.gid;
    } else {
      const entry = (await passwd()).find((p) => p.name === u);
      if (entry === undefined) {
        throw new RuntimeError('InvalidSpec', `unable to find user ${u}: no matching entries in passwd file`);
      }
      uid = entry.uid;
      gid = entry.gid;
      userName = entry.name;
    }
    if (g !== undefined && g !== '') {
      if (numeric(g)) gid = Number(g);
      else {
        const ge = (await groups()).find((x) => x.name === g);
        if (ge === undefined) {
          throw new RuntimeError(
            'InvalidSpec',
            `unable to find group ${g}: no matching entries in group file`,
          );
        }
        gid = ge.gid;
      }
    }
  } else {
    uid = 0;
    userName = 'root';
    gid = 0;
  }
  if (sec.runAsGroup !== undefined) gid = sec.runAsGroup;
  const primary = gid ?? 0;
  if (sec.runAsNonRoot === true && uid === 0) {
    throw new RuntimeError(
      'InvalidSpec',
      `${RUN_AS_NON_ROOT_MESSAGE} (pod: "${spec.labels.podName}_${spec.labels.podNamespace}(${spec.labels.podUid})", container: ${spec.labels.containerName})`,
    );
  }
  const extra = new Set<number>();
  if (userName !== undefined) {
    for (const g of await groups()) if (g.members.includes(userName) && g.gid !== primary) extra.add(g.gid);
  }
  for (const g of sec.supplementalGroups ?? []) if (g !== primary) extra.add(g);
  return { uid, gid: primary, additionalGids: [...extra] };
}
