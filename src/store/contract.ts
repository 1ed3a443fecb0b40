// The Store contract: one suite every adapter (memory, SQLite, etcd) must pass.
//
// Usage, in an adapter's test file:
//   storeContract('SqliteStore', async () => ({ store, cleanup, reopen }));
// The factory is called once per test. Tests only assume what the port promises: revisions are compared
// relative to each other (an etcd shared by several stores numbers revisions for all of them), and every
// test writes under its own key prefix.

import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareKeys } from './keys.js';
import {
  isStoreError,
  type KeyValue,
  type Store,
  type StoreError,
  type StoreErrorCode,
  type StoreEvent,
  type Watcher,
} from './store.js';

export interface StoreHarness {
  store: Store;
  /** Close whatever store is open (the original or a reopened one) and remove its data. */
  cleanup: () => Promise<void>;
  /**
   * Persistent stores only: close `store` and open a new one on the same data, which `cleanup` will
   * then close. The persistence tests are skipped without it.
   */
  reopen?: () => Promise<Store>;
}

export interface StoreContractOptions {
  /** Runs of the model-based property test. Default 20. */
  propertyRuns?: number;
}

/** Await a rejection that must be a StoreError with `code`, and return it. */
export async function expectStoreError(promise: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  let result: unknown;
  try {
    result = await promise;
  } catch (err) {
    if (!isStoreError(err)) throw err;
    expect(err.code, err.message).toBe(code);
    return err;
  }
  throw new Error(`expected a StoreError ${code}, got a result: ${JSON.stringify(result)}`);
}

/** A watch that records what it gets. */
export interface Recorder {
  events: StoreEvent[];
  errors: StoreError[];
  watcher: Watcher;
  /** Wait until at least `n` events arrived. */
  waitForEvents(n: number, timeoutMs?: number): Promise<StoreEvent[]>;
  waitForError(timeoutMs?: number): Promise<StoreError>;
}

export async function record(store: Store, prefix: string, afterRevision: number): Promise<Recorder> {
  const events: StoreEvent[] = [];
  const errors: StoreError[] = [];
  const watcher = await store.watch({
    prefix,
    afterRevision,
    onEvents: (batch) => events.push(...batch),
    onError: (err) => errors.push(err),
  });
  const until = async (done: () => boolean, what: string, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}; got ${events.length} events, errors: ${errors.map((e) => e.code).join(',')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  return {
    events,
    errors,
    watcher,
    async waitForEvents(n, timeoutMs = 10_000) {
      await until(() => events.length >= n, `${n} events`, timeoutMs);
      return events;
    },
    async waitForError(timeoutMs = 10_000) {
      await until(() => errors.length > 0, 'an error', timeoutMs);
      return errors[0] as StoreError;
    },
  };
}

/** Write a sentinel key and wait for it: every event before it has then been delivered. */
async function settle(store: Store, recorder: Recorder, sentinelKey: string): Promise<StoreEvent[]> {
  const revision = await store.create(sentinelKey, 'sentinel');
  const deadline = Date.now() + 10_000;
  while (!recorder.events.some((e) => e.revision === revision)) {
    if (Date.now() > deadline) throw new Error(`sentinel ${sentinelKey} never arrived`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const index = recorder.events.findIndex((e) => e.revision === revision);
  expect(recorder.events.length, 'nothing after the sentinel').toBe(index + 1);
  return recorder.events.slice(0, index);
}

function brief(events: readonly StoreEvent[]): string[] {
  return events.map((e) => `${e.type} ${e.key}=${e.value}@${e.revision}`);
}

export function storeContract(
  name: string,
  factory: () => Promise<StoreHarness>,
  options: StoreContractOptions = {},
): void {
  describe(`Store contract: ${name}`, () => {
    let harness: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      harness = await factory();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    it('creates, reads, updates and deletes keys with their revisions', async () => {
      const before = await store.currentRevision();
      expect(await store.get('/crud/a')).toBeUndefined();

      const r1 = await store.create('/crud/a', 'one');
      expect(r1).toBeGreaterThan(before);
      expect(await store.get('/crud/a')).toEqual({
        key: '/crud/a',
        value: 'one',
        createRevision: r1,
        modRevision: r1,
      });

      const r2 = await store.update('/crud/a', 'two', r1);
      expect(r2).toBeGreaterThan(r1);
      expect(await store.get('/crud/a')).toEqual({
        key: '/crud/a',
        value: 'two',
        createRevision: r1,
        modRevision: r2,
      });

      const deleted = await store.delete('/crud/a');
      expect(deleted.revision).toBeGreaterThan(r2);
      expect(deleted.prev).toEqual({ key: '/crud/a', value: 'two', createRevision: r1, modRevision: r2 });
      expect(await store.get('/crud/a')).toBeUndefined();
      expect(await store.currentRevision()).toBe(deleted.revision);

      // A new incarnation gets a new createRevision; a CAS delete with the right revision succeeds.
      const r4 = await store.create('/crud/a', 'again');
      expect(await store.get('/crud/a')).toEqual({
        key: '/crud/a',
        value: 'again',
        createRevision: r4,
        modRevision: r4,
      });
      const casDelete = await store.delete('/crud/a', r4);
      expect(casDelete.prev.value).toBe('again');
      expect(await store.get('/crud/a')).toBeUndefined();

      // Values are opaque strings: empty and non-ASCII ones round-trip.
      await store.create('/crud/empty', '');
      await store.create('/crud/ünï', 'värde ✓ 🚢');
      expect((await store.get('/crud/empty'))?.value).toBe('');
      expect((await store.get('/crud/ünï'))?.value).toBe('värde ✓ 🚢');
    });

    it('CAS failures report KeyExists, Conflict or NotFound with the current revision and write nothing', async () => {
      const r1 = await store.create('/cas/a', 'one');
      const r2 = await store.update('/cas/a', 'two', r1);
      const head = await store.currentRevision();

      const exists = await expectStoreError(store.create('/cas/a', 'dup'), 'KeyExists');
      expect(exists.revision).toBe(r2);

      const conflict = await expectStoreError(store.update('/cas/a', 'stale', r1), 'Conflict');
      expect(conflict.revision).toBe(r2);
      expect(conflict.transient).toBe(true);

      const deleteConflict = await expectStoreError(store.delete('/cas/a', r1), 'Conflict');
      expect(deleteConflict.revision).toBe(r2);

      await expectStoreError(store.update('/cas/missing', 'x', r1), 'NotFound');
      await expectStoreError(store.update('/cas/missing', 'x', 0), 'NotFound');
      await expectStoreError(store.delete('/cas/missing'), 'NotFound');
      await expectStoreError(store.delete('/cas/missing', r1), 'NotFound');

      expect(await store.currentRevision(), 'failed writes take no revision').toBe(head);
      expect(await store.get('/cas/a')).toEqual({
        key: '/cas/a',
        value: 'two',
        createRevision: r1,
        modRevision: r2,
      });
      expect(await store.get('/cas/missing')).toBeUndefined();

      // A deleted key is NotFound for update and delete, and can be created again.
      const { revision: r3 } = await store.delete('/cas/a', r2);
      await expectStoreError(store.update('/cas/a', 'ghost', r2), 'NotFound');
      await expectStoreError(store.delete('/cas/a'), 'NotFound');
      expect(await store.create('/cas/a', 'reborn')).toBeGreaterThan(r3);
    });

    it('gives every write a new revision, strictly increasing store-wide', async () => {
      const seen: number[] = [await store.currentRevision()];
      for (let i = 0; i < 5; i++) {
        seen.push(await store.create(`/rev/${i}`, 'v'));
        const kv = await store.get(`/rev/${i}`);
        seen.push(await store.update(`/rev/${i}`, 'w', kv?.modRevision ?? -1));
        if (i % 2 === 0) seen.push((await store.delete(`/rev/${i}`)).revision);
      }
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1] ?? Infinity);
      expect(await store.currentRevision()).toBe(seen[seen.length - 1]);
      const listed = await store.list({ prefix: '/rev/' });
      expect(listed.revision).toBe(seen[seen.length - 1]);
    });

    it('lists by prefix in key order, and a prefix matches only keys that start with it', async () => {
      for (const key of [
        '/l/a/2',
        '/l/a/10',
        '/l/ab/x',
        '/l/a/1',
        '/l/a',
        '/l/b/1',
        '/l/a/1/sub',
        '/l/a/é',
        '/l/a/~',
      ]) {
        await store.create(key, `v:${key}`);
      }
      const listed = await store.list({ prefix: '/l/a/' });
      expect(listed.items.map((kv) => kv.key)).toEqual([
        '/l/a/1',
        '/l/a/1/sub',
        '/l/a/10',
        '/l/a/2',
        '/l/a/~',
        '/l/a/é',
      ]);
      expect(listed.items.every((kv) => kv.value === `v:${kv.key}`)).toBe(true);
      expect(listed.more).toBe(false);
      expect(listed.revision).toBe(await store.currentRevision());
      expect(await store.count('/l/a/')).toBe(6);
      expect(await store.count('/l/')).toBe(9);
      expect(await store.count('/l/zzz/')).toBe(0);
      expect((await store.list({ prefix: '/l/zzz/' })).items).toEqual([]);

      await store.delete('/l/a/2');
      expect((await store.list({ prefix: '/l/a/' })).items.map((kv) => kv.key)).not.toContain('/l/a/2');
      expect(await store.count('/l/a/')).toBe(5);
    });

    it('lists at a past revision: the state then, including keys deleted since', async () => {
      const rx = await store.create('/past/x', 'x1');
      const ry = await store.create('/past/y', 'y1');
      const rx2 = await store.update('/past/x', 'x2', rx);
      const { revision: rdel } = await store.delete('/past/y');
      const rz = await store.create('/past/z', 'z1');

      const at = async (revision: number): Promise<string[]> => {
        const res = await store.list({ prefix: '/past/', revision });
        expect(res.revision).toBe(revision);
        return res.items.map((kv) => `${kv.key}=${kv.value}@${kv.createRevision}/${kv.modRevision}`);
      };
      expect(await at(rx)).toEqual([`/past/x=x1@${rx}/${rx}`]);
      expect(await at(ry)).toEqual([`/past/x=x1@${rx}/${rx}`, `/past/y=y1@${ry}/${ry}`]);
      expect(await at(rx2)).toEqual([`/past/x=x2@${rx}/${rx2}`, `/past/y=y1@${ry}/${ry}`]);
      expect(await at(rdel)).toEqual([`/past/x=x2@${rx}/${rx2}`]);
      expect(await at(rz)).toEqual([`/past/x=x2@${rx}/${rx2}`, `/past/z=z1@${rz}/${rz}`]);
      expect((await store.list({ prefix: '/past/', revision: 0 })).items.map((kv) => kv.key)).toEqual([
        '/past/x',
        '/past/z',
      ]);

      await expectStoreError(store.list({ prefix: '/past/', revision: rz + 1000 }), 'FutureRevision');
    });

    it('paginates with limit and startAfter over a consistent snapshot', async () => {
      const keys = Array.from({ length: 25 }, (_, i) => `/page/k${String(i).padStart(2, '0')}`);
      for (const key of keys) await store.create(key, 'v0');
      await store.create('/pagex', 'outside');

      const first = await store.list({ prefix: '/page/', limit: 10 });
      expect(first.items.map((kv) => kv.key)).toEqual(keys.slice(0, 10));
      expect(first.more).toBe(true);
      const snapshot = first.revision;

      // Writes after the first page must not show in the later pages read at the same revision.
      await store.delete(keys[12] ?? '');
      await store.create('/page/k12a', 'new');
      const kv20 = await store.get(keys[20] ?? '');
      await store.update(keys[20] ?? '', 'v1', kv20?.modRevision ?? -1);

      const all = [...first.items];
      let last = first;
      while (last.more) {
        const startAfter = last.items[last.items.length - 1]?.key ?? '';
        last = await store.list({ prefix: '/page/', limit: 10, startAfter, revision: snapshot });
        expect(last.revision).toBe(snapshot);
        all.push(...last.items);
      }
      expect(all.map((kv) => kv.key)).toEqual(keys);
      expect(all.every((kv) => kv.value === 'v0')).toBe(true);

      // `more` is false when the limit exactly exhausts the keys.
      const exact = await store.list({
        prefix: '/page/',
        limit: 5,
        startAfter: keys[19] ?? '',
        revision: snapshot,
      });
      expect(exact.items.map((kv) => kv.key)).toEqual(keys.slice(20));
      expect(exact.more).toBe(false);

      // startAfter below the prefix starts at the prefix; a limit of 0 means no limit.
      const fromBelow = await store.list({ prefix: '/page/', startAfter: '/a', limit: 2 });
      expect(fromBelow.items.map((kv) => kv.key)).toEqual(keys.slice(0, 2));
      expect((await store.list({ prefix: '/page/', limit: 0 })).items).toHaveLength(25);
    });

    it('watch replays every event after a revision once and in order, then live events', async () => {
      const r1 = await store.create('/w/a', 'a1');
      const r2 = await store.create('/w/b', 'b1');
      const r3 = await store.update('/w/a', 'a2', r1);
      const { revision: r4 } = await store.delete('/w/b', r2);

      const recorder = await record(store, '/w/', r2);
      await recorder.waitForEvents(2);
      const r5 = await store.create('/w/c', 'c1');
      const r6 = await store.update('/w/a', 'a3', r3);
      const events = await settle(store, recorder, '/w/zz-sentinel');

      expect(events).toEqual([
        {
          type: 'put',
          key: '/w/a',
          value: 'a2',
          revision: r3,
          createRevision: r1,
          prevValue: 'a1',
          prevRevision: r1,
        },
        {
          type: 'delete',
          key: '/w/b',
          value: 'b1',
          revision: r4,
          createRevision: r2,
          prevValue: 'b1',
          prevRevision: r2,
        },
        { type: 'put', key: '/w/c', value: 'c1', revision: r5, createRevision: r5 },
        {
          type: 'put',
          key: '/w/a',
          value: 'a3',
          revision: r6,
          createRevision: r1,
          prevValue: 'a2',
          prevRevision: r3,
        },
      ]);
      expect(recorder.errors).toEqual([]);
      recorder.watcher.close();
    });

    it('watch from the current revision sees only new events; from a future revision it rejects', async () => {
      await store.create('/wnow/old', 'x');
      const now = await store.currentRevision();
      const recorder = await record(store, '/wnow/', now);
      const r = await store.create('/wnow/new', 'y');
      expect(brief(await settle(store, recorder, '/wnow/zz'))).toEqual([`put /wnow/new=y@${r}`]);
      recorder.watcher.close();
      await expectStoreError(
        store.watch({
          prefix: '/wnow/',
          afterRevision: now + 1000,
          onEvents: () => undefined,
          onError: () => undefined,
        }),
        'FutureRevision',
      );
    });

    it('watch filters by prefix', async () => {
      const start = await store.currentRevision();
      await store.create('/f/in/1', 'a');
      const recorder = await record(store, '/f/in/', start);
      await store.create('/f/inx', 'no');
      await store.create('/f/other/1', 'no');
      await store.create('/f/in/2', 'b');
      await store.create('/f', 'no');
      const events = await settle(store, recorder, '/f/in/zz');
      expect(events.map((e) => e.key)).toEqual(['/f/in/1', '/f/in/2']);
      recorder.watcher.close();
    });

    it('delete events carry the last value and its revisions', async () => {
      const r1 = await store.create('/del/k', 'first');
      const r2 = await store.update('/del/k', 'last', r1);
      const recorder = await record(store, '/del/', r2);
      const { revision, prev } = await store.delete('/del/k');
      const [event] = await recorder.waitForEvents(1);
      expect(event).toEqual({
        type: 'delete',
        key: '/del/k',
        value: 'last',
        revision,
        createRevision: r1,
        prevValue: 'last',
        prevRevision: r2,
      });
      expect(prev).toEqual({ key: '/del/k', value: 'last', createRevision: r1, modRevision: r2 });
      recorder.watcher.close();
    });

    it('a closed watcher receives nothing more, and other watchers are unaffected', async () => {
      const start = await store.currentRevision();
      const closed = await record(store, '/wc/', start);
      const open = await record(store, '/wc/', start);
      await store.create('/wc/1', 'a');
      await closed.waitForEvents(1);
      closed.watcher.close();
      closed.watcher.close(); // idempotent
      await store.create('/wc/2', 'b');
      expect(brief(await settle(store, open, '/wc/zz')).length).toBe(2);
      expect(closed.events.map((e) => e.key)).toEqual(['/wc/1']);
      expect(closed.errors).toEqual([]);
      open.watcher.close();
    });

    it('compaction: older revisions are refused with Compacted; latest values survive; deleted keys stay deleted', async () => {
      const ra = await store.create('/c/a', 'a1');
      const rb = await store.create('/c/b', 'b1');
      const ra2 = await store.update('/c/a', 'a2', ra);
      const { revision: rbDel } = await store.delete('/c/b', rb);
      const rd = await store.create('/c/d', 'd1');
      const ra3 = await store.update('/c/a', 'a3', ra2);
      const latestBefore = await store.list({ prefix: '/c/' });

      await store.compact(rd);
      expect(await store.compactedRevision()).toBe(rd);

      const listErr = await expectStoreError(store.list({ prefix: '/c/', revision: rbDel }), 'Compacted');
      expect(listErr.revision).toBe(rd);
      const watchErr = await expectStoreError(
        store.watch({
          prefix: '/c/',
          afterRevision: rbDel,
          onEvents: () => undefined,
          onError: () => undefined,
        }),
        'Compacted',
      );
      expect(watchErr.revision).toBe(rd);

      const atCompaction = await store.list({ prefix: '/c/', revision: rd });
      expect(atCompaction.items).toEqual([
        { key: '/c/a', value: 'a2', createRevision: ra, modRevision: ra2 },
        { key: '/c/d', value: 'd1', createRevision: rd, modRevision: rd },
      ]);
      const latest = await store.list({ prefix: '/c/' });
      expect(latest.items).toEqual(latestBefore.items);
      expect(await store.get('/c/b')).toBeUndefined();
      expect(await store.count('/c/')).toBe(2);

      // A watch from the compaction revision still replays everything after it.
      const recorder = await record(store, '/c/', rd);
      const events = await settle(store, recorder, '/c/zz');
      expect(brief(events)).toEqual([`put /c/a=a3@${ra3}`]);
      recorder.watcher.close();

      // Compacting at or below the compaction revision changes nothing; beyond the head is refused.
      await store.compact(ra);
      expect(await store.compactedRevision()).toBe(rd);
      await expectStoreError(store.compact((await store.currentRevision()) + 1000), 'FutureRevision');

      // History keeps working after compaction.
      const rb2 = await store.create('/c/b', 'b2');
      expect(await store.get('/c/b')).toEqual({
        key: '/c/b',
        value: 'b2',
        createRevision: rb2,
        modRevision: rb2,
      });
      const ra4 = await store.update('/c/a', 'a4', ra3);
      expect((await store.list({ prefix: '/c/a', revision: ra3 })).items[0]?.value).toBe('a3');
      expect((await store.get('/c/a'))?.modRevision).toBe(ra4);
    });

    it('concurrent creates of one key: exactly one wins', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => store.create('/race/k', `v${i}`)),
      );
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, revision: r.value }] : []));
      expect(won).toHaveLength(1);
      const winner = won[0];
      for (const r of results) {
        if (r.status === 'rejected') {
          expect(isStoreError(r.reason) && r.reason.code).toBe('KeyExists');
          expect((r.reason as StoreError).revision).toBe(winner?.revision);
        }
      }
      expect(await store.get('/race/k')).toEqual({
        key: '/race/k',
        value: `v${winner?.i}`,
        createRevision: winner?.revision,
        modRevision: winner?.revision,
      });
    });

    it('concurrent CAS updates of one key: exactly one wins', async () => {
      const r0 = await store.create('/race/u', 'v');
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => store.update('/race/u', `u${i}`, r0)),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(isStoreError(r.reason) && r.reason.code).toBe('Conflict');
      }
    });

    it('200 concurrent creates of different keys all succeed with distinct revisions', async () => {
      const keys = Array.from({ length: 200 }, (_, i) => `/many/${String(i).padStart(3, '0')}`);
      const revisions = await Promise.all(keys.map((key) => store.create(key, key)));
      expect(new Set(revisions).size).toBe(200);
      const listed = await store.list({ prefix: '/many/' });
      expect(listed.items.map((kv) => kv.key)).toEqual(keys);
      for (const [i, kv] of listed.items.entries()) {
        expect(kv.modRevision).toBe(revisions[i]);
        expect(kv.value).toBe(kv.key);
      }
      expect(await store.currentRevision()).toBe(Math.max(...revisions));
    });

    it('close() ends watches with a Closed error and refuses later calls', async () => {
      const recorder = await record(store, '/close/', await store.currentRevision());
      await store.close();
      const err = await recorder.waitForError();
      expect(err.code).toBe('Closed');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(recorder.errors).toHaveLength(1);
      await expectStoreError(store.get('/close/a'), 'Closed');
      await expectStoreError(store.create('/close/a', 'x'), 'Closed');
      await expectStoreError(store.list({ prefix: '/close/' }), 'Closed');
      await store.close(); // idempotent
    });

    it('matches a simple model under random operations, at every revision and in its watch history', async () => {
      let run = 0;
      const keyArb = fc.constantFrom('/a', '/b', '/b/c', '/bc', '/c');
      const opArb = fc.oneof(
        fc.record({ op: fc.constant('create' as const), key: keyArb, value: fc.string({ maxLength: 8 }) }),
        fc.record({
          op: fc.constant('update' as const),
          key: keyArb,
          value: fc.string({ maxLength: 8 }),
          stale: fc.boolean(),
        }),
        fc.record({
          op: fc.constant('delete' as const),
          key: keyArb,
          cas: fc.boolean(),
          stale: fc.boolean(),
        }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(opArb, { minLength: 1, maxLength: 25 }),
          fc.nat(),
          async (ops, compactPick) => {
            const prefix = `/model/${run++}`;
            const startRevision = await store.currentRevision();
            const model = new Map<string, KeyValue>();
            const snapshots: Array<{ revision: number; items: KeyValue[] }> = [];
            const expectedEvents: StoreEvent[] = [];
            const sorted = (): KeyValue[] => [...model.values()].sort((x, y) => compareKeys(x.key, y.key));
            for (const op of ops) {
              const key = prefix + op.key;
              const current = model.get(key);
              switch (op.op) {
                case 'create': {
                  if (current !== undefined) {
                    expect((await expectStoreError(store.create(key, op.value), 'KeyExists')).revision).toBe(
                      current.modRevision,
                    );
                    continue;
                  }
                  const revision = await store.create(key, op.value);
                  model.set(key, { key, value: op.value, createRevision: revision, modRevision: revision });
                  expectedEvents.push({
                    type: 'put',
                    key,
                    value: op.value,
                    revision,
                    createRevision: revision,
                  });
                  break;
                }
                case 'update': {
                  if (current === undefined) {
                    await expectStoreError(store.update(key, op.value, startRevision + 1), 'NotFound');
                    continue;
                  }
                  if (op.stale) {
                    await expectStoreError(store.update(key, op.value, current.modRevision - 1), 'Conflict');
                    continue;
                  }
                  const revision = await store.update(key, op.value, current.modRevision);
                  model.set(key, { ...current, value: op.value, modRevision: revision });
                  expectedEvents.push({
                    type: 'put',
                    key,
                    value: op.value,
                    revision,
                    createRevision: current.createRevision,
                    prevValue: current.value,
                    prevRevision: current.modRevision,
                  });
                  break;
                }
                case 'delete': {
                  const expected =
                    op.cas && current !== undefined ? current.modRevision - (op.stale ? 1 : 0) : undefined;
                  if (current === undefined) {
                    await expectStoreError(store.delete(key, expected), 'NotFound');
                    continue;
                  }
                  if (expected !== undefined && expected !== current.modRevision) {
                    await expectStoreError(store.delete(key, expected), 'Conflict');
                    continue;
                  }
                  const { revision, prev } = await store.delete(key, expected);
                  expect(prev).toEqual(current);
                  model.delete(key);
                  expectedEvents.push({
                    type: 'delete',
                    key,
                    value: current.value,
                    revision,
                    createRevision: current.createRevision,
                    prevValue: current.value,
                    prevRevision: current.modRevision,
                  });
                  break;
                }
              }
              snapshots.push({ revision: await store.currentRevision(), items: sorted() });
            }

            for (const key of ['/a', '/b', '/b/c', '/bc', '/c']) {
              expect(await store.get(prefix + key)).toEqual(model.get(prefix + key));
            }
            expect((await store.list({ prefix: `${prefix}/` })).items).toEqual(sorted());
            expect((await store.list({ prefix: `${prefix}/b/` })).items).toEqual(
              sorted().filter((kv) => kv.key.startsWith(`${prefix}/b/`)),
            );
            expect(await store.count(`${prefix}/`)).toBe(model.size);
            for (const snap of snapshots) {
              expect((await store.list({ prefix: `${prefix}/`, revision: snap.revision })).items).toEqual(
                snap.items,
              );
            }

            const recorder = await record(store, `${prefix}/`, startRevision);
            expect(await settle(store, recorder, `${prefix}/~sentinel`)).toEqual(expectedEvents);
            recorder.watcher.close();
            await store.delete(`${prefix}/~sentinel`);

            // Compact somewhere in this run's history: later snapshots still read the same.
            const pick = snapshots[compactPick % Math.max(1, snapshots.length)];
            if (pick === undefined) return;
            await store.compact(pick.revision);
            for (const snap of snapshots) {
              if (snap.revision < pick.revision) {
                await expectStoreError(
                  store.list({ prefix: `${prefix}/`, revision: snap.revision }),
                  'Compacted',
                );
              } else {
                expect((await store.list({ prefix: `${prefix}/`, revision: snap.revision })).items).toEqual(
                  snap.items,
                );
              }
            }
            expect((await store.list({ prefix: `${prefix}/` })).items).toEqual(sorted());
          },
        ),
        { numRuns: options.propertyRuns ?? 20 },
      );
    });

    it('reopening keeps values, revisions, currentRevision and compactedRevision', async ({ skip }) => {
      const { reopen } = harness;
      if (reopen === undefined) return skip('not a persistent store');
      const r1 = await store.create('/p/a', 'a1');
      const r2 = await store.update('/p/a', 'a2', r1);
      const r3 = await store.create('/p/b', 'b1');
      await store.compact(r2);
      await store.delete('/p/b', r3);
      const head = await store.currentRevision();
      const listed = await store.list({ prefix: '/p/' });

      store = await reopen();
      expect(await store.currentRevision()).toBe(head);
      expect(await store.compactedRevision()).toBe(r2);
      expect((await store.list({ prefix: '/p/' })).items).toEqual(listed.items);
      expect(await store.get('/p/a')).toEqual({
        key: '/p/a',
        value: 'a2',
        createRevision: r1,
        modRevision: r2,
      });
      expect((await store.list({ prefix: '/p/', revision: r3 })).items.map((kv) => kv.key)).toEqual([
        '/p/a',
        '/p/b',
      ]);
      await expectStoreError(store.list({ prefix: '/p/', revision: r1 }), 'Compacted');
      expect(await store.create('/p/c', 'c1')).toBeGreaterThan(head);
    });

    it('revisions never go backwards across a reopen, even when compaction removed the newest writes', async ({
      skip,
    }) => {
      const { reopen } = harness;
      if (reopen === undefined) return skip('not a persistent store');
      const r1 = await store.create('/gone/k', 'v');
      const { revision: r2 } = await store.delete('/gone/k', r1);
      await store.compact(r2);
      store = await reopen();
      expect(await store.currentRevision()).toBe(r2);
      expect(await store.compactedRevision()).toBe(r2);
      expect(await store.get('/gone/k')).toBeUndefined();
      expect(await store.create('/gone/k', 'again')).toBeGreaterThan(r2);
    });
  });
}
