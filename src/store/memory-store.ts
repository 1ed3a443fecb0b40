// MemoryStore: a fully revisioned in-process Store, for unit tests and the in-process test cluster.
//
// It keeps, per key, every version since the last compaction (so lists at a past revision work), and a
// store-wide event log (so watches replay from any retained revision). Semantics match SqliteStore and
// EtcdStore; the shared contract suite (contract.ts) holds all three to it.

import { compareKeys } from './keys.js';
import {
  StoreError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type StoreEvent,
  type Watcher,
  type WatchOptions,
} from './store.js';
import { WatchChannel } from './watch-channel.js';

interface Version {
  value: string;
  createRevision: number;
  modRevision: number;
  /** A tombstone: the key was deleted at `modRevision` (value is the last value). */
  deleted: boolean;
}

export class MemoryStore implements Store {
  private revision = 0;
  private compacted = 0;
  /** Versions per key, oldest first; the last one is the latest (a tombstone if the key is deleted). */
  private readonly history = new Map<string, Version[]>();
  /** Every key in `history`, in key order. */
  private sortedKeys: string[] = [];
  /** Events with revision > `compacted`, in revision order. */
  private log: StoreEvent[] = [];
  private readonly watchers = new Set<WatchChannel>();
  private closed = false;

  async get(key: string): Promise<KeyValue | undefined> {
    this.assertOpen();
    const latest = this.latest(key);
    return latest === undefined ? undefined : toKeyValue(key, latest);
  }

  async list(options: ListOptions): Promise<ListResult> {
    this.assertOpen();
    const revision = this.readRevision(options.revision);
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : Infinity;
    const { prefix, startAfter } = options;
    const items: KeyValue[] = [];
    let more = false;
    const from = startAfter !== undefined && compareKeys(startAfter, prefix) >= 0 ? startAfter : prefix;
    let i = lowerBound(this.sortedKeys, from);
    if (from === startAfter && this.sortedKeys[i] === startAfter) i++;
    for (; i < this.sortedKeys.length; i++) {
      const key = this.sortedKeys[i] ?? '';
      if (!key.startsWith(prefix)) break;
      const version = versionAt(this.history.get(key) ?? [], revision);
      if (version === undefined || version.deleted) continue;
      if (items.length >= limit) {
        more = true;
        break;
      }
      items.push(toKeyValue(key, version));
    }
    return { items, revision, more };
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    let n = 0;
    for (let i = lowerBound(this.sortedKeys, prefix); i < this.sortedKeys.length; i++) {
      const key = this.sortedKeys[i] ?? '';
      if (!key.startsWith(prefix)) break;
      if (this.latest(key) !== undefined) n++;
    }
    return n;
  }

  async create(key: string, value: string): Promise<number> {
    this.assertOpen();
    const existing = this.latest(key);
    if (existing !== undefined) {
      throw new StoreError('KeyExists', `key ${key} already exists`, { revision: existing.modRevision });
    }
    const revision = ++this.revision;
    this.append(key, { value, createRevision: revision, modRevision: revision, deleted: false });
    this.publish({ type: 'put', key, value, revision, createRevision: revision });
    return revision;
  }

  async update(key: string, value: string, expectedRevision: number): Promise<number> {
    this.assertOpen();
    const prev = this.expect(key, expectedRevision);
    const revision = ++this.revision;
    this.append(key, { value, createRevision: prev.createRevision, modRevision: revision, deleted: false });
    this.publish({
      type: 'put',
      key,
      value,
      revision,
      createRevision: prev.createRevision,
      prevValue: prev.value,
      prevRevision: prev.modRevision,
    });
    return revision;
  }

  async delete(key: string, expectedRevision?: number): Promise<{ revision: number; prev: KeyValue }> {
    this.assertOpen();
    const prev = this.expect(key, expectedRevision);
    const revision = ++this.revision;
    this.append(key, {
      value: prev.value,
      createRevision: prev.createRevision,
      modRevision: revision,
      deleted: true,
    });
    this.publish({
      type: 'delete',
      key,
      value: prev.value,
      revision,
      createRevision: prev.createRevision,
      prevValue: prev.value,
      prevRevision: prev.modRevision,
    });
    return { revision, prev: toKeyValue(key, prev) };
  }

  async watch(options: WatchOptions): Promise<Watcher> {
    this.assertOpen();
    if (options.afterRevision < this.compacted) {
      throw compactedError(options.afterRevision, this.compacted);
    }
    if (options.afterRevision > this.revision) {
      throw new StoreError(
        'FutureRevision',
        `revision ${options.afterRevision} is newer than ${this.revision}`,
      );
    }
    const channel = new WatchChannel(options, (c) => this.watchers.delete(c));
    // Replay and registration happen in one synchronous step: no write can slip between them.
    channel.push(this.log.slice(upperBoundEvent(this.log, options.afterRevision)));
    this.watchers.add(channel);
    return channel;
  }

  async currentRevision(): Promise<number> {
    this.assertOpen();
    return this.revision;
  }

  async compactedRevision(): Promise<number> {
    this.assertOpen();
    return this.compacted;
  }

  async compact(revision: number): Promise<void> {
    this.assertOpen();
    if (revision > this.revision) {
      throw new StoreError('FutureRevision', `cannot compact at ${revision}: newer than ${this.revision}`);
    }
    if (revision <= this.compacted) return;
    this.compacted = revision;
    this.log = this.log.slice(upperBoundEvent(this.log, revision));
    const emptied = new Set<string>();
    for (const [key, versions] of this.history) {
      // Keep the version visible at `revision` (unless it is a tombstone) and everything newer.
      let keep = versions.length;
      while (keep > 0 && (versions[keep - 1]?.modRevision ?? 0) > revision) keep--;
      // versions[keep - 1] is the one visible at `revision`, if any.
      let drop = keep - 1;
      if (drop >= 0 && versions[drop]?.deleted === true) drop++;
      if (drop > 0) versions.splice(0, drop);
      if (versions.length === 0) emptied.add(key);
    }
    if (emptied.size > 0) {
      for (const key of emptied) this.history.delete(key);
      this.sortedKeys = this.sortedKeys.filter((k) => !emptied.has(k));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watcher of this.watchers) watcher.fail(new StoreError('Closed', 'store closed'));
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('Closed', 'store closed');
  }

  private readRevision(requested: number | undefined): number {
    if (requested === undefined || requested === 0) return this.revision;
    if (requested < this.compacted) throw compactedError(requested, this.compacted);
    if (requested > this.revision) {
      throw new StoreError('FutureRevision', `revision ${requested} is newer than ${this.revision}`);
    }
    return requested;
  }

  private latest(key: string): Version | undefined {
    const versions = this.history.get(key);
    const last = versions?.[versions.length - 1];
    return last === undefined || last.deleted ? undefined : last;
  }

  /** The live version of `key`, checked against an expected modRevision. */
  private expect(key: string, expectedRevision: number | undefined): Version {
    const current = this.latest(key);
    if (current === undefined) {
      throw new StoreError('NotFound', `key ${key} not found`, { revision: this.revision });
    }
    if (expectedRevision !== undefined && current.modRevision !== expectedRevision) {
      throw new StoreError(
        'Conflict',
        `key ${key} is at revision ${current.modRevision}, not ${expectedRevision}`,
        { revision: current.modRevision },
      );
    }
    return current;
  }

  private append(key: string, version: Version): void {
    const versions = this.history.get(key);
    if (versions !== undefined) {
      versions.push(version);
      return;
    }
    this.history.set(key, [version]);
    this.sortedKeys.splice(lowerBound(this.sortedKeys, key), 0, key);
  }

  private publish(event: StoreEvent): void {
    this.log.push(event);
    for (const watcher of this.watchers) watcher.push([event]);
  }
}

function toKeyValue(key: string, v: Version): KeyValue {
  return { key, value: v.value, createRevision: v.createRevision, modRevision: v.modRevision };
}

function compactedError(requested: number, compacted: number): StoreError {
  return new StoreError('Compacted', `revision ${requested} has been compacted (oldest is ${compacted})`, {
    revision: compacted,
  });
}

/** The latest version with modRevision ≤ revision. */
function versionAt(versions: readonly Version[], revision: number): Version | undefined {
  let lo = 0;
  let hi = versions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((versions[mid]?.modRevision ?? 0) <= revision) lo = mid + 1;
    else hi = mid;
  }
  return versions[lo - 1];
}

/** Index of the first key ≥ `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid] ?? '', key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first event with revision > `revision`. */
function upperBoundEvent(log: readonly StoreEvent[], revision: number): number {
  let lo = 0;
  let hi = log.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((log[mid]?.revision ?? 0) <= revision) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
