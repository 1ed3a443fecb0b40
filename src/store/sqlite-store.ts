// SqliteStore: the embedded Store, on SQLite through better-sqlite3 (the kine design).
//
// One append-only table `kv` holds every write; its INTEGER PRIMARY KEY row id IS the revision. A key's
// state at revision R is its row with the greatest id ≤ R (a row with deleted = 1 is a tombstone). This
// process is the only writer: it assigns revisions, commits writes in groups (one IMMEDIATE transaction,
// one fsync, for every write requested in the same event-loop turn), and fans committed events out to
// watchers in memory right after COMMIT. See docs/design/store.md.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { compareKeys, keySuccessor, prefixEnd } from './keys.js';
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
}

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

type LatestRow = Pick<Row, 'id' | 'create_revision' | 'deleted' | 'value'>;

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
  private readonly db: Database.Database;
  private readonly options: Required<Omit<SqliteStoreOptions, 'path'>>;
  private revision: number;
  private compacted: number;
  private closed = false;
  private readonly queue: WriteRequest[] = [];
  private flushScheduled = false;
  private readonly watchers = new Set<WatchChannel>();
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
    latest: Database.Statement<[string], LatestRow>;
    insert: Database.Statement<[number, string, number, number, number, number, string, string | null]>;
    sequence: Database.Statement<[], { seq: number }>;
    setMeta: Database.Statement<[string, number]>;
    current: Database.Statement<[string], LatestRow>;
    upsertCurrent: Database.Statement<[string, number]>;
    deleteCurrent: Database.Statement<[string]>;
    listBounded: Database.Statement<[{ lo: string; hi: string; rev: number; limit: number }], KeyValue>;
    listUnbounded: Database.Statement<[{ lo: string; rev: number; limit: number }], KeyValue>;
    listCurrentBounded: Database.Statement<[{ lo: string; hi: string; limit: number }], KeyValue>;
    listCurrentUnbounded: Database.Statement<[{ lo: string; limit: number }], KeyValue>;
    countBounded: Database.Statement<[{ lo: string; hi: string }], { n: number }>;
    countUnbounded: Database.Statement<[{ lo: string }], { n: number }>;
    replayBounded: Database.Statement<[{ after: number; rev: number; lo: string; hi: string }], Row>;
    replayUnbounded: Database.Statement<[{ after: number; rev: number; lo: string }], Row>;
    minIdAfter: Database.Statement<[number], { id: number | null }>;
    deleteSuperseded: Database.Statement<[{ lo: number; hi: number; c: number }]>;
    deleteTombstones: Database.Statement<[{ lo: number; hi: number }]>;
  };
  private readonly writeBatch: Database.Transaction<(batch: WriteRequest[]) => Array<() => void>>;
  private readonly compactChunk: Database.Transaction<(lo: number, hi: number, c: number) => void>;

  constructor(options: SqliteStoreOptions) {
    this.options = {
      compactIntervalMs: options.compactIntervalMs ?? 5 * 60_000,
      compactRetainRevisions: options.compactRetainRevisions ?? 10_000,
      checkpointIntervalMs: options.checkpointIntervalMs ?? 60_000,
      busyTimeoutMs: options.busyTimeoutMs ?? 30_000,
      maxBatch: Math.max(1, options.maxBatch ?? 500),
      compactChunkRevisions: Math.max(1, options.compactChunkRevisions ?? 5_000),
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
      this.stmt = {
        latest: this.db.prepare(
          'SELECT id, create_revision, deleted, value FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1',
        ),
        insert: this.db.prepare(
          'INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value, old_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        ),
        sequence: this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'kv'"),
        setMeta: this.db.prepare(
          'INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
        ),
        current: this.db.prepare(
          'SELECT k.id, k.create_revision, k.deleted, k.value FROM current AS c CROSS JOIN kv AS k ON k.id = c.id WHERE c.name = ?',
        ),
        upsertCurrent: this.db.prepare(
          'INSERT INTO current (name, id) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET id = excluded.id',
        ),
        deleteCurrent: this.db.prepare('DELETE FROM current WHERE name = ?'),
        listBounded: this.db.prepare(
          `SELECT ${KV_COLUMNS} FROM kv AS k INDEXED BY kv_name_id
           WHERE k.name < @hi AND ${LIST_WHERE} ORDER BY k.name LIMIT @limit`,
        ),
        listUnbounded: this.db.prepare(
          `SELECT ${KV_COLUMNS} FROM kv AS k INDEXED BY kv_name_id
           WHERE ${LIST_WHERE} ORDER BY k.name LIMIT @limit`,
        ),
        // At the latest revision: a range scan over `current`, each row joined to its kv row by id. CROSS
        // JOIN keeps `current` the outer loop, so the rows come in key order and LIMIT stops the scan.
        listCurrentBounded: this.db.prepare(
          `SELECT ${KV_COLUMNS} FROM current AS c CROSS JOIN kv AS k ON k.id = c.id
           WHERE c.name >= @lo AND c.name < @hi ORDER BY c.name LIMIT @limit`,
        ),
        listCurrentUnbounded: this.db.prepare(
          `SELECT ${KV_COLUMNS} FROM current AS c CROSS JOIN kv AS k ON k.id = c.id
           WHERE c.name >= @lo ORDER BY c.name LIMIT @limit`,
        ),
        countBounded: this.db.prepare('SELECT COUNT(*) AS n FROM current WHERE name >= @lo AND name < @hi'),
        countUnbounded: this.db.prepare('SELECT COUNT(*) AS n FROM current WHERE name >= @lo'),
        replayBounded: this.db.prepare(
          'SELECT * FROM kv WHERE id > @after AND id <= @rev AND name >= @lo AND name < @hi ORDER BY id',
        ),
        replayUnbounded: this.db.prepare(
          'SELECT * FROM kv WHERE id > @after AND id <= @rev AND name >= @lo ORDER BY id',
        ),
        minIdAfter: this.db.prepare('SELECT MIN(id) AS id FROM kv WHERE id > ?'),
        // Rows superseded by a later row at or before the compaction revision @c...
        deleteSuperseded: this.db.prepare(
          `DELETE FROM kv WHERE id > @lo AND id <= @hi
           AND id < (SELECT MAX(m.id) FROM kv AS m WHERE m.name = kv.name AND m.id <= @c)`,
        ),
        // ...then tombstones at or before it (run per chunk after the above, so no older row of the key is left).
        deleteTombstones: this.db.prepare('DELETE FROM kv WHERE id > @lo AND id <= @hi AND deleted = 1'),
      };
      this.writeBatch = this.db.transaction((batch: WriteRequest[]) => this.applyBatch(batch));
      this.compactChunk = this.db.transaction((lo: number, hi: number, c: number) => {
        this.stmt.deleteSuperseded.run({ lo, hi, c });
        this.stmt.deleteTombstones.run({ lo, hi });
      });
    } catch (err) {
      this.db.close();
      throw err;
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
    const row = this.stmt.current.get(key);
    if (row === undefined) return undefined;
    return { key, value: row.value, createRevision: row.create_revision, modRevision: row.id };
  }

  async list(options: ListOptions): Promise<ListResult> {
    this.assertOpen();
    const revision = this.readRevision(options.revision);
    const { prefix, startAfter } = options;
    const lo =
      startAfter !== undefined && compareKeys(startAfter, prefix) >= 0 ? keySuccessor(startAfter) : prefix;
    const hi = prefixEnd(prefix);
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : -1;
    const params = { lo, rev: revision, limit: limit === -1 ? -1 : limit + 1 };
    let rows: KeyValue[];
    if (revision === this.revision) {
      // `current` holds exactly the state at the latest revision.
      const { rev: _, ...latest } = params;
      rows =
        hi === undefined
          ? this.stmt.listCurrentUnbounded.all(latest)
          : this.stmt.listCurrentBounded.all({ ...latest, hi });
    } else {
      rows =
        hi === undefined ? this.stmt.listUnbounded.all(params) : this.stmt.listBounded.all({ ...params, hi });
    }
    const more = limit !== -1 && rows.length > limit;
    if (more) rows.length = limit;
    return {
      items: rows,
      revision,
      more,
    };
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    const hi = prefixEnd(prefix);
    const params = { lo: prefix };
    const row =
      hi === undefined ? this.stmt.countUnbounded.get(params) : this.stmt.countBounded.get({ ...params, hi });
    return row?.n ?? 0;
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
    // Replay committed rows and register for live events in one synchronous step: commits also run
    // synchronously, so none can fall between the two (no gap), and none is in both (no duplicate).
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

  async close(): Promise<void> {
    if (this.closed) return;
    // Writes already requested were promised a verdict: commit them before closing.
    while (this.queue.length > 0) this.flushBatch();
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const watcher of this.watchers) watcher.fail(new StoreError('Closed', 'store closed'));
    // A compaction in progress stops at its next chunk boundary; wait for it before closing the handle.
    await this.compactChain;
    this.db.close();
  }

  // ---- writes -------------------------------------------------------------------------------------

  private enqueue(request: WriteRequest): void {
    if (this.closed) {
      request.reject(new StoreError('Closed', 'store closed'));
      return;
    }
    this.queue.push(request);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Every write requested before the event loop gets to this point joins the same transaction.
      setImmediate(() => this.onFlush());
    }
  }

  private onFlush(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0) return;
    this.flushBatch();
    if (this.queue.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => this.onFlush());
    }
  }

  private flushBatch(): void {
    const batch = this.queue.splice(0, this.options.maxBatch);
    this.counters.transactions++;
    this.counters.writes += batch.length;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
    let settle: Array<() => void>;
    const before = this.revision;
    try {
      settle = this.writeBatch.immediate(batch);
    } catch (err) {
      this.revision = before;
      const failure = isStoreError(err)
        ? err
        : new StoreError('Unavailable', `SQLite write failed: ${errorMessage(err)}`, { cause: err });
      for (const request of batch) request.reject(failure);
      return;
    }
    // Committed (and fsynced): tell watchers, then the writers.
    for (const fn of settle) fn();
  }

  /** Runs inside the IMMEDIATE transaction. Returns what to do once it has committed. */
  private applyBatch(batch: WriteRequest[]): Array<() => void> {
    const sequence = this.stmt.sequence.get()?.seq ?? 0;
    if (sequence > this.revision) {
      throw new StoreError(
        'Unavailable',
        `another process has written to this database (revision ${sequence}, expected ${this.revision}); SqliteStore must be the only writer`,
      );
    }
    const start = this.revision;
    const events: StoreEvent[] = [];
    const outcomes: Array<() => void> = [];
    for (const request of batch) {
      const row = this.stmt.latest.get(request.key);
      const live = row !== undefined && row.deleted === 0 ? row : undefined;
      switch (request.op) {
        case 'create': {
          if (live !== undefined) {
            const err = new StoreError('KeyExists', `key ${request.key} already exists`, {
              revision: live.id,
            });
            outcomes.push(() => request.reject(err));
            break;
          }
          const revision = ++this.revision;
          this.stmt.insert.run(revision, request.key, 1, 0, revision, 0, request.value, null);
          this.stmt.upsertCurrent.run(request.key, revision);
          events.push({
            type: 'put',
            key: request.key,
            value: request.value,
            revision,
            createRevision: revision,
          });
          outcomes.push(() => request.resolve(revision));
          break;
        }
        case 'update': {
          const err = this.check(request.key, live, request.expected);
          if (err !== undefined || live === undefined) {
            const failure = err ?? notFound(request.key, this.revision);
            outcomes.push(() => request.reject(failure));
            break;
          }
          const revision = ++this.revision;
          this.stmt.insert.run(
            revision,
            request.key,
            0,
            0,
            live.create_revision,
            live.id,
            request.value,
            live.value,
          );
          this.stmt.upsertCurrent.run(request.key, revision);
          events.push({
            type: 'put',
            key: request.key,
            value: request.value,
            revision,
            createRevision: live.create_revision,
            prevValue: live.value,
            prevRevision: live.id,
          });
          outcomes.push(() => request.resolve(revision));
          break;
        }
        case 'delete': {
          const err = this.check(request.key, live, request.expected);
          if (err !== undefined || live === undefined) {
            const failure = err ?? notFound(request.key, this.revision);
            outcomes.push(() => request.reject(failure));
            break;
          }
          const revision = ++this.revision;
          // A tombstone carries the last value, so a delete event (and a replay of it) can report it.
          this.stmt.insert.run(
            revision,
            request.key,
            0,
            1,
            live.create_revision,
            live.id,
            live.value,
            live.value,
          );
          this.stmt.deleteCurrent.run(request.key);
          events.push({
            type: 'delete',
            key: request.key,
            value: live.value,
            revision,
            createRevision: live.create_revision,
            prevValue: live.value,
            prevRevision: live.id,
          });
          const prev: KeyValue = {
            key: request.key,
            value: live.value,
            createRevision: live.create_revision,
            modRevision: live.id,
          };
          outcomes.push(() => request.resolve({ revision, prev }));
          break;
        }
      }
    }
    // `current` now reflects the log through this revision (checked on open).
    if (this.revision > start) this.stmt.setMeta.run('current', this.revision);
    const publish = (): void => {
      if (events.length === 0) return;
      for (const watcher of this.watchers) watcher.push(events);
    };
    return [publish, ...outcomes];
  }

  private check(
    key: string,
    live: LatestRow | undefined,
    expected: number | undefined,
  ): StoreError | undefined {
    if (live === undefined) return notFound(key, this.revision);
    if (expected !== undefined && live.id !== expected) {
      return new StoreError('Conflict', `key ${key} is at revision ${live.id}, not ${expected}`, {
        revision: live.id,
      });
    }
    return undefined;
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
    this.db.transaction(() => this.stmt.setMeta.run('compacted', revision)).immediate();
    this.compacted = revision;
    this.counters.compactions++;
    let lo = (this.stmt.minIdAfter.get(0)?.id ?? revision + 1) - 1;
    while (lo < revision) {
      if (this.closed) return;
      const hi = Math.min(lo + this.options.compactChunkRevisions, revision);
      this.compactChunk.immediate(lo, hi, revision);
      const next = this.stmt.minIdAfter.get(hi)?.id;
      lo = next === undefined || next === null ? revision : Math.max(hi, next - 1);
      // Let writes and reads through between chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private startTimers(): void {
    const { compactIntervalMs, checkpointIntervalMs } = this.options;
    if (compactIntervalMs > 0) {
      this.timers.push(setInterval(() => void this.autoCompact(), compactIntervalMs).unref());
    }
    if (checkpointIntervalMs > 0) {
      this.timers.push(
        setInterval(() => this.background(() => this.checkpoint()), checkpointIntervalMs).unref(),
      );
    }
  }

  private async autoCompact(): Promise<void> {
    const target = this.revision - this.options.compactRetainRevisions;
    if (this.closed || target <= this.compacted) return;
    try {
      await this.compact(target);
      this.background(() => this.checkpoint());
    } catch (err) {
      if (!this.closed) this.counters.lastBackgroundError = toStoreError(err);
    }
  }

  private checkpoint(): void {
    if (!this.closed) this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  private background(fn: () => void): void {
    try {
      fn();
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

function notFound(key: string, revision: number): StoreError {
  return new StoreError('NotFound', `key ${key} not found`, { revision });
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
