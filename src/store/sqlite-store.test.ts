import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Worker } from 'node:worker_threads';
import { expectStoreError, record, storeContract } from './contract.js';
import { SqliteStore, WRITER_THREAD_ENV, type SqliteStoreOptions } from './sqlite-store.js';

const dirs: string[] = [];
function tempDbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-sqlite-'));
  dirs.push(dir);
  return join(dir, 'data', 'state.db');
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// Both writers: inline (on the event loop) and on a worker thread.
for (const writerThread of [false, true]) {
  const mode = writerThread ? ' (writer thread)' : '';
  const open = (options: SqliteStoreOptions): SqliteStore => new SqliteStore({ ...options, writerThread });

  // Tiny compaction chunks, so the contract's compactions cross many chunk boundaries.
  storeContract(`SqliteStore${mode}`, async () => {
    const path = tempDbPath();
    const options: SqliteStoreOptions = { path, compactChunkRevisions: 3 };
    let store = open(options);
    return {
      store,
      cleanup: () => store.close(),
      reopen: async () => {
        await store.close();
        store = open(options);
        return store;
      },
    };
  });

  describe(`SqliteStore${mode}`, () => {
    sqliteTests(open, writerThread);
  });
}

function sqliteTests(open: (options: SqliteStoreOptions) => SqliteStore, writerThread: boolean): void {
  it('runs in WAL mode with synchronous=FULL and a busy timeout, read back from SQLite', async () => {
    const path = tempDbPath();
    const store = open({ path, busyTimeoutMs: 12_345 });
    expect(store.pragmas()).toEqual({ journalMode: 'wal', synchronous: 2, busyTimeoutMs: 12_345 });
    await store.create('/x', 'y');
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal'); // persisted in the file
    db.close();
  });

  it('group commit: writes requested together share one transaction, each decided on its own in order', async () => {
    const store = open({ path: tempDbPath() });
    const head = await store.currentRevision();
    const before = store.stats();
    const settled = await Promise.allSettled([
      store.create('/g/a', 'a1'),
      store.create('/g/a', 'dup'),
      store.update('/g/a', 'a2', head + 1),
      store.update('/g/a', 'stale', head + 1),
      store.delete('/g/a'),
      store.update('/g/a', 'gone', head + 2),
      store.create('/g/a', 'a3'),
      ...Array.from({ length: 200 }, (_, i) => store.create(`/g/many/${i}`, 'v')),
    ]);
    const after = store.stats();
    expect(after.transactions - before.transactions).toBe(1);
    expect(after.writes - before.writes).toBe(207);

    const outcome = settled
      .slice(0, 7)
      .map((r) =>
        r.status === 'fulfilled'
          ? r.value
          : `${(r.reason as { code: string }).code}@${(r.reason as { revision?: number }).revision}`,
      );
    expect(outcome[0]).toBe(head + 1);
    expect(outcome[1]).toBe(`KeyExists@${head + 1}`);
    expect(outcome[2]).toBe(head + 2);
    expect(outcome[3]).toBe(`Conflict@${head + 2}`);
    expect(outcome[4]).toEqual({
      revision: head + 3,
      prev: { key: '/g/a', value: 'a2', createRevision: head + 1, modRevision: head + 2 },
    });
    expect(outcome[5]).toBe(`NotFound@${head + 3}`);
    expect(outcome[6]).toBe(head + 4);
    expect(settled.slice(7).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(await store.currentRevision()).toBe(head + 204);
    expect(await store.get('/g/a')).toEqual({
      key: '/g/a',
      value: 'a3',
      createRevision: head + 4,
      modRevision: head + 4,
    });
    await store.close();
  });

  it('caps a group-commit batch at maxBatch', async () => {
    const store = open({ path: tempDbPath(), maxBatch: 50 });
    const before = store.stats();
    await Promise.all(Array.from({ length: 120 }, (_, i) => store.create(`/cap/${i}`, 'v')));
    const after = store.stats();
    expect(after.transactions - before.transactions).toBe(3);
    expect(after.largestBatch).toBe(50);
    await store.close();
  });

  it('commits writes already requested when closed, then refuses new ones', async () => {
    const store = open({ path: tempDbPath() });
    const pending = Array.from({ length: 10 }, (_, i) => store.create(`/closing/${i}`, 'v'));
    await store.close();
    const revisions = await Promise.all(pending);
    expect(new Set(revisions).size).toBe(10);
    await expectStoreError(store.create('/closing/late', 'v'), 'Closed');
  });

  it('fails a batch loudly with Unavailable if another process wrote to the database', async () => {
    const path = tempDbPath();
    const store = open({ path });
    const r1 = await store.create('/other/a', 'v');
    const intruder = new Database(path);
    intruder
      .prepare(
        'INSERT INTO kv (name, created, deleted, create_revision, prev_revision, value) VALUES (?, 1, 0, 0, 0, ?)',
      )
      .run('/other/b', 'x');
    intruder.close();
    const err = await expectStoreError(store.create('/other/c', 'v'), 'Unavailable');
    expect(err.message).toMatch(/another process/);
    expect(await store.currentRevision()).toBe(r1);
    await store.close();
  });

  it('compacts automatically, keeping the configured number of revisions, and checkpoints the WAL', async () => {
    const path = tempDbPath();
    const options: SqliteStoreOptions = { path, compactIntervalMs: 20, compactRetainRevisions: 10 };
    let store = open(options);
    let rev = await store.create('/auto/a', '0');
    for (let i = 1; i < 50; i++) rev = await store.update('/auto/a', String(i), rev);
    for (let i = 0; i < 10; i++) await store.create(`/auto/k${i}`, 'v');
    const head = await store.currentRevision();
    const deadline = Date.now() + 10_000;
    while ((await store.compactedRevision()) < head - 10) {
      if (Date.now() > deadline) throw new Error('automatic compaction did not run');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await store.compactedRevision()).toBe(head - 10);
    expect(store.stats().lastBackgroundError).toBeUndefined();
    // Rows at or below the compaction revision: only the versions still visible there. The compaction is
    // recorded first and its rows deleted in chunks after, so the count is polled until the chunks are done.
    const countRows = (): number => {
      const reader = new Database(path, { readonly: true });
      try {
        return (reader.prepare('SELECT COUNT(*) AS n FROM kv').get() as { n: number }).n;
      } finally {
        reader.close();
      }
    };
    while (countRows() > 11 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(countRows()).toBe(11); // /auto/a at the compaction revision + the 10 creates after it
    expect((await store.get('/auto/a'))?.value).toBe('49');
    await store.close();

    store = open({ path });
    expect(await store.compactedRevision()).toBe(head - 10);
    expect(await store.currentRevision()).toBe(head);
    await store.close();
  });

  it('lists and gets at the latest revision (the `current` table) agree with the log, through updates, deletes and compactions', async () => {
    const path = tempDbPath();
    const store = open({ path, compactChunkRevisions: 7 });
    const model = new Map<string, { value: string; rev: number; created: number }>();
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const check = async (): Promise<void> => {
      const latest = await store.list({ prefix: '/cur/' });
      const expected = [...model.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, m]) => ({ key, value: m.value, createRevision: m.created, modRevision: m.rev }));
      expect(latest.items).toEqual(expected);
      expect(await store.count('/cur/')).toBe(model.size);
      expect(await store.count('/cur/k1')).toBe(expected.filter((kv) => kv.key.startsWith('/cur/k1')).length);
      for (let i = 0; i < 30; i++) {
        const key = `/cur/k${i}`;
        const m = model.get(key);
        expect(await store.get(key)).toEqual(
          m === undefined
            ? undefined
            : { key, value: m.value, createRevision: m.created, modRevision: m.rev },
        );
      }
      // Pages at the latest revision, then the same revision again through the log once it is past.
      const page1 = await store.list({ prefix: '/cur/', limit: 7 });
      await store.create(`/other/${latest.revision}`, 'x');
      const page2 = await store.list({
        prefix: '/cur/',
        limit: 0,
        revision: page1.revision,
        startAfter: page1.items.at(-1)?.key ?? '/cur/',
      });
      expect([...page1.items, ...page2.items]).toEqual(expected);
      const past = await store.list({ prefix: '/cur/', revision: latest.revision });
      expect(past).toEqual({ ...latest, more: false });
    };
    for (let round = 0; round < 12; round++) {
      for (let n = 0; n < 40; n++) {
        const key = `/cur/k${rand(30)}`;
        const m = model.get(key);
        const op = rand(3);
        if (m === undefined) {
          const rev = await store.create(key, `v${round}.${n}`);
          model.set(key, { value: `v${round}.${n}`, rev, created: rev });
        } else if (op < 2) {
          const rev = await store.update(key, `v${round}.${n}`, m.rev);
          model.set(key, { ...m, value: `v${round}.${n}`, rev });
        } else {
          await store.delete(key, m.rev);
          model.delete(key);
        }
      }
      await check();
      if (round % 3 === 2) {
        await store.compact((await store.currentRevision()) - rand(20));
        await check();
      }
    }
    // The table holds exactly the latest live row of every key, as the log says.
    await store.close();
    const db = new Database(path, { readonly: true });
    const table = db.prepare('SELECT name, id FROM current ORDER BY name').all();
    const fromLog = db
      .prepare(
        'SELECT name, id FROM (SELECT name, MAX(id) AS id, deleted FROM kv GROUP BY name) WHERE deleted = 0 ORDER BY name',
      )
      .all();
    db.close();
    expect(table).toEqual(fromLog);
  });

  it('migrates a database without the `current` table (or one an older version wrote to) on open', async () => {
    const path = tempDbPath();
    let store = open({ path });
    expect(store.stats().rebuiltCurrent).toBe(true); // a new database: built (empty) on open
    const a = await store.create('/mig/a', 'a1');
    const a2 = await store.update('/mig/a', 'a2', a);
    const b = await store.create('/mig/b', 'b1');
    await store.delete('/mig/b', b);
    const c = await store.create('/mig/c', 'c1');
    await store.delete('/mig/c', c);
    const c2 = await store.create('/mig/c', 'c2');
    const d = await store.create('/mig/d', 'd1');
    await store.compact(d - 1);
    const head = await store.currentRevision();
    const before = await store.list({ prefix: '/mig/' });
    await store.close();

    // The previous schema: no `current` table, no meta row for it.
    let db = new Database(path);
    db.exec("DROP TABLE current; DELETE FROM meta WHERE name = 'current'");
    db.close();
    store = open({ path });
    expect(store.stats().rebuiltCurrent).toBe(true);
    expect(await store.currentRevision()).toBe(head);
    expect(await store.list({ prefix: '/mig/' })).toEqual(before);
    expect(before.items.map((kv) => `${kv.key}=${kv.value}@${kv.modRevision}`)).toEqual([
      `/mig/a=a2@${a2}`,
      `/mig/c=c2@${c2}`,
      `/mig/d=d1@${d}`,
    ]);
    expect(await store.get('/mig/b')).toBeUndefined();
    expect(await store.count('/mig/')).toBe(3);
    await store.close();

    // Reopening a migrated database does not rebuild again.
    store = open({ path });
    expect(store.stats().rebuiltCurrent).toBe(false);
    await store.close();

    // An older Flotilla (which knows nothing of `current`) wrote to it: the revision no longer matches.
    db = new Database(path);
    db.prepare(
      'INSERT INTO kv (name, created, deleted, create_revision, prev_revision, value, old_value) VALUES (?, 0, 1, ?, ?, ?, ?)',
    ).run('/mig/a', a, a2, 'a2', 'a2');
    db.prepare(
      'INSERT INTO kv (name, created, deleted, create_revision, prev_revision, value, old_value) VALUES (?, 1, 0, 0, 0, ?, NULL)',
    ).run('/mig/e', 'e1');
    db.close();
    store = open({ path });
    expect(store.stats().rebuiltCurrent).toBe(true);
    expect((await store.list({ prefix: '/mig/' })).items.map((kv) => kv.key)).toEqual([
      '/mig/c',
      '/mig/d',
      '/mig/e',
    ]);
    expect(await store.get('/mig/a')).toBeUndefined();
    expect((await store.get('/mig/e'))?.value).toBe('e1');
    await store.close();
  });

  it.runIf(writerThread)(
    'reads never run ahead of the head: a batch the writer thread committed is invisible until its reply is handled, visible once acknowledged',
    async () => {
      const path = tempDbPath();
      const store = open({ path });
      const r1 = await store.create('/ahead/a', '1');
      const updated = store.update('/ahead/a', '2', r1);
      const created = store.create('/ahead/b', 'b');
      await new Promise((resolve) => setImmediate(resolve)); // the batch has gone to the writer
      // Block this thread until the writer has committed the batch: its reply cannot be handled meanwhile.
      const probe = new Database(path, { readonly: true });
      const sequence = probe.prepare<[], { seq: number }>(
        "SELECT seq FROM sqlite_sequence WHERE name = 'kv'",
      );
      const deadline = Date.now() + 10_000;
      while ((sequence.get()?.seq ?? 0) < r1 + 2) {
        if (Date.now() > deadline) throw new Error('the writer did not commit');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
      probe.close();
      // On disk, and `current` says so, but every read still shows the state at r1 (each runs synchronously).
      const a1 = { key: '/ahead/a', value: '1', createRevision: r1, modRevision: r1 };
      const list = store.list({ prefix: '/ahead/' });
      const page = store.list({ prefix: '/ahead/', limit: 1 });
      const got = store.get('/ahead/a');
      const missing = store.get('/ahead/b');
      const head = store.currentRevision();
      const watch = record(store, '/ahead/', r1);
      expect(await list).toEqual({ items: [a1], revision: r1, more: false });
      expect(await page).toEqual({ items: [a1], revision: r1, more: false });
      expect(await got).toEqual(a1);
      expect(await missing).toBeUndefined();
      expect(await head).toBe(r1);
      // Acknowledged: visible to every read, and the watch got each event once, in order.
      expect(await updated).toBe(r1 + 1);
      expect(await created).toBe(r1 + 2);
      expect((await store.get('/ahead/a'))?.value).toBe('2');
      expect((await store.list({ prefix: '/ahead/' })).items.map((kv) => kv.modRevision)).toEqual([
        r1 + 1,
        r1 + 2,
      ]);
      const recorder = await watch;
      const events = await recorder.waitForEvents(2);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(events.map((e) => `${e.key}@${e.revision}`)).toEqual([
        `/ahead/a@${r1 + 1}`,
        `/ahead/b@${r1 + 2}`,
      ]);
      recorder.watcher.close();
      await store.close();
    },
  );

  it.runIf(writerThread)(
    'if the writer thread dies, writes fail with Unavailable (none hangs), reads go on, close works',
    async () => {
      const store = open({ path: tempDbPath() });
      await store.create('/dead/a', 'v');
      const pending = store.create('/dead/b', 'v');
      await new Promise((resolve) => setImmediate(resolve));
      await (store as unknown as { writer: Worker }).writer.terminate();
      await pending.catch(() => undefined); // committed or not, it is settled
      await expectStoreError(store.create('/dead/c', 'v'), 'Unavailable');
      await expectStoreError(store.compact(await store.currentRevision()), 'Unavailable');
      expect((await store.get('/dead/a'))?.value).toBe('v');
      await store.close();
    },
  );

  it('watchers see every write exactly once, in revision order, while compactions run between batches', async () => {
    const store = open({ path: tempDbPath(), compactChunkRevisions: 5 });
    const start = await store.currentRevision();
    const recorder = await record(store, '/order/', start);
    const writers = Array.from({ length: 8 }, async (_, w) => {
      let rev = await store.create(`/order/w${w}`, '0');
      for (let i = 1; i < 60; i++) {
        rev = await store.update(`/order/w${w}`, String(i), rev);
        if (i % 20 === 0) await store.compact(rev - 10);
      }
    });
    await Promise.all(writers);
    const head = await store.currentRevision();
    const events = await recorder.waitForEvents(head - start);
    expect(events.map((e) => e.revision)).toEqual(
      Array.from({ length: head - start }, (_, i) => start + i + 1),
    );
    const list = await store.list({ prefix: '/order/' });
    expect(list.items.map((kv) => kv.value)).toEqual(Array.from({ length: 8 }, () => '59'));
    recorder.watcher.close();
    await store.close();
  });

  it('survives kill -9: every acknowledged write is on disk', async () => {
    const path = tempDbPath();
    const here = fileURLToPath(new URL('.', import.meta.url));
    const child = spawn(
      join(here, '../../node_modules/.bin/vite-node'),
      [join(here, 'sqlite-crash-writer.fixture.ts'), path],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, [WRITER_THREAD_ENV]: writerThread ? '1' : '0' },
      },
    );
    const acked = new Map<string, number>();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    let buffer = '';
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`writer produced too few acks:\n${stderr}`)), 30_000);
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          const [, key, revision] = line.split(' ');
          if (key !== undefined) acked.set(key, Number(revision));
        }
        if (acked.size >= 2_000) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        if (acked.size < 2_000) reject(new Error(`writer exited early:\n${stderr}`));
      });
    });
    await exited;

    const store = open({ path });
    const listed = await store.list({ prefix: '/crash/' });
    const onDisk = new Map(listed.items.map((kv) => [kv.key, kv.modRevision]));
    for (const [key, revision] of acked) expect(onDisk.get(key), key).toBe(revision);
    expect(await store.currentRevision()).toBeGreaterThanOrEqual(Math.max(...acked.values()));
    await store.close();
  });
}
