// Informer: list, then watch from the list's resourceVersion, keeping an in-memory cache and telling
// handlers what changed. A watch that expires (410) or fails makes it list again (with back-off);
// the relist reconciles the cache, so handlers see deletes for objects that vanished meanwhile.
import { ApiError, isApiError } from '../errors.js';
import type { ResourceInfo } from '../resources.js';
import type { KubeList, KubeObject, WatchEvent } from '../types.js';
import { apiErrorFromStatus, type ApiClient, type ResourceRef, type WatchHandle } from './client.js';

/** Where an informer gets its data: a paged list and a watch from a resourceVersion. */
export interface ListerWatcher<T extends KubeObject = KubeObject> {
  list(opts: { limit?: number; continue?: string }): Promise<KubeList<T>>;
  /**
   * Start watching after `resourceVersion`. Rejects if the watch cannot start (410 → reason Expired).
   * Afterwards exactly one of `onError` (failure) or `onClose` (normal end) is called, unless closed.
   */
  watch(
    resourceVersion: string,
    onEvent: (event: WatchEvent<T>) => void,
    onError: (err: ApiError) => void,
    onClose: () => void,
  ): Promise<WatchHandle>;
}

export interface ListerWatcherOptions {
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  /** Server-side watch timeout; the informer re-watches after it. Default: random 5–10 minutes. */
  timeoutSeconds?: number | undefined;
}

/** A ListerWatcher over the API client for one resource (all namespaces when `namespace` is undefined). */
export function listerWatcherFor<T extends KubeObject = KubeObject>(
  client: ApiClient,
  ref: ResourceRef | ResourceInfo,
  namespace: string | undefined,
  opts: ListerWatcherOptions = {},
): ListerWatcher<T> {
  return {
    list: (page) =>
      client.list<T>(ref, namespace, {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: page.limit,
        continue: page.continue,
      }),
    watch: (resourceVersion, onEvent, onError, onClose) =>
      client.watch<T>(
        ref,
        namespace,
        {
          resourceVersion,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          allowWatchBookmarks: true,
          timeoutSeconds: opts.timeoutSeconds ?? 300 + Math.floor(Math.random() * 300),
        },
        onEvent,
        onError,
        onClose,
      ),
  };
}

export interface InformerHandlers<T extends KubeObject = KubeObject> {
  onAdd?: (obj: T) => void;
  onUpdate?: (oldObj: T, newObj: T) => void;
  /** Called with the last state known: the DELETED event's object, or the cached one after a relist. */
  onDelete?: (obj: T) => void;
}

export interface InformerOptions {
  /** List page size (default 500). */
  pageSize?: number;
  /** First retry delay after a failure (default 500 ms); doubles up to `backoffMaxMs`. */
  backoffInitialMs?: number;
  /** Longest retry delay (default 30 s). */
  backoffMaxMs?: number;
  /** Told about every list/watch failure and handler exception (for logging); the informer retries on its own. */
  onError?: (err: unknown) => void;
  /** Clock for deciding whether a watch ended suspiciously fast (default Date.now). */
  now?: () => number;
}

/** Cache key: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: Pick<KubeObject, 'metadata'>): string {
  const ns = obj.metadata.namespace;
  const name = obj.metadata.name ?? '';
  return ns !== undefined && ns !== '' ? `${ns}/${name}` : name;
}

type State = 'new' | 'listing' | 'watching' | 'waiting' | 'stopped';

export class Informer<T extends KubeObject = KubeObject> {
  private readonly lw: ListerWatcher<T>;
  private readonly pageSize: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly reportError: (err: unknown) => void;
  private readonly now: () => number;

  private cache = new Map<string, T>();
  private readonly handlers = new Set<InformerHandlers<T>>();
  private state: State = 'new';
  private synced = false;
  private rv = '';
  private failures = 0;
  /** Incremented for every list/watch attempt; callbacks from older attempts are ignored. */
  private generation = 0;
  private watchHandle: WatchHandle | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private syncWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(lw: ListerWatcher<T>, options: InformerOptions = {}) {
    this.lw = lw;
    this.pageSize = options.pageSize ?? 500;
    this.backoffInitialMs = options.backoffInitialMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.reportError = options.onError ?? (() => undefined);
    this.now = options.now ?? Date.now;
  }

  /** Register handlers; objects already cached are replayed to `onAdd`. Returns an unsubscribe function. */
  addEventHandler(handlers: InformerHandlers<T>): () => void {
    this.handlers.add(handlers);
    if (handlers.onAdd !== undefined) {
      for (const obj of this.cache.values()) this.call(() => handlers.onAdd?.(obj));
    }
    return () => {
      this.handlers.delete(handlers);
    };
  }

  onAdd(fn: (obj: T) => void): () => void {
    return this.addEventHandler({ onAdd: fn });
  }

  onUpdate(fn: (oldObj: T, newObj: T) => void): () => void {
    return this.addEventHandler({ onUpdate: fn });
  }

  onDelete(fn: (obj: T) => void): () => void {
    return this.addEventHandler({ onDelete: fn });
  }

  /** Begin list+watch. Idempotent. */
  start(): void {
    if (this.state !== 'new') return;
    this.relist();
  }

  /** True once the first list has filled the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves when the first list has filled the cache; rejects if the informer is stopped first. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (this.state === 'stopped')
      return Promise.reject(new ApiError('ServiceUnavailable', 'informer stopped before it synced'));
    return new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
  }

  /** Stop watching and retrying. The cache keeps its last contents. */
  stop(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.generation++;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.watchHandle?.close();
    this.watchHandle = undefined;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters)
      w.reject(new ApiError('ServiceUnavailable', 'informer stopped before it synced'));
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(namespace !== undefined && namespace !== '' ? `${namespace}/${name}` : name);
  }

  getByKey(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  keys(): string[] {
    return [...this.cache.keys()];
  }

  /** The resourceVersion the cache is current at ('' before the first list). */
  lastSyncResourceVersion(): string {
    return this.rv;
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.reportError(err);
    }
  }

  private emitAdd(obj: T): void {
    for (const h of this.handlers) if (h.onAdd !== undefined) this.call(() => h.onAdd?.(obj));
  }

  private emitUpdate(oldObj: T, newObj: T): void {
    for (const h of this.handlers)
      if (h.onUpdate !== undefined) this.call(() => h.onUpdate?.(oldObj, newObj));
  }

  private emitDelete(obj: T): void {
    for (const h of this.handlers) if (h.onDelete !== undefined) this.call(() => h.onDelete?.(obj));
  }

  private relist(): void {
    this.state = 'listing';
    const gen = ++this.generation;
    this.watchHandle?.close();
    this.watchHandle = undefined;
    void this.listAll().then(
      ({ items, resourceVersion }) => {
        if (gen !== this.generation) return;
        this.replace(items, resourceVersion);
        this.startWatch();
      },
      (err: unknown) => {
        if (gen !== this.generation) return;
        this.retryLater(err);
      },
    );
  }

  private async listAll(): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page: KubeList<T> = await this.lw.list(
        cont === undefined ? { limit: this.pageSize } : { limit: this.pageSize, continue: cont },
      );
      items.push(...page.items);
      resourceVersion = page.metadata.resourceVersion;
      cont =
        page.metadata.continue !== undefined && page.metadata.continue !== ''
          ? page.metadata.continue
          : undefined;
    } while (cont !== undefined);
    return { items, resourceVersion };
  }

  /** Make the cache equal to a fresh list, telling handlers the differences. */
  private replace(items: T[], resourceVersion: string): void {
    const next = new Map<string, T>();
    for (const obj of items) next.set(objectKey(obj), obj);
    const previous = this.cache;
    this.cache = next;
    this.rv = resourceVersion;
    for (const [key, obj] of next) {
      const old = previous.get(key);
      if (old === undefined) this.emitAdd(obj);
      else if (
        old.metadata.resourceVersion !== obj.metadata.resourceVersion ||
        old.metadata.uid !== obj.metadata.uid
      ) {
        this.emitUpdate(old, obj);
      }
    }
    for (const [key, old] of previous) if (!next.has(key)) this.emitDelete(old);
    if (!this.synced) {
      this.synced = true;
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  private startWatch(): void {
    this.state = 'watching';
    const gen = ++this.generation;
    const startedAt = this.now();
    let sawEvent = false;
    this.lw
      .watch(
        this.rv,
        (event) => {
          if (gen !== this.generation) return;
          if (event.type !== 'ERROR') {
            if (!sawEvent) this.failures = 0;
            sawEvent = true;
          }
          this.handleEvent(event);
        },
        (err) => {
          if (gen !== this.generation) return;
          this.watchHandle = undefined;
          this.retryLater(err);
        },
        () => {
          if (gen !== this.generation) return;
          this.watchHandle = undefined;
          // A watch the server ends at once, again and again, must not become a hot loop.
          if (!sawEvent && this.now() - startedAt < 1000) {
            this.retryLater(undefined, true);
          } else {
            this.failures = 0;
            this.startWatch();
          }
        },
      )
      .then(
        (handle) => {
          if (gen !== this.generation) {
            handle.close();
            return;
          }
          this.watchHandle = handle;
        },
        (err: unknown) => {
          if (gen !== this.generation) return;
          this.retryLater(err);
        },
      );
  }

  private handleEvent(event: WatchEvent<T>): void {
    const obj = event.object;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const key = objectKey(obj);
        const old = this.cache.get(key);
        this.cache.set(key, obj);
        this.advance(obj);
        if (old === undefined) this.emitAdd(obj);
        else this.emitUpdate(old, obj);
        return;
      }
      case 'DELETED': {
        const key = objectKey(obj);
        const old = this.cache.get(key);
        this.advance(obj);
        if (old === undefined) return;
        this.cache.delete(key);
        this.emitDelete(obj);
        return;
      }
      case 'BOOKMARK':
        this.advance(obj);
        return;
      case 'ERROR': {
        const err = apiErrorFromStatus(obj);
        this.watchHandle?.close();
        this.watchHandle = undefined;
        this.retryLater(err);
        return;
      }
    }
  }

  private advance(obj: T): void {
    const rv = obj.metadata.resourceVersion;
    if (rv !== undefined && rv !== '') this.rv = rv;
  }

  /**
   * After a failure: relist. An expired resourceVersion relists at once the first time (the normal
   * case after compaction); everything else waits an exponential back-off first.
   */
  private retryLater(err: unknown, rewatchOnly = false): void {
    if (this.state === 'stopped') return;
    this.generation++;
    if (err !== undefined) this.reportError(err);
    const expired = isApiError(err) && (err.reason === 'Expired' || err.reason === 'Gone');
    const delay =
      expired && this.failures === 0
        ? 0
        : Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(this.failures, 20));
    this.failures++;
    this.state = 'waiting';
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.state === 'stopped') return;
      if (rewatchOnly && this.synced) this.startWatch();
      else this.relist();
    }, delay);
  }
}
