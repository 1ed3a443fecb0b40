// A Store decorator that times every call the API server makes (flotilla_store_operation_duration_seconds).
// Watch delivery is not timed, only its start: a watch lives as long as its client.
import type { KeyValue, ListOptions, ListResult, Store, Watcher, WatchOptions } from '../store/store.js';
import type { StoreOperation } from '../machinery/prom/index.js';

export type StoreObserver = (operation: StoreOperation, seconds: number) => void;

export class TimedStore implements Store {
  constructor(
    /** The store every call goes to. */
    readonly inner: Store,
    private readonly observe: StoreObserver,
    private readonly now: () => number = () => performance.now(),
  ) {}

  private async timed<T>(operation: StoreOperation, call: () => Promise<T>): Promise<T> {
    const t0 = this.now();
    try {
      return await call();
    } finally {
      this.observe(operation, (this.now() - t0) / 1000);
    }
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.timed('get', () => this.inner.get(key));
  }

  list(options: ListOptions): Promise<ListResult> {
    return this.timed('list', () => this.inner.list(options));
  }

  count(prefix: string): Promise<number> {
    return this.timed('count', () => this.inner.count(prefix));
  }

  create(key: string, value: string): Promise<number> {
    return this.timed('create', () => this.inner.create(key, value));
  }

  update(key: string, value: string, expectedRevision: number): Promise<number> {
    return this.timed('update', () => this.inner.update(key, value, expectedRevision));
  }

  delete(key: string, expectedRevision?: number): Promise<{ revision: number; prev: KeyValue }> {
    return this.timed('delete', () => this.inner.delete(key, expectedRevision));
  }

  watch(options: WatchOptions): Promise<Watcher> {
    return this.timed('watch-start', () => this.inner.watch(options));
  }

  compact(revision: number): Promise<void> {
    return this.timed('compact', () => this.inner.compact(revision));
  }

  // Cheap bookkeeping reads (readyz asks one per probe): not timed.
  currentRevision(): Promise<number> {
    return this.inner.currentRevision();
  }

  compactedRevision(): Promise<number> {
    return this.inner.compactedRevision();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
