// SqliteStore's writer: the write connection, with the group-commit transaction (its CAS decisions, COMMIT
// and fsync) and compaction. `openWriter` opens it and returns a function that handles one request
// synchronously and returns its reply. SqliteStore runs it either on its own thread (inline, the default)
// or on a worker thread (`writerMain`), where commits do not block the main event loop.
//
// Requests are handled strictly one at a time, in the order sent, each with exactly one reply, in the
// same order (so the caller matches replies to requests first-in, first-out). A batch's reply exists only
// after COMMIT returned, i.e. after the fsync.
//
// For the worker, `openWriter` and `writerMain` are shipped as source text (`new Worker(source, { eval:
// true })`), which works the same from the TypeScript sources under vitest and from the compiled dist/.
// Both must therefore be self-contained: they may use only their parameters and globals, never a value
// imported or declared at module level (types are fine, they are erased).

import type Database from 'better-sqlite3';
import type * as WorkerThreads from 'node:worker_threads';
import type { KeyValue, StoreErrorCode, StoreEvent } from './store.js';

export interface WriterConfig {
  /** The database file; the main thread has already created it, its schema and the `current` table. */
  path: string;
  busyTimeoutMs: number;
  /** The resolved path of better-sqlite3's entry point (`require.resolve('better-sqlite3')`). */
  sqliteModule: string;
  /** The head revision the main thread read at open; the writer continues from it. */
  revision: number;
}

export type WriteOp =
  | { op: 'create'; key: string; value: string }
  | { op: 'update'; key: string; value: string; expected: number }
  | { op: 'delete'; key: string; expected: number | undefined };

/** A StoreError as plain data (it crosses the thread boundary by structured clone). */
export interface PlainError {
  code: StoreErrorCode;
  message: string;
  revision?: number;
}

export type WriteOutcome = { revision: number; prev?: KeyValue } | { error: PlainError };

export type WriterRequest =
  | { type: 'batch'; writes: WriteOp[] }
  | { type: 'markCompacted'; revision: number }
  | { type: 'compactChunk'; lo: number; hi: number; compacted: number }
  | { type: 'checkpoint' }
  | { type: 'close' };

export type WriterReply =
  /** A committed batch: one outcome per write, the events to fan out, the head revision after it. */
  | { type: 'batch'; outcomes: WriteOutcome[]; events: StoreEvent[]; revision: number }
  | { type: 'done' }
  /** The request failed as a whole (for a batch: nothing of it was committed). */
  | { type: 'failed'; error: PlainError };

export type Writer = (request: WriterRequest) => WriterReply;

/** The worker's entry point. `req` is the worker's own `require`, `open` is `openWriter`. */
export function writerMain(req: NodeRequire, open: typeof openWriter, config: WriterConfig): void {
  const { parentPort } = req('node:worker_threads') as typeof WorkerThreads;
  if (parentPort === null) throw new Error('writerMain must run in a worker thread');
  const port = parentPort;
  const run = open(req(config.sqliteModule) as typeof Database, config);
  port.on('message', (request: WriterRequest) => {
    port.postMessage(run(request));
    if (request.type === 'close') port.close();
  });
}

/**
 * Open the write connection. If that fails, the returned writer answers every request with the failure.
 * The writer never throws: a failure is a 'failed' reply.
 */
export function openWriter(Sqlite: typeof Database, config: WriterConfig): Writer {
  interface LatestRow {
    id: number;
    create_revision: number;
    deleted: number;
    value: string;
  }
  const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
  const fail = (code: StoreErrorCode, text: string, revision?: number): PlainError =>
    revision === undefined ? { code, message: text } : { code, message: text, revision };

  let revision = config.revision;
  let opened: Writer | undefined;
  let openError: PlainError | undefined;
  try {
    const db = new Sqlite(config.path, { timeout: config.busyTimeoutMs });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const synchronous = Number(db.pragma('synchronous', { simple: true }));
    if (synchronous !== 2) {
      db.close();
      throw new Error(`the writer's PRAGMA synchronous reads back as ${synchronous}, not 2 (FULL)`);
    }
    const stmt = {
      latest: db.prepare<[string], LatestRow>(
        'SELECT id, create_revision, deleted, value FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1',
      ),
      insert: db.prepare<[number, string, number, number, number, number, string, string | null]>(
        'INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value, old_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      upsertCurrent: db.prepare<[string, number]>(
        'INSERT INTO current (name, id) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET id = excluded.id',
      ),
      deleteCurrent: db.prepare<[string]>('DELETE FROM current WHERE name = ?'),
      sequence: db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'kv'"),
      setMeta: db.prepare<[string, number]>(
        'INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
      ),
      // Rows superseded by a later row at or before the compaction revision...
      deleteSuperseded: db.prepare<[{ lo: number; hi: number; c: number }]>(
        `DELETE FROM kv WHERE id > @lo AND id <= @hi
         AND id < (SELECT MAX(m.id) FROM kv AS m WHERE m.name = kv.name AND m.id <= @c)`,
      ),
      // ...then tombstones at or before it (after the above, so no older row of the key is left).
      deleteTombstones: db.prepare<[{ lo: number; hi: number }]>(
        'DELETE FROM kv WHERE id > @lo AND id <= @hi AND deleted = 1',
      ),
    };

    const notFound = (key: string): PlainError => fail('NotFound', `key ${key} not found`, revision);
    const check = (key: string, live: LatestRow | undefined, expected: number | undefined) => {
      if (live === undefined) return notFound(key);
      if (expected !== undefined && live.id !== expected) {
        return fail('Conflict', `key ${key} is at revision ${live.id}, not ${expected}`, live.id);
      }
      return undefined;
    };

    // Runs inside the IMMEDIATE transaction: each write decided on its own, in order, against the rows the
    // earlier writes of the batch just inserted.
    const applyBatch = (writes: WriteOp[]): { outcomes: WriteOutcome[]; events: StoreEvent[] } => {
      const sequence = stmt.sequence.get()?.seq ?? 0;
      if (sequence > revision) {
        throw Object.assign(
          new Error(
            `another process has written to this database (revision ${sequence}, expected ${revision}); SqliteStore must be the only writer`,
          ),
          { storeCode: 'Unavailable' },
        );
      }
      const start = revision;
      const outcomes: WriteOutcome[] = [];
      const events: StoreEvent[] = [];
      for (const write of writes) {
        const row = stmt.latest.get(write.key);
        const live = row !== undefined && row.deleted === 0 ? row : undefined;
        switch (write.op) {
          case 'create': {
            if (live !== undefined) {
              outcomes.push({ error: fail('KeyExists', `key ${write.key} already exists`, live.id) });
              break;
            }
            const rev = ++revision;
            stmt.insert.run(rev, write.key, 1, 0, rev, 0, write.value, null);
            stmt.upsertCurrent.run(write.key, rev);
            events.push({
              type: 'put',
              key: write.key,
              value: write.value,
              revision: rev,
              createRevision: rev,
            });
            outcomes.push({ revision: rev });
            break;
          }
          case 'update': {
            const err = check(write.key, live, write.expected);
            if (err !== undefined || live === undefined) {
              outcomes.push({ error: err ?? notFound(write.key) });
              break;
            }
            const rev = ++revision;
            stmt.insert.run(rev, write.key, 0, 0, live.create_revision, live.id, write.value, live.value);
            stmt.upsertCurrent.run(write.key, rev);
            events.push({
              type: 'put',
              key: write.key,
              value: write.value,
              revision: rev,
              createRevision: live.create_revision,
              prevValue: live.value,
              prevRevision: live.id,
            });
            outcomes.push({ revision: rev });
            break;
          }
          case 'delete': {
            const err = check(write.key, live, write.expected);
            if (err !== undefined || live === undefined) {
              outcomes.push({ error: err ?? notFound(write.key) });
              break;
            }
            const rev = ++revision;
            // A tombstone carries the last value, so a delete event (and a replay of it) can report it.
            stmt.insert.run(rev, write.key, 0, 1, live.create_revision, live.id, live.value, live.value);
            stmt.deleteCurrent.run(write.key);
            events.push({
              type: 'delete',
              key: write.key,
              value: live.value,
              revision: rev,
              createRevision: live.create_revision,
              prevValue: live.value,
              prevRevision: live.id,
            });
            outcomes.push({
              revision: rev,
              prev: {
                key: write.key,
                value: live.value,
                createRevision: live.create_revision,
                modRevision: live.id,
              },
            });
            break;
          }
        }
      }
      // `current` now reflects the log through this revision (checked on open).
      if (revision > start) stmt.setMeta.run('current', revision);
      return { outcomes, events };
    };
    const writeBatch = db.transaction(applyBatch);
    const compactChunk = db.transaction((lo: number, hi: number, c: number) => {
      stmt.deleteSuperseded.run({ lo, hi, c });
      stmt.deleteTombstones.run({ lo, hi });
    });
    const markCompacted = db.transaction((rev: number) => stmt.setMeta.run('compacted', rev));

    const run = (request: WriterRequest): WriterReply => {
      switch (request.type) {
        case 'batch': {
          const before = revision;
          try {
            const { outcomes, events } = writeBatch.immediate(request.writes);
            return { type: 'batch', outcomes, events, revision };
          } catch (err) {
            revision = before;
            const code = (err as { storeCode?: StoreErrorCode }).storeCode;
            return {
              type: 'failed',
              error: fail(
                'Unavailable',
                code === undefined ? `SQLite write failed: ${message(err)}` : message(err),
              ),
            };
          }
        }
        case 'markCompacted':
          markCompacted.immediate(request.revision);
          return { type: 'done' };
        case 'compactChunk':
          compactChunk.immediate(request.lo, request.hi, request.compacted);
          return { type: 'done' };
        case 'checkpoint':
          db.pragma('wal_checkpoint(TRUNCATE)');
          return { type: 'done' };
        case 'close':
          db.close();
          return { type: 'done' };
      }
    };
    opened = run;
  } catch (err) {
    openError = fail('Unavailable', `the SQLite writer could not open ${config.path}: ${message(err)}`);
  }

  return (request: WriterRequest): WriterReply => {
    if (opened === undefined) {
      return { type: 'failed', error: openError ?? fail('Unavailable', 'the SQLite writer is not open') };
    }
    try {
      return opened(request);
    } catch (err) {
      return { type: 'failed', error: fail('Unavailable', `SQLite ${request.type} failed: ${message(err)}`) };
    }
  };
}
