// SqliteStore: the embedded Store, on SQLite through better-sqlite3 (the kine design).
//
// One append-only table `kv` holds every write; its INTEGER PRIMARY KEY row id IS the revision. A key's
// state at revision R is its row with the greatest id ≤ R (a row with deleted = 1 is a tombstone). The
// table `current` maps each live key to its latest row; at startup it fills an in-memory LatestIndex
// that answers gets and lists at the head (latest-index.ts), while older revisions read the log. This
// process is the only writer: it assigns revisions, commits writes in groups (one IMMEDIATE transaction,
// one fsync, for every write requested in the same event-loop turn), and fans committed events out to
// watchers in memory right after COMMIT. The store's own connection only reads; the writes go through a
// second connection (sqlite-writer.ts), inline or on a worker thread. See docs/design/store.md.

import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { compareKeys, keySuccessor, prefixEnd } from './keys.js';
import { LatestIndex } from './latest-index.js';
import {
  openWriter,
  writerMain,
  type PlainError,
  type WriteOp,
  type WriterConfig,
  type WriterReply,
  type WriterRequest,
  type Writer,
} from './sqlite-writer.js';
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

export interface SqliteStoreOptions {
  /** The database file (conventionally `<data-dir>/state.db`). Its directory is created if missing. */
  path: string;
  /** How often to compact automatically; 0 disables. Default 5 minutes. */
  compactIntervalMs?: number;
  /** Automatic compaction keeps at least this many latest revisions of history. Default 10,000. */
  compactRetainRevisions?: number;
  /** How often to run `PRAGMA wal_checkpoint(TRUNCATE)` (besides after each compaction); 0 disables. Default 1 minute. */
  checkpointIntervalMs?: number;
  /** Busy timeout, in milliseconds, for a locked database. Default 30,000. */
  busyTimeoutMs?: number;
  /** Most writes committed in one transaction. Default 500. */
  maxBatch?: number;
  /** Compaction deletes rows in transactions covering this many revisions each, yielding in between. Default 5,000. */
  compactChunkRevisions?: number;
  /**
   * Run the write connection (group commit, fsync, compaction) on a worker thread, so commits never block
   * the event loop. It costs a second V8 isolate (about 10 MB of RSS). Default: true when the environment
   * variable FLOTILLA_SQLITE_WRITER_THREAD is `1`, otherwise false (the writes run on this thread, each
   * group commit blocking the event loop for its COMMIT and fsync).
   */
  writerThread?: boolean;
}

/** The environment variable giving `writerThread`'s default (`1`: on). */
export const WRITER_THREAD_ENV = 'FLOTILLA_SQLITE_WRITER_THREAD';

/** Settings read back from the live connection. */
export interface SqliteStorePragmas {
  journalMode: string;
  /** 2 is FULL. */
  synchronous: number;
  busyTimeoutMs: number;
}

/** Counters for tests and metrics. */
export interface SqliteStoreStats {
  /** Group-commit transactions run (committed or failed). */
  transactions: number;
  /** Write requests handled (each succeeded or failed individually). */
  writes: number;
  largestBatch: number;
  compactions: number;
  /** Whether opening the database (re)built the `current` table from the log (a migration). */
  rebuiltCurrent: boolean;
  /** The last error of an automatic compaction or checkpoint, if any. */
  lastBackgroundError: StoreError | undefined;
}

interface Row {
  id: number;
  name: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  value: string;
  old_value: string | null;
}

type WriteRequest =
  | {
      op: 'create';
      key: string;
      value: string;
      resolve: (revision: number) => void;
      reject: (err: StoreError) => void;
    }
  | {
      op: 'update';
      key: string;
      value: string;
      expected: number;
      resolve: (revision: number) => void;
      reject: (err: StoreError) => void;
    }
  | {
      op: 'delete';
      key: string;
      expected: number | undefined;
      resolve: (result: { revision: number; prev: KeyValue }) => void;
      reject: (err: StoreError) => void;
    };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  value TEXT NOT NULL,
  old_value TEXT
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`;

// The latest live version of every key: key → the kv id (= modRevision) of its newest row, for keys whose
// newest row is not a tombstone. Maintained in the same transaction as the log, so lists and counts at the
// latest revision are one range scan over it (joined to kv by id). meta 'current' records the revision
// through which it reflects the log; on open, a missing table or a different revision (a database written
// by an older Flotilla) rebuilds it from the log.
const CURRENT_SCHEMA = `
CREATE TABLE IF NOT EXISTS current (
  name TEXT PRIMARY KEY,
  id INTEGER NOT NULL
) WITHOUT ROWID;
`;
const REBUILD_CURRENT = `
DELETE FROM current;
INSERT INTO current (name, id)
  SELECT name, id FROM (SELECT name, MAX(id) AS id, deleted FROM kv GROUP BY name) WHERE deleted = 0;
`;

// List rows come out of SQLite already shaped as KeyValues (no second object per row).
const KV_COLUMNS =
  'k.name AS key, k.value AS value, k.create_revision AS createRevision, k.id AS modRevision';

// The latest row per key at or before @rev, in key order (the index on (name, id) gives the order).
const LIST_WHERE = `
  k.name >= @lo AND k.id <= @rev AND k.deleted = 0
  AND k.id = (SELECT MAX(m.id) FROM kv AS m WHERE m.name = k.name AND m.id <= @rev)`;

/**
 * Open (creating if needed) the SQLite store at `options.path`. Fails with `StoreError('Unavailable')` if
 * the database cannot run in WAL mode with `synchronous=FULL`.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  return new SqliteStore(options);
}

export class SqliteStore implements Store {
  /** This thread's connection: read-only once open (the writer owns the writes). */
  private readonly db: Database.Database;
  /** The writer: on a worker thread, or (`inline`) on this one. Exactly one of the two is set. */
  private readonly writer: Worker | undefined;
  private readonly inline: Writer | undefined;
  private readonly options: Required<Omit<SqliteStoreOptions, 'path'>>;
  /** The head revision: the last batch whose reply has been handled (its events fanned out). */
  private revision: number;
  private compacted: number;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Set once the writer thread died: every later write and compaction fails with it. */
  private writerFailure: StoreError | undefined;
  private readonly queue: WriteRequest[] = [];
  private flushScheduled = false;
  /** A batch has been sent to the writer and its reply is pending (at most one at a time). */
  private batchInFlight = false;
  /** Reply handlers for the requests sent to the writer thread, in the order sent (it replies in that order). */
  private readonly pending: Array<(reply: WriterReply) => void> = [];
  private readonly idleWaiters: Array<() => void> = [];
  private readonly watchers = new Set<WatchChannel>();
  /** Every live key's version at the head (`revision`): gets and lists at the head read it, not SQL. */
  private readonly latest = new LatestIndex();
  private compactChain: Promise<void> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly counters: SqliteStoreStats = {
    transactions: 0,
    writes: 0,
    largestBatch: 0,
    compactions: 0,
    rebuiltCurrent: false,
    lastBackgroundError: undefined,
  };

  private readonly stmt: {
    listBounded: Database.Statement<[{ lo: string; hi: string; rev: number; limit: number }], KeyValue>;
    listUnbounded: Database.Statement<[{ lo: string; rev: number; limit: number }], KeyValue>;
    replayBounded: Database.Statement<[{ after: number; rev: number; lo: string; hi: string }], Row>;
    replayUnbounded: Database.Statement<[{ after: number; rev: number; lo: string }], Row>;
    minIdAfter: Database.Statement<[number], { id: number | null }>;
  };
  private readonly readList: Database.Transaction<
    (lo: string, hi: string | undefined, revision: number, limit: number) => KeyValue[]
  >;

  constructor(options: SqliteStoreOptions) {
    this.options = {
      compactIntervalMs: options.compactIntervalMs ?? 5 * 60_000,
      compactRetainRevisions: options.compactRetainRevisions ?? 10_000,
      checkpointIntervalMs: options.checkpointIntervalMs ?? 60_000,
      busyTimeoutMs: options.busyTimeoutMs ?? 30_000,
      maxBatch: Math.max(1, options.maxBatch ?? 500),
      compactChunkRevisions: Math.max(1, options.compactChunkRevisions ?? 5_000),
      writerThread: options.writerThread ?? process.env[WRITER_THREAD_ENV] === '1',
    };
    mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path, { timeout: this.options.busyTimeoutMs });
    try {
      const journalMode = String(this.db.pragma('journal_mode = WAL', { simple: true }));
      if (journalMode.toLowerCase() !== 'wal') {
        throw new StoreError(
          'Unavailable',
          `SQLite refused journal_mode=WAL for ${options.path} (got ${journalMode})`,
        );
      }
      this.db.pragma('synchronous = FULL');
      const synchronous = Number(this.db.pragma('synchronous', { simple: true }));
      if (synchronous !== 2) {
        throw new StoreError(
          'Unavailable',
          `SQLite PRAGMA synchronous reads back as ${synchronous}, not 2 (FULL): refusing to run without durable commits`,
        );
      }
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.exec(SCHEMA);
      this.compacted = readMeta(this.db, 'compacted') ?? 0;
      // AUTOINCREMENT's sequence remembers the greatest revision ever written, even once compaction has
      // deleted its row, so revisions never go backwards across restarts.
      const sequence = this.db.prepare<[], { seq: number }>(
        "SELECT seq FROM sqlite_sequence WHERE name = 'kv'",
      );
      this.revision = Math.max(sequence.get()?.seq ?? 0, this.compacted);
      this.counters.rebuiltCurrent = buildCurrent(this.db, this.revision);
      const latest = this.db.prepare<[], KeyValue>(
        `SELECT ${KV_COLUMNS} FROM current AS c CROSS JOIN kv AS k ON k.id = c.id`,
      );
      for (const kv of latest.iterate()) this.latest.set(kv);
      // From here on this connection only reads; the writer thread does every write.
      this.db.pragma('query_only = 1');
      this.stmt = {
        listBounded: this.db.prepare(
          `SELECT ${KV_COLUMNS} FROM kv AS k INDEXED BY kv_name_id
           WHERE k.name < @hi AND ${LIST_WHERE} ORDER BY k.name LIMIT @limit`,
        ),
        listUnbounded: this.db.prepare(
          `SELECT ${KV_COLUMNS} FROM kv AS k INDEXED BY kv_name_id
           WHERE ${LIST_WHERE} ORDER BY k.name LIMIT @limit`,
        ),
        replayBounded: this.db.prepare(
          'SELECT * FROM kv WHERE id > @after AND id <= @rev AND name >= @lo AND name < @hi ORDER BY id',
        ),
        replayUnbounded: this.db.prepare(
          'SELECT * FROM kv WHERE id > @after AND id <= @rev AND name >= @lo ORDER BY id',
        ),
        minIdAfter: this.db.prepare('SELECT MIN(id) AS id FROM kv WHERE id > ?'),
      };
      // Lists below the head read the log, in one read transaction (one snapshot) per list.
      this.readList = this.db.transaction((lo, hi, revision, limit) => {
        return hi === undefined
          ? this.stmt.listUnbounded.all({ lo, rev: revision, limit })
          : this.stmt.listBounded.all({ lo, hi, rev: revision, limit });
      });
      const config: WriterConfig = {
        path: options.path,
        busyTimeoutMs: this.options.busyTimeoutMs,
        sqliteModule: createRequire(import.meta.url).resolve('better-sqlite3'),
        revision: this.revision,
      };
      if (this.options.writerThread) {
        const source = `(${writerMain.toString()})(require, ${openWriter.toString()}, ${JSON.stringify(config)});`;
        this.writer = new Worker(source, { eval: true });
      } else {
        this.inline = openWriter(Database, config);
      }
    } catch (err) {
      this.db.close();
      throw err;
    }
    if (this.writer !== undefined) {
      const writer = this.writer;
      // The writer keeps the process alive only while a request is pending.
      writer.unref();
      writer.on('message', (reply: WriterReply) => this.onReply(writer, reply));
      writer.on('error', (err) => this.onWriterDeath(writer, err));
      writer.on('exit', (code) => {
        if (!this.closed || this.pending.length > 0) {
          this.onWriterDeath(writer, new Error(`exited with code ${code}`));
        }
      });
    }
    this.startTimers();
  }

  /** The settings in force on the connection, read back from SQLite. */
  pragmas(): SqliteStorePragmas {
    this.assertOpen();
    return {
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      synchronous: Number(this.db.pragma('synchronous', { simple: true })),
      busyTimeoutMs: Number(this.db.pragma('busy_timeout', { simple: true })),
    };
  }

  stats(): SqliteStoreStats {
    return { ...this.counters };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.assertOpen();
    // At the head, so a get never shows a write whose reply (and events) are still in flight.
    return this.latest.get(key);
  }

  async list(options: ListOptions): Promise<ListResult> {
    this.assertOpen();
    const revision = this.readRevision(options.revision);
    const { prefix, startAfter } = options;
    const lo =
      startAfter !== undefined && compareKeys(startAfter, prefix) >= 0 ? keySuccessor(startAfter) : prefix;
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : -1;
    const hi = prefixEnd(prefix);
    const fetch = limit === -1 ? -1 : limit + 1;
    const rows =
      revision === this.revision ? this.latest.range(lo, hi, fetch) : this.readList(lo, hi, revision, fetch);
    const more = limit !== -1 && rows.length > limit;
    if (more) rows.length = limit;
    return { items: rows, revision, more };
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    return this.latest.count(prefix, prefixEnd(prefix));
  }

  create(key: string, value: string): Promise<number> {
    return new Promise((resolve, reject) => this.enqueue({ op: 'create', key, value, resolve, reject }));
  }

  update(key: string, value: string, expectedRevision: number): Promise<number> {
    return new Promise((resolve, reject) =>
      this.enqueue({ op: 'update', key, value, expected: expectedRevision, resolve, reject }),
    );
  }

  delete(key: string, expectedRevision?: number): Promise<{ revision: number; prev: KeyValue }> {
    return new Promise((resolve, reject) =>
      this.enqueue({ op: 'delete', key, expected: expectedRevision, resolve, reject }),
    );
  }

  async watch(options: WatchOptions): Promise<Watcher> {
    this.assertOpen();
    const after = options.afterRevision;
    if (after < this.compacted) throw compactedError(after, this.compacted);
    if (after > this.revision) {
      throw new StoreError('FutureRevision', `revision ${after} is newer than ${this.revision}`);
    }
    const channel = new WatchChannel(options, (c) => this.watchers.delete(c));
    // Replay committed rows up to the head and register for live events in one synchronous step: the
    // head only moves when this thread handles a batch's reply (which also fans its events out), so no
    // event falls between the two (no gap) and none is in both (no duplicate).
    const hi = prefixEnd(options.prefix);
    const params = { after, rev: this.revision, lo: options.prefix };
    const rows =
      hi === undefined
        ? this.stmt.replayUnbounded.all(params)
        : this.stmt.replayBounded.all({ ...params, hi });
    channel.push(rows.map(rowToEvent));
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

  compact(revision: number): Promise<void> {
    const run = this.compactChain.then(() => this.runCompaction(revision));
    this.compactChain = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    // Writes already requested were promised a verdict: commit them before closing.
    while (this.queue.length > 0 || this.batchInFlight) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    for (const watcher of this.watchers) watcher.fail(new StoreError('Closed', 'store closed'));
    // A compaction in progress stops at its next chunk boundary; wait for it before closing the writer.
    await this.compactChain;
    if (this.writerFailure === undefined) await this.request({ type: 'close' });
    await this.writer?.terminate();
    this.db.close();
  }

  // ---- the writer ---------------------------------------------------------------------------------

  /** Send one request to the writer; resolves with its reply. */
  private request(request: WriterRequest): Promise<WriterReply> {
    return new Promise((resolve) => {
      if (this.writerFailure !== undefined) {
        resolve({ type: 'failed', error: plain(this.writerFailure) });
      } else if (this.writer === undefined) {
        resolve(this.inline?.(request) ?? { type: 'failed', error: plain(this.noWriter()) });
      } else {
        if (this.pending.length === 0) this.writer.ref();
        this.pending.push(resolve);
        this.writer.postMessage(request);
      }
    });
  }

  private noWriter(): StoreError {
    return new StoreError('Unavailable', 'no SQLite writer');
  }

  /** Like `request`, for requests whose reply is 'done' or a failure (thrown as a StoreError). */
  private async command(request: WriterRequest): Promise<void> {
    const reply = await this.request(request);
    if (reply.type === 'failed') throw fromPlain(reply.error);
  }

  private onReply(writer: Worker, reply: WriterReply): void {
    const handler = this.pending.shift();
    if (this.pending.length === 0) writer.unref();
    handler?.(reply);
  }

  private onWriterDeath(writer: Worker, err: unknown): void {
    if (this.writerFailure !== undefined) return;
    this.writerFailure = new StoreError(
      'Unavailable',
      `the SQLite writer thread died: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
    const failed: WriterReply = { type: 'failed', error: plain(this.writerFailure) };
    for (const handler of this.pending.splice(0)) handler(failed);
    writer.unref();
  }

  // ---- writes -------------------------------------------------------------------------------------

  private enqueue(request: WriteRequest): void {
    if (this.closed) {
      request.reject(new StoreError('Closed', 'store closed'));
      return;
    }
    this.queue.push(request);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.batchInFlight || this.queue.length === 0) return;
    this.flushScheduled = true;
    // Every write requested before the event loop gets to this point joins the same transaction; while a
    // batch is in flight, writes queue up for the next one (so batches grow by themselves under load).
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushBatch();
    });
  }

  private flushBatch(): void {
    if (this.batchInFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.options.maxBatch);
    this.counters.transactions++;
    this.counters.writes += batch.length;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
    this.batchInFlight = true;
    const writes = batch.map(toWriteOp);
    void this.request({ type: 'batch', writes }).then((reply) => {
      this.batchInFlight = false;
      this.settleBatch(batch, reply);
      if (this.queue.length > 0) this.scheduleFlush();
      else for (const wake of this.idleWaiters.splice(0)) wake();
    });
  }

  /** A batch's reply: committed (and fsynced) in the writer. Move the head, tell watchers, then writers. */
  private settleBatch(batch: WriteRequest[], reply: WriterReply): void {
    if (reply.type !== 'batch') {
      const failure =
        reply.type === 'failed'
          ? fromPlain(reply.error)
          : new StoreError('Unavailable', 'unexpected reply from the SQLite writer');
      for (const request of batch) request.reject(failure);
      return;
    }
    this.revision = reply.revision;
    this.latest.apply(reply.events);
    if (reply.events.length > 0) for (const watcher of this.watchers) watcher.push(reply.events);
    batch.forEach((request, i) => {
      const outcome = reply.outcomes[i];
      if (outcome === undefined || 'error' in outcome) {
        request.reject(
          outcome === undefined
            ? new StoreError('Unavailable', 'the SQLite writer returned no outcome')
            : fromPlain(outcome.error),
        );
      } else if (request.op === 'delete') {
        if (outcome.prev === undefined) {
          request.reject(new StoreError('Unavailable', 'the SQLite writer returned no previous value'));
        } else {
          request.resolve({ revision: outcome.revision, prev: outcome.prev });
        }
      } else {
        request.resolve(outcome.revision);
      }
    });
  }

  // ---- compaction ---------------------------------------------------------------------------------

  private async runCompaction(revision: number): Promise<void> {
    this.assertOpen();
    if (revision > this.revision) {
      throw new StoreError('FutureRevision', `cannot compact at ${revision}: newer than ${this.revision}`);
    }
    if (revision <= this.compacted) return;
    // Record the compaction first: from here on reads below `revision` are refused, so deleting the
    // history below it (in chunks, possibly interrupted by a crash) is never observable.
    await this.command({ type: 'markCompacted', revision });
    this.compacted = Math.max(this.compacted, revision);
    this.counters.compactions++;
    let lo = (this.stmt.minIdAfter.get(0)?.id ?? revision + 1) - 1;
    while (lo < revision) {
      if (this.closed) return;
      const hi = Math.min(lo + this.options.compactChunkRevisions, revision);
      // Each chunk is one request: the writer handles batches sent meanwhile in between.
      await this.command({ type: 'compactChunk', lo, hi, compacted: revision });
      const next = this.stmt.minIdAfter.get(hi)?.id;
      lo = next === undefined || next === null ? revision : Math.max(hi, next - 1);
      // Let writes and reads through between chunks (an inline writer answers without yielding).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private startTimers(): void {
    const { compactIntervalMs, checkpointIntervalMs } = this.options;
    if (compactIntervalMs > 0) {
      this.timers.push(setInterval(() => void this.autoCompact(), compactIntervalMs).unref());
    }
    if (checkpointIntervalMs > 0) {
      this.timers.push(setInterval(() => void this.checkpoint(), checkpointIntervalMs).unref());
    }
  }

  private async autoCompact(): Promise<void> {
    const target = this.revision - this.options.compactRetainRevisions;
    if (this.closed || target <= this.compacted) return;
    try {
      await this.compact(target);
      await this.checkpoint();
    } catch (err) {
      if (!this.closed) this.counters.lastBackgroundError = toStoreError(err);
    }
  }

  private async checkpoint(): Promise<void> {
    if (this.closed) return;
    try {
      await this.command({ type: 'checkpoint' });
    } catch (err) {
      if (!this.closed) this.counters.lastBackgroundError = toStoreError(err);
    }
  }

  // ---- helpers ------------------------------------------------------------------------------------

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
}

function toWriteOp(request: WriteRequest): WriteOp {
  switch (request.op) {
    case 'create':
      return { op: 'create', key: request.key, value: request.value };
    case 'update':
      return { op: 'update', key: request.key, value: request.value, expected: request.expected };
    case 'delete':
      return { op: 'delete', key: request.key, expected: request.expected };
  }
}

function plain(err: StoreError): PlainError {
  return err.revision === undefined
    ? { code: err.code, message: err.message }
    : { code: err.code, message: err.message, revision: err.revision };
}

function fromPlain(err: PlainError): StoreError {
  return new StoreError(
    err.code,
    err.message,
    err.revision === undefined ? undefined : { revision: err.revision },
  );
}

function readMeta(db: Database.Database, name: string): number | undefined {
  return db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE name = ?').get(name)?.value;
}

/**
 * Create the `current` table if needed and, unless meta 'current' says it already reflects the log up to
 * `revision`, (re)build it from the log, in one IMMEDIATE transaction. Returns whether it rebuilt.
 */
function buildCurrent(db: Database.Database, revision: number): boolean {
  return db
    .transaction(() => {
      const exists =
        db.prepare("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'current'").get() !==
        undefined;
      if (exists && readMeta(db, 'current') === revision) return false;
      db.exec(CURRENT_SCHEMA);
      db.exec(REBUILD_CURRENT);
      db.prepare(
        'INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
      ).run('current', revision);
      return true;
    })
    .immediate();
}

function rowToEvent(row: Row): StoreEvent {
  const event: StoreEvent = {
    type: row.deleted !== 0 ? 'delete' : 'put',
    key: row.name,
    value: row.value,
    revision: row.id,
    createRevision: row.create_revision,
  };
  if (row.old_value !== null) event.prevValue = row.old_value;
  if (row.prev_revision > 0) event.prevRevision = row.prev_revision;
  return event;
}

function compactedError(requested: number, compacted: number): StoreError {
  return new StoreError('Compacted', `revision ${requested} has been compacted (oldest is ${compacted})`, {
    revision: compacted,
  });
}

function toStoreError(err: unknown): StoreError {
  return isStoreError(err) ? err : new StoreError('Unavailable', errorMessage(err), { cause: err });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
