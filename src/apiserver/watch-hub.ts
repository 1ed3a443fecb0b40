// One store watch per resource, fanned out to every API watch of that resource.
//
// Without it each HTTP watch opens its own store watch: with etcd that is one gRPC stream per client and
// every event decoded once per watcher (100 watchers fell seconds behind in the benchmark). A feed keeps
// the recent events of its resource in a ring buffer, so a watch from a recent resourceVersion (the usual
// list-then-watch) is served from memory; an older one goes to the store, which replays its log or answers
// Compacted.
import { storePrefix, type ResourceInfo } from '../api/resources.js';
import { StoreError, type Store, type StoreEvent, type Watcher, type WatchOptions } from '../store/store.js';
import { WatchChannel } from '../store/watch-channel.js';

interface Subscriber {
  channel: WatchChannel;
  /** Only events after this revision go to the subscriber. */
  after: number;
}

class Feed {
  /** Events with revision > `coveredFrom`, oldest first. */
  private buffer: StoreEvent[] = [];
  private coveredFrom: number;
  /** The newest revision this feed has delivered (or started from). */
  private last: number;
  private readonly subscribers = new Set<Subscriber>();
  private watcher: Watcher | undefined;
  failed = false;

  constructor(
    readonly prefix: string,
    startAfter: number,
    private readonly capacity: number,
    private readonly onFailed: (feed: Feed) => void,
  ) {
    this.coveredFrom = startAfter;
    this.last = startAfter;
  }

  async start(store: Store): Promise<void> {
    this.watcher = await store.watch({
      prefix: this.prefix,
      afterRevision: this.coveredFrom,
      onEvents: (events) => this.publish(events),
      onError: (err) => this.fail(err),
    });
  }

  /** Can a watch from `after` be served from this feed's memory? */
  covers(after: number): boolean {
    return !this.failed && after >= this.coveredFrom;
  }

  get lastRevision(): number {
    return this.last;
  }

  subscribe(options: WatchOptions): Watcher {
    const sub: Subscriber = {
      after: options.afterRevision,
      channel: new WatchChannel(options, () => this.subscribers.delete(sub)),
    };
    this.subscribers.add(sub);
    const backlog = this.buffer.filter((e) => e.revision > options.afterRevision);
    if (backlog.length > 0) sub.channel.push(backlog);
    return sub.channel;
  }

  private publish(events: StoreEvent[]): void {
    for (const e of events) this.buffer.push(e);
    const lastEvent = events[events.length - 1];
    if (lastEvent !== undefined) this.last = lastEvent.revision;
    if (this.buffer.length > this.capacity) {
      const drop = this.buffer.length - this.capacity;
      this.coveredFrom = this.buffer[drop - 1]?.revision ?? this.coveredFrom;
      this.buffer = this.buffer.slice(drop);
    }
    for (const sub of this.subscribers) {
      const first = events[0];
      if (first !== undefined && first.revision > sub.after) sub.channel.push(events);
      else sub.channel.push(events.filter((e) => e.revision > sub.after));
    }
  }

  private fail(err: StoreError): void {
    if (this.failed) return;
    this.failed = true;
    this.onFailed(this);
    for (const sub of [...this.subscribers]) sub.channel.fail(err);
    this.subscribers.clear();
  }

  close(): void {
    this.watcher?.close();
    this.fail(new StoreError('Closed', 'the API server is shutting down'));
  }
}

export class WatchHub {
  private readonly feeds = new Map<string, Feed>();
  private readonly starting = new Map<string, Promise<Feed>>();

  constructor(
    private readonly store: Store,
    /** Recent events kept per resource. */
    private readonly capacity = 10_000,
  ) {}

  /** Same contract as `Store.watch`, for prefixes inside one resource. */
  async watch(options: WatchOptions, info: ResourceInfo): Promise<Watcher> {
    const root = storePrefix(info, undefined);
    if (!options.prefix.startsWith(root)) return this.store.watch(options);
    const feed = await this.feedFor(root, options.afterRevision);
    if (!feed.covers(options.afterRevision)) return this.store.watch(options);
    // The buffer may still hold events the store has compacted away; clients get the same 410 either way.
    const compacted = await this.store.compactedRevision();
    if (options.afterRevision < compacted) {
      throw new StoreError(
        'Compacted',
        `revision ${options.afterRevision} has been compacted (at ${compacted})`,
        {
          revision: compacted,
        },
      );
    }
    if (options.afterRevision > feed.lastRevision) {
      // The client may have read a newer revision than this feed has delivered yet; that is fine unless it is
      // newer than the store itself.
      const current = await this.store.currentRevision();
      if (options.afterRevision > current) {
        throw new StoreError('FutureRevision', `revision ${options.afterRevision} is newer than ${current}`, {
          revision: current,
        });
      }
    }
    return feed.subscribe(options);
  }

  private async feedFor(root: string, after: number): Promise<Feed> {
    const existing = this.feeds.get(root);
    if (existing !== undefined && !existing.failed) return existing;
    const pending = this.starting.get(root);
    if (pending !== undefined) return pending;
    const starting = (async () => {
      const feed = new Feed(root, after, this.capacity, (f) => {
        if (this.feeds.get(root) === f) this.feeds.delete(root);
      });
      await feed.start(this.store);
      this.feeds.set(root, feed);
      return feed;
    })();
    this.starting.set(root, starting);
    try {
      return await starting;
    } finally {
      this.starting.delete(root);
    }
  }

  close(): void {
    for (const feed of this.feeds.values()) feed.close();
    this.feeds.clear();
  }
}
