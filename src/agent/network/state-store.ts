// Per-pod network state on disk (`<stateDir>/pods/<uid>.json`), written atomically (temp file, fsync,
// rename), so status(), DEL (which needs the ADD result as prevResult) and list() survive an agent restart.
// The record is written before anything is created (phase 'creating') and removed last, so a crash in the
// middle leaves a record that tells a later tearDown what to undo.

import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CniResult } from './cni-exec.js';
import type { HostPortMapping } from './types.js';

export interface PodNetworkRecord {
  version: 1;
  podUid: string;
  podName: string;
  podNamespace: string;
  /** CNI_CONTAINERID used for every plugin call. */
  containerId: string;
  netnsName: string;
  netnsPath: string;
  ifName: string;
  network: string;
  cniVersion: string;
  hostPorts: HostPortMapping[];
  /**
   * True when the node-wide masquerade rule covers this pod (bridge runs with ipMasq false). Records from
   * before it have no field: their bridge added per-pod masquerade rules, removed with ipMasq on DEL.
   */
  nodeMasquerade?: boolean;
  /** The plugins of the chain, in ADD order (portmap only for pods with hostPorts). */
  plugins: ('loopback' | 'bridge' | 'portmap')[];
  phase: 'creating' | 'ready';
  /** The chain's final result (the prevResult of DEL and CHECK). */
  result?: CniResult;
  ips: string[];
  createdAt: string;
}

export class PodStateStore {
  private readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'pods');
  }

  private file(podUid: string): string {
    return join(this.dir, `${encodeURIComponent(podUid)}.json`);
  }

  async read(podUid: string): Promise<PodNetworkRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.file(podUid), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const record = JSON.parse(text) as PodNetworkRecord;
      return record.version === 1 && record.podUid === podUid ? record : undefined;
    } catch {
      // A torn file cannot happen with rename, but a hand-edited one can: treat it as absent.
      return undefined;
    }
  }

  async write(record: PodNetworkRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const target = this.file(record.podUid);
    const temp = `${target}.${process.pid}.${Math.random().toString(16).slice(2)}.tmp`;
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(record, null, 2));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
    const dirHandle = await open(this.dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }

  async remove(podUid: string): Promise<void> {
    await rm(this.file(podUid), { force: true });
  }

  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names
      .filter((n) => n.endsWith('.json'))
      .map((n) => decodeURIComponent(n.slice(0, -'.json'.length)));
  }
}
