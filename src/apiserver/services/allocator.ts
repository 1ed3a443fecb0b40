// A range allocator kept in the Store: one key per allocated slot (an IP or a port), created with the
// store's compare-and-swap create, so two API servers on one store never hand out the same slot (the idea
// of upstream's IPAddress objects). The key's value names the owning Service; release deletes the key
// only when it still belongs to that owner.
import { isStoreError, type Store } from '../../store/store.js';
import { dynamicBandStart, type SlotRange } from './ranges.js';

/** The object a slot belongs to. */
export interface SlotOwner {
  namespace: string;
  name: string;
  uid: string;
}

/** What the store holds for an allocated slot. */
export interface SlotRecord extends SlotOwner {
  /** When the slot was taken (ISO time): the repair pass leaves young orphans alone. */
  at: string;
}

export interface HeldSlot {
  name: string;
  record: SlotRecord | undefined;
  modRevision: number;
}

/** Outcome of asking for one given slot. */
export type ClaimResult =
  | 'allocated' // newly taken for the owner
  | 'already-owned' // the owner held it before
  | 'taken' // another owner holds it
  | 'not-in-range';

function parseRecord(value: string): SlotRecord | undefined {
  try {
    const v = JSON.parse(value) as Partial<SlotRecord>;
    if (typeof v.uid === 'string' && typeof v.name === 'string' && typeof v.namespace === 'string')
      return { namespace: v.namespace, name: v.name, uid: v.uid, at: typeof v.at === 'string' ? v.at : '' };
  } catch {
    // a foreign value: treated as owned by nobody we know
  }
  return undefined;
}

export interface RangeAllocatorOptions {
  /** Random numbers in [0, 1); injectable for tests. */
  random?: () => number;
  /** Wall clock for record timestamps. */
  now?: () => Date;
}

/** Random tries in the dynamic band before falling back to a full scan of the held slots. */
const randomTries = 8;

export class StoreRangeAllocator {
  readonly range: SlotRange;
  private readonly store: Store;
  private readonly prefix: string;
  private readonly random: () => number;
  private readonly now: () => Date;

  constructor(store: Store, prefix: string, range: SlotRange, opts: RangeAllocatorOptions = {}) {
    this.store = store;
    this.prefix = prefix;
    this.range = range;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? (() => new Date());
  }

  key(name: string): string {
    return `${this.prefix}${name}`;
  }

  private recordFor(owner: SlotOwner): string {
    const rec: SlotRecord = {
      namespace: owner.namespace,
      name: owner.name,
      uid: owner.uid,
      at: this.now().toISOString(),
    };
    return JSON.stringify(rec);
  }

  /** Who holds `name`, if anyone. */
  async holder(name: string): Promise<HeldSlot | undefined> {
    const kv = await this.store.get(this.key(name));
    if (kv === undefined) return undefined;
    return { name, record: parseRecord(kv.value), modRevision: kv.modRevision };
  }

  /** Take the given slot for `owner` (CAS create of its key). */
  async claim(name: string, owner: SlotOwner): Promise<ClaimResult> {
    if (this.range.offsetOf(name) === undefined) return 'not-in-range';
    return this.claimKey(name, owner);
  }

  /** As claim, without the range check: re-recording slots of existing objects after a range change. */
  async claimKey(name: string, owner: SlotOwner): Promise<ClaimResult> {
    try {
      await this.store.create(this.key(name), this.recordFor(owner));
      return 'allocated';
    } catch (err) {
      if (!(isStoreError(err) && err.code === 'KeyExists')) throw err;
    }
    const held = await this.holder(name);
    // Released between our create and this read: try once more.
    if (held === undefined) return this.claimKey(name, owner);
    return held.record?.uid === owner.uid ? 'already-owned' : 'taken';
  }

  /** Dry run of claim: what claim would answer now, taking nothing. */
  async check(name: string, owner: SlotOwner | undefined): Promise<ClaimResult> {
    if (this.range.offsetOf(name) === undefined) return 'not-in-range';
    const held = await this.holder(name);
    if (held === undefined) return 'allocated';
    return owner !== undefined && held.record?.uid === owner.uid ? 'already-owned' : 'taken';
  }

  /**
   * Take any free slot for `owner`: random picks in the high band first (as upstream, leaving the low band
   * to users who pick their own), then a scan of every free slot. Undefined when the range is full.
   * With `dryRun`, returns a slot that is free now without taking it.
   */
  async allocateNext(owner: SlotOwner, dryRun = false): Promise<string | undefined> {
    const size = this.range.size;
    const band = dynamicBandStart(size);
    for (let i = 0; i < Math.min(randomTries, size); i++) {
      const offset = band + Math.floor(this.random() * (size - band));
      const name = this.range.nameAt(offset);
      if (dryRun) {
        if ((await this.holder(name)) === undefined) return name;
        continue;
      }
      if ((await this.claimKey(name, owner)) === 'allocated') return name;
    }
    const held = new Set((await this.held()).map((h) => h.name));
    const start = band + Math.floor(this.random() * (size - band));
    // High band from a random start, wrapping within it, then the low band.
    const order = (k: number): number =>
      k < size - band ? band + ((start - band + k) % (size - band)) : k - (size - band);
    for (let k = 0; k < size; k++) {
      const name = this.range.nameAt(order(k));
      if (held.has(name)) continue;
      if (dryRun) return name;
      if ((await this.claimKey(name, owner)) === 'allocated') return name;
    }
    return undefined;
  }

  /** Give the slot back if `owner` (when given) still holds it. True when a key was deleted. */
  async release(name: string, owner?: SlotOwner): Promise<boolean> {
    const held = await this.holder(name);
    if (held === undefined) return false;
    if (owner !== undefined && held.record?.uid !== owner.uid) return false;
    return this.releaseHeld(held);
  }

  /** Delete a held slot's key if it is unchanged since it was read (CAS on its revision). */
  async releaseHeld(held: HeldSlot): Promise<boolean> {
    try {
      await this.store.delete(this.key(held.name), held.modRevision);
      return true;
    } catch (err) {
      if (isStoreError(err) && (err.code === 'NotFound' || err.code === 'Conflict')) return false;
      throw err;
    }
  }

  /** Every held slot (in or out of the current range). */
  async held(): Promise<HeldSlot[]> {
    const out: HeldSlot[] = [];
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.store.list({
        prefix: this.prefix,
        limit: 1000,
        ...(startAfter === undefined ? {} : { startAfter }),
      });
      for (const kv of page.items) {
        out.push({
          name: kv.key.slice(this.prefix.length),
          record: parseRecord(kv.value),
          modRevision: kv.modRevision,
        });
      }
      const last = page.items[page.items.length - 1];
      if (!page.more || last === undefined) return out;
      startAfter = last.key;
    }
  }
}
