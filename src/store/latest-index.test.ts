import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareKeys, prefixEnd } from './keys.js';
import { LatestIndex } from './latest-index.js';
import type { StoreEvent } from './store.js';

function put(key: string, revision: number, value = `v${revision}`): StoreEvent {
  return { type: 'put', key, value, revision, createRevision: revision };
}

function del(key: string, revision: number): StoreEvent {
  return { type: 'delete', key, value: '', revision, createRevision: 0 };
}

describe('LatestIndex', () => {
  it('answers ranges in key order with the latest version of each live key', () => {
    const index = new LatestIndex();
    index.apply([put('/p/b', 1), put('/p/a', 2), put('/q/a', 3), put('/p/b', 4, 'new')]);
    index.apply([put('/p/c', 5), del('/p/a', 6)]);
    expect(index.range('/p/', prefixEnd('/p/'), -1).map((kv) => [kv.key, kv.value, kv.modRevision])).toEqual([
      ['/p/b', 'new', 4],
      ['/p/c', 'v5', 5],
    ]);
    expect(index.range('/p/', prefixEnd('/p/'), 1).map((kv) => kv.key)).toEqual(['/p/b']);
    expect(index.count('/', undefined)).toBe(3);
    expect(index.get('/p/a')).toBeUndefined();
    expect(index.get('/q/a')?.value).toBe('v3');
  });

  it('lists a key deleted and created again once', () => {
    const index = new LatestIndex();
    index.apply([put('/k', 1)]);
    index.range('', undefined, -1);
    index.apply([del('/k', 2), put('/k', 3)]);
    index.apply([del('/k', 4), put('/k', 5)]);
    expect(index.range('', undefined, -1).map((kv) => kv.modRevision)).toEqual([5]);
    expect(index.count('', undefined)).toBe(1);
  });

  it('matches a plain map under any sequence of puts, deletes and reads', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('put' as const), k: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ t: fc.constant('del' as const), k: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ t: fc.constant('read' as const), k: fc.integer({ min: 0, max: 30 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const index = new LatestIndex();
        const model = new Map<string, number>();
        let rev = 0;
        for (const o of ops) {
          const key = `/k/${o.k.toString(36)}`;
          if (o.t === 'put') {
            rev++;
            index.apply([put(key, rev)]);
            model.set(key, rev);
          } else if (o.t === 'del') {
            if (!model.has(key)) continue;
            rev++;
            index.apply([del(key, rev)]);
            model.delete(key);
          } else {
            const expected = [...model.entries()]
              .filter(([k]) => compareKeys(k, key) >= 0)
              .sort(([a], [b]) => compareKeys(a, b))
              .map(([k, r]) => [k, r]);
            expect(index.range(key, undefined, -1).map((kv) => [kv.key, kv.modRevision])).toEqual(expected);
          }
        }
        expect(index.count('', undefined)).toBe(model.size);
      }),
      { numRuns: 300 },
    );
  });
});
