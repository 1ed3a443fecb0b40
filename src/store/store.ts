// The Store port: a revisioned key-value store in the shape of etcd (and of kine over SQL).
//
// Every successful write gets a new, store-wide, strictly increasing revision. A key's value carries the
// revision of its last write (`modRevision`), which the API server exposes as `metadata.resourceVersion`.
// Values are opaque strings (the API server stores JSON without `resourceVersion`).

export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the write that created this incarnation of the key. */
  createRevision: number;
  /** Revision of the last write to the key. */
  modRevision: number;
}

export type StoreEventType = 'put' | 'delete';

export interface StoreEvent {
  type: StoreEventType;
  key: string;
  /** For `put`: the new value. For `delete`: the last value before deletion. */
  value: string;
  /** The revision of this write; for `delete` the deletion's revision. */
  revision: number;
  createRevision: number;
  /** The value before this write, when there was one. */
  prevValue?: string;
  prevRevision?: number;
}

export interface ListOptions {
  /** Keys starting with this prefix. */
  prefix: string;
  /** Read the state as of this revision (0 or absent: latest). Fails with `Compacted` if compacted away. */
  revision?: number;
  /** At most this many items (0 or absent: no limit); `more` tells whether further keys exist. */
  limit?: number;
  /** Start listing at keys strictly greater than this one (for pagination). */
  startAfter?: string;
}

export interface ListResult {
  items: KeyValue[];
  /** The revision the list was read at. */
  revision: number;
  /** True when `limit` cut the list short. */
  more: boolean;
}

export interface Watcher {
  /** Stop delivering events. Idempotent. */
  close(): void;
}

export interface WatchOptions {
  prefix: string;
  /** Deliver every event with revision > `afterRevision`, in order, then live events. */
  afterRevision: number;
  /**
   * Receives events in batches, asynchronously (never inside the call that made the write), so it may
   * itself write to the store. It must not throw: a throw surfaces as an uncaught error.
   */
  onEvents: (events: StoreEvent[]) => void;
  /** Called once if the watch fails after it started (e.g. the store closed, or etcd compacted past it). */
  onError: (err: StoreError) => void;
}

export type StoreErrorCode =
  'KeyExists' | 'NotFound' | 'Conflict' | 'Compacted' | 'FutureRevision' | 'Unavailable' | 'Closed';

/** Store failures, recognised by `code`. `transient` says a retry may succeed. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  readonly transient: boolean;
  /**
   * For `Conflict` and `KeyExists`: the key's current modRevision. For `NotFound`: the store revision at
   * which the key was found missing. For `Compacted`: the compacted revision (when known).
   */
  readonly revision: number | undefined;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown; revision?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StoreError';
    this.code = code;
    this.revision = options?.revision;
    this.transient = code === 'Unavailable' || code === 'Conflict';
  }
}

export function isStoreError(err: unknown): err is StoreError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'StoreError';
}

export interface Store {
  /** Latest value of a key, or undefined. */
  get(key: string): Promise<KeyValue | undefined>;
  /** Keys under a prefix in key order, optionally at a past revision and paginated. */
  list(options: ListOptions): Promise<ListResult>;
  /** Count of keys under a prefix at the latest revision. */
  count(prefix: string): Promise<number>;
  /** Create a key that must not exist. Returns the new revision. Fails with `KeyExists`. */
  create(key: string, value: string): Promise<number>;
  /**
   * Replace a key's value if its modRevision equals `expectedRevision` (compare-and-swap).
   * Returns the new revision. Fails with `NotFound` or `Conflict`.
   */
  update(key: string, value: string, expectedRevision: number): Promise<number>;
  /**
   * Delete a key; with `expectedRevision`, only if its modRevision matches.
   * Returns the deletion's revision and the deleted value. Fails with `NotFound` or `Conflict`.
   */
  delete(key: string, expectedRevision?: number): Promise<{ revision: number; prev: KeyValue }>;
  /**
   * Start a watch delivering every event with revision > `afterRevision`, in revision order, each once.
   * Rejects with `Compacted` when `afterRevision < compactedRevision()`, and with `FutureRevision` when
   * `afterRevision > currentRevision()`.
   */
  watch(options: WatchOptions): Promise<Watcher>;
  /** The latest revision (0 for an empty store). */
  currentRevision(): Promise<number>;
  /** The oldest revision still readable, 0 before any compaction (lists/watches below it fail with `Compacted`). */
  compactedRevision(): Promise<number>;
  /**
   * Discard history older than `revision` (the latest value of each live key is always kept). A revision
   * at or below `compactedRevision()` is a no-op; one above `currentRevision()` fails with `FutureRevision`.
   */
  compact(revision: number): Promise<void>;
  /** Release resources. Watches end with a `Closed` error. */
  close(): Promise<void>;
}
