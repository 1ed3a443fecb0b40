import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../store/memory-store.js';
import { StoreRangeAllocator, type SlotOwner } from './allocator.js';
import { parsePortRange, parseServiceCIDR } from './ranges.js';

const owner = (name: string): SlotOwner => ({ namespace: 'default', name, uid: `uid-${name}` });

function ipAllocator(cidr = '10.96.0.0/24', store = new MemoryStore()): StoreRangeAllocator {
  return new StoreRangeAllocator(store, '/allocations/clusterips/', parseServiceCIDR(cidr));
}

describe('StoreRangeAllocator', () => {
  it.each([
    ['a free address in range', '10.96.0.10', 'allocated'],
    ['an address outside the range', '10.97.0.10', 'not-in-range'],
    ['the network address', '10.96.0.0', 'not-in-range'],
    ['the broadcast address', '10.96.0.255', 'not-in-range'],
  ] as const)('claim of %s → %s', async (_what, ip, want) => {
    expect(await ipAllocator().claim(ip, owner('a'))).toBe(want);
  });

  it('a claimed slot is taken for others and already owned for its owner', async () => {
    const a = ipAllocator();
    expect(await a.claim('10.96.0.10', owner('a'))).toBe('allocated');
    expect(await a.claim('10.96.0.10', owner('b'))).toBe('taken');
    expect(await a.claim('10.96.0.10', owner('a'))).toBe('already-owned');
    expect(await a.check('10.96.0.10', owner('b'))).toBe('taken');
    expect(await a.check('10.96.0.11', owner('b'))).toBe('allocated');
  });

  it('release gives the slot back only for its owner', async () => {
    const a = ipAllocator();
    await a.claim('10.96.0.10', owner('a'));
    expect(await a.release('10.96.0.10', owner('b'))).toBe(false);
    expect(await a.claim('10.96.0.10', owner('b'))).toBe('taken');
    expect(await a.release('10.96.0.10', owner('a'))).toBe(true);
    expect(await a.claim('10.96.0.10', owner('b'))).toBe('allocated');
  });

  it('50 parallel allocations get 50 distinct addresses, also from two allocators on one store', async () => {
    const store = new MemoryStore();
    // Two API servers on one store: two allocators sharing only the store.
    const one = ipAllocator('10.96.0.0/26', store);
    const two = ipAllocator('10.96.0.0/26', store);
    const got = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? one : two).allocateNext(owner(`s${i}`))),
    );
    expect(got.every((ip) => ip !== undefined && one.range.offsetOf(ip) !== undefined)).toBe(true);
    expect(new Set(got).size).toBe(50);
    expect((await one.held()).length).toBe(50);
  });

  it('hands out every slot of a tiny range, then answers full', async () => {
    const a = new StoreRangeAllocator(
      new MemoryStore(),
      '/allocations/nodeports/',
      parsePortRange('30000-30004'),
    );
    const got = await Promise.all(Array.from({ length: 5 }, (_, i) => a.allocateNext(owner(`s${i}`))));
    expect([...got].sort()).toEqual(['30000', '30001', '30002', '30003', '30004']);
    expect(await a.allocateNext(owner('late'))).toBeUndefined();
    expect(await a.allocateNext(owner('late'), true)).toBeUndefined();
    await a.release('30002');
    expect(await a.allocateNext(owner('late'))).toBe('30002');
  });

  it('a dry run finds a free slot without taking it', async () => {
    const a = ipAllocator('10.96.0.0/30');
    const ip = await a.allocateNext(owner('a'), true);
    expect(ip).toBeDefined();
    expect(await a.held()).toEqual([]);
  });

  it('prefers the high band for automatic allocation', async () => {
    // With random() always 0 the first try is the first slot of the high band (offset 16 of /24 → .17).
    const a = new StoreRangeAllocator(new MemoryStore(), '/x/', parseServiceCIDR('10.96.0.0/24'), {
      random: () => 0,
    });
    expect(await a.allocateNext(owner('a'))).toBe('10.96.0.17');
    // The same pick is taken now: the scan continues from there.
    expect(await a.allocateNext(owner('b'))).toBe('10.96.0.18');
  });
});
