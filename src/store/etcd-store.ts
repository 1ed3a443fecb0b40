// EtcdStore: the Store port on etcd 3.4+ through the `etcd3` client, for multi-server control planes.
//
// The mapping is direct (it is the shape the port was modelled on): a Store revision is etcd's revision,
// modRevision/createRevision are etcd's mod_revision/create_revision, every CAS write is one etcd
// transaction whose compare decides the outcome, and a watch is an etcd watch from afterRevision + 1.
// Keys are stored under an optional `keyPrefix`, so several stores (or test suites) can share one etcd;
// revisions and compaction are etcd-wide, not per prefix.

import {
  CompareResult,
  CompareTarget,
  Etcd3,
  GRPCUnavailableError,
  type ICompare,
  type IEvent,
  type IKeyValue,
  type IOptions,
  type IRangeRequest,
  type IResponseOp,
  type IWatchResponse,
} from 'etcd3';
import { compareKeys, keySuccessor } from './keys.js';
import {
  isStoreError,
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

/** Keys read per etcd range request when listing. */
const listPageSize = 1000;

export interface EtcdStoreOptions {
  /** etcd client URLs, e.g. `['http://127.0.0.1:2379']`. */
  endpoints: string | string[];
  /** Every key is stored as `keyPrefix + key` (e.g. `/flotilla`). Default: no prefix. */
  keyPrefix?: string;
  /** Deadline of each unary call (not of watch streams). Default 10 s. */
  requestTimeoutMs?: number;
}

/** Connect to etcd and check that it answers; fails with `StoreError('Unavailable')` if it does not. */
export async function openEtcdStore(options: EtcdStoreOptions): Promise<EtcdStore> {
  const store = new EtcdStore(options);
  try {
    await store.currentRevision();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

type GlobalPolicy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

// The client retries "recoverable" failures by default. A retried transaction whose first attempt did
// commit would report KeyExists/Conflict for its own write, so we never retry: callers get a transient
// `Unavailable` and decide.
const noRetry = {
  execute: async <T>(
    fn: (context: { signal: AbortSignal; attempt: number }) => PromiseLike<T> | T,
  ): Promise<T> => fn({ signal: new AbortController().signal, attempt: 1 }),
} as unknown as GlobalPolicy;

/**
 * The policy in front of each etcd host. The client's default is a circuit breaker that stops calling a
 * host for 5 s after three consecutive "recoverable" failures, and it counts cancelled calls and deadlines
 * too. With one endpoint, three cancelled watches in a row made every request fail with 503 for 5 s (a CI
 * run saw it), so a single host gets no breaker: each call fails or succeeds on its own. With several, a
 * host is skipped for `openMs` after `threshold` consecutive Unavailable errors (it is down or unreachable),
 * and calls go to the others.
 */
export function hostPolicy(
  hostCount: number,
  threshold = 3,
  openMs = 5_000,
  now: () => number = Date.now,
): () => GlobalPolicy {
  if (hostCount <= 1) return () => noRetry;
  return () => {
    let failures = 0;
    let openUntil = 0;
    return {
      execute: async <T>(
        fn: (context: { signal: AbortSignal; attempt: number }) => PromiseLike<T> | T,
      ): Promise<T> => {
        if (now() < openUntil)
          throw new GRPCUnavailableError('etcd host skipped after repeated Unavailable errors');
        try {
          const out = await fn({ signal: new AbortController().signal, attempt: 1 });
          failures = 0;
          return out;
        } catch (err) {
          const unavailable =
            err instanceof GRPCUnavailableError || (err as { code?: unknown } | null)?.code === 14;
          if (unavailable && ++failures >= threshold) {
            openUntil = now() + openMs;
            failures = 0;
          }
          throw err;
        }
      },
    } as unknown as GlobalPolicy;
  };
}

const COMPACTED_MESSAGE = 'required revision has been compacted';
const FUTURE_MESSAGE = 'required revision is a future revision';

export class EtcdStore implements Store {
  private readonly client: Etcd3;
  private readonly keyPrefix: string;
  /** The greatest compaction revision we know of (ours, or one we detected). */
  private knownCompacted = 0;
  private readonly watches = new Set<WatchChannel>();
  private closed = false;

  constructor(options: EtcdStoreOptions) {
    this.keyPrefix = options.keyPrefix ?? '';
    const timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.client = new Etcd3({
      hosts: options.endpoints,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
      faultHandling: {
        global: noRetry,
        host: hostPolicy(Array.isArray(options.endpoints) ? options.endpoints.length : 1),
      },
      // Large objects and pages must not hit gRPC's default 4 MiB receive limit.
      grpcOptions: { 'grpc.max_receive_message_length': -1 },
    });
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.assertOpen();
    const res = await this.call(() => this.client.kv.range({ key: this.encode(key) }));
    const kv = res.kvs[0];
    return kv === undefined ? undefined : this.toKeyValue(kv);
  }

  async list(options: ListOptions): Promise<ListResult> {
    this.assertOpen();
    const { prefix, startAfter } = options;
    let from =
      startAfter !== undefined && compareKeys(startAfter, prefix) >= 0 ? keySuccessor(startAfter) : prefix;
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : 0;
    // Read in pages at one revision: a single range of thousands of objects exceeds gRPC's message limits
    // (10,000 pods are about 10 MB), and smaller responses keep etcd's memory flat.
    let revision = options.revision ?? 0;
    const items: KeyValue[] = [];
    for (;;) {
      const want = limit > 0 ? Math.min(listPageSize, limit - items.length) : listPageSize;
      const request: IRangeRequest = {
        key: this.encode(from),
        range_end: this.rangeEnd(prefix),
        revision,
        limit: want,
      };
      const res = await this.read(() => this.client.kv.range(request));
      if (revision === 0) revision = Number(res.header.revision);
      for (const kv of res.kvs) items.push(this.toKeyValue(kv));
      const last = items[items.length - 1];
      const full = limit > 0 && items.length >= limit;
      if (!res.more || res.kvs.length === 0 || last === undefined) return { items, revision, more: false };
      if (full) return { items, revision, more: true };
      from = keySuccessor(last.key);
    }
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    const res = await this.call(() =>
      this.client.kv.range({ key: this.encode(prefix), range_end: this.rangeEnd(prefix), count_only: true }),
    );
    return Number(res.count);
  }

  async create(key: string, value: string): Promise<number> {
    this.assertOpen();
    const k = this.encode(key);
    const res = await this.call(() =>
      this.client.kv.txn({
        compare: [{ key: k, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
        success: [{ request_put: { key: k, value: Buffer.from(value) } }],
        failure: [{ request_range: { key: k } }],
      }),
    );
    if (res.succeeded) return Number(res.header.revision);
    const existing = rangeResult(res.responses[0]);
    throw new StoreError('KeyExists', `key ${key} already exists`, {
      revision: existing === undefined ? Number(res.header.revision) : Number(existing.mod_revision),
    });
  }

  async update(key: string, value: string, expectedRevision: number): Promise<number> {
    this.assertOpen();
    const k = this.encode(key);
    const res = await this.call(() =>
      this.client.kv.txn({
        compare: [
          // A missing key has mod_revision 0: require existence so that expectedRevision 0 cannot create it.
          { key: k, target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 },
          { key: k, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedRevision },
        ],
        success: [{ request_put: { key: k, value: Buffer.from(value) } }],
        failure: [{ request_range: { key: k } }],
      }),
    );
    if (res.succeeded) return Number(res.header.revision);
    throw this.casFailure(key, expectedRevision, rangeResult(res.responses[0]), Number(res.header.revision));
  }

  async delete(key: string, expectedRevision?: number): Promise<{ revision: number; prev: KeyValue }> {
    this.assertOpen();
    const k = this.encode(key);
    const compare: ICompare[] = [
      { key: k, target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 },
    ];
    if (expectedRevision !== undefined) {
      compare.push({
        key: k,
        target: CompareTarget.Mod,
        result: CompareResult.Equal,
        mod_revision: expectedRevision,
      });
    }
    const res = await this.call(() =>
      this.client.kv.txn({
        compare,
        success: [{ request_delete_range: { key: k, prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      }),
    );
    if (!res.succeeded) {
      throw this.casFailure(
        key,
        expectedRevision,
        rangeResult(res.responses[0]),
        Number(res.header.revision),
      );
    }
    const prev = res.responses[0]?.response_delete_range.prev_kvs[0];
    if (prev === undefined) {
      // etcd returns the deleted pair unless it was compacted away mid-transaction, which cannot happen.
      throw new StoreError('Unavailable', `etcd deleted ${key} without returning its previous value`);
    }
    return { revision: Number(res.header.revision), prev: this.toKeyValue(prev) };
  }

  async watch(options: WatchOptions): Promise<Watcher> {
    this.assertOpen();
    const after = options.afterRevision;
    // etcd accepts a watch from a future revision (it waits) and reports a compacted start only after the
    // watch is created; the port wants both rejected up front, so probe a read at `after` first.
    await this.read(() =>
      this.client.kv.range({
        key: this.encode(options.prefix),
        count_only: true,
        revision: Math.max(after, 1),
      }),
    );
    const stream = await this.call(() => this.client.watchClient.watch());
    return new Promise<Watcher>((resolve, reject) => {
      let created = false;
      let ending = false;
      const end = (): void => {
        if (ending) return;
        ending = true;
        try {
          stream.cancel();
        } catch {
          // already gone
        }
      };
      const channel = new WatchChannel(options, (c) => {
        this.watches.delete(c);
        end();
      });
      const failBeforeCreated = (err: StoreError): void => {
        end();
        reject(err);
      };
      stream.on('data', (res: IWatchResponse) => {
        if (!created) {
          if (res.created && !res.canceled) {
            created = true;
            if (this.closed) {
              channel.fail(new StoreError('Closed', 'store closed'));
            } else {
              this.watches.add(channel);
            }
            resolve(channel);
          } else {
            failBeforeCreated(this.watchCanceled(res));
          }
          return;
        }
        if (res.canceled) {
          channel.fail(this.watchCanceled(res));
          end();
          return;
        }
        if (res.events.length > 0) channel.push(res.events.map((ev) => this.toEvent(ev)));
      });
      const onBroken = (err: unknown): void => {
        if (ending) return;
        const failure = this.mapError(err);
        if (created) {
          channel.fail(failure);
          end();
        } else {
          failBeforeCreated(failure);
        }
      };
      stream.on('error', onBroken);
      stream.on('end', () => onBroken(new Error('etcd watch stream ended')));
      stream.write({
        create_request: {
          key: this.encode(options.prefix),
          range_end: this.rangeEnd(options.prefix),
          start_revision: after + 1,
          prev_kv: true,
        },
      });
    });
  }

  async currentRevision(): Promise<number> {
    this.assertOpen();
    const res = await this.call(() => this.client.kv.range({ key: this.encode(''), count_only: true }));
    return Number(res.header.revision);
  }

  /**
   * etcd has no getter for its compaction revision. We remember the latest compaction we did or saw, and
   * find newer ones (another server's, or etcd's auto-compaction) by probing: a read at revision R fails
   * with "compacted" exactly when R < the compaction revision, so a binary search between the known value
   * and the current revision finds it in O(log n) cheap count-only reads. Usually the first probe (at the
   * known value) succeeds and that is the only one.
   */
  async compactedRevision(): Promise<number> {
    this.assertOpen();
    const known = this.knownCompacted;
    let lo = Math.max(known, 1);
    if (await this.readableAt(lo)) return known;
    let hi = await this.currentRevision();
    // Invariant: a read at lo fails, a read at hi succeeds.
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (await this.readableAt(mid)) hi = mid;
      else lo = mid;
    }
    this.knownCompacted = Math.max(this.knownCompacted, hi);
    return this.knownCompacted;
  }

  /** Compacts etcd as a whole (every key prefix): etcd's compaction is not per key range. */
  async compact(revision: number): Promise<void> {
    this.assertOpen();
    try {
      await this.call(() => this.client.kv.compact({ revision, physical: false }));
    } catch (err) {
      // Compacting at or below etcd's compaction revision is a no-op, as in the other adapters.
      if (isStoreError(err) && err.code === 'Compacted') return;
      throw err;
    }
    this.knownCompacted = Math.max(this.knownCompacted, revision);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of this.watches) watch.fail(new StoreError('Closed', 'store closed'));
    this.client.close();
  }

  // ---- helpers ------------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new StoreError('Closed', 'store closed');
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.mapError(err);
    }
  }

  /** A read at a possibly compacted revision: reports the compaction revision with `Compacted`. */
  private async read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.call(fn);
    } catch (err) {
      if (isStoreError(err) && err.code === 'Compacted') {
        const compacted = await this.compactedRevision().catch(() => undefined);
        throw new StoreError(
          'Compacted',
          err.message,
          compacted === undefined ? { cause: err } : { cause: err, revision: compacted },
        );
      }
      throw err;
    }
  }

  private async readableAt(revision: number): Promise<boolean> {
    try {
      await this.call(() => this.client.kv.range({ key: this.encode(''), count_only: true, revision }));
      return true;
    } catch (err) {
      if (isStoreError(err) && err.code === 'Compacted') return false;
      throw err;
    }
  }

  private mapError(err: unknown): StoreError {
    if (isStoreError(err)) return err;
    if (this.closed) return new StoreError('Closed', 'store closed', { cause: err });
    const message = err instanceof Error ? err.message : String(err);
    if (message.includes(COMPACTED_MESSAGE)) {
      return new StoreError('Compacted', `etcd: ${message}`, { cause: err });
    }
    if (message.includes(FUTURE_MESSAGE)) {
      return new StoreError('FutureRevision', `etcd: ${message}`, { cause: err });
    }
    // Connection refused, deadline exceeded, no leader, an open circuit breaker...: retrying may succeed.
    return new StoreError('Unavailable', `etcd: ${message}`, { cause: err });
  }

  private watchCanceled(res: IWatchResponse): StoreError {
    const compacted = Number(res.compact_revision);
    if (compacted > 0) {
      this.knownCompacted = Math.max(this.knownCompacted, compacted);
      return new StoreError(
        'Compacted',
        `etcd compacted the watch's history (oldest revision is ${compacted})`,
        {
          revision: compacted,
        },
      );
    }
    if (this.closed) return new StoreError('Closed', 'store closed');
    return new StoreError(
      'Unavailable',
      `etcd canceled the watch: ${res.cancel_reason || 'no reason given'}`,
    );
  }

  private casFailure(
    key: string,
    expected: number | undefined,
    current: IKeyValue | undefined,
    revision: number,
  ): StoreError {
    if (current === undefined) return new StoreError('NotFound', `key ${key} not found`, { revision });
    const modRevision = Number(current.mod_revision);
    return new StoreError('Conflict', `key ${key} is at revision ${modRevision}, not ${expected ?? 'any'}`, {
      revision: modRevision,
    });
  }

  private encode(key: string): Buffer {
    const bytes = Buffer.from(this.keyPrefix + key);
    // etcd reads an empty key as "no key"; "\0" is the smallest real one.
    return bytes.length === 0 ? Buffer.from([0]) : bytes;
  }

  private decode(key: Buffer): string {
    return key.toString('utf8').slice(this.keyPrefix.length);
  }

  /** The end (exclusive) of the range of keys under `prefix`; "\0" means "to the end of the keyspace". */
  private rangeEnd(prefix: string): Buffer {
    const bytes = Buffer.from(this.keyPrefix + prefix);
    for (let i = bytes.length - 1; i >= 0; i--) {
      const byte = bytes[i] ?? 0xff;
      if (byte < 0xff) {
        const end = bytes.subarray(0, i + 1);
        end[i] = byte + 1;
        return end;
      }
    }
    return Buffer.from([0]);
  }

  private toKeyValue(kv: IKeyValue): KeyValue {
    return {
      key: this.decode(kv.key),
      value: kv.value.toString('utf8'),
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
    };
  }

  private toEvent(ev: IEvent): StoreEvent {
    const key = this.decode(ev.kv.key);
    const revision = Number(ev.kv.mod_revision);
    const prev = ev.prev_kv ?? undefined;
    let event: StoreEvent;
    if (ev.type === 'Delete') {
      // A delete event's kv has no value; the last value is prev_kv's (missing only if compacted away).
      event = {
        type: 'delete',
        key,
        value: prev?.value.toString('utf8') ?? '',
        revision,
        createRevision: prev === undefined ? 0 : Number(prev.create_revision),
      };
    } else {
      event = {
        type: 'put',
        key,
        value: ev.kv.value.toString('utf8'),
        revision,
        createRevision: Number(ev.kv.create_revision),
      };
    }
    if (prev !== undefined) {
      event.prevValue = prev.value.toString('utf8');
      event.prevRevision = Number(prev.mod_revision);
    }
    return event;
  }
}

function rangeResult(op: IResponseOp | undefined): IKeyValue | undefined {
  return op?.response_range.kvs[0];
}
