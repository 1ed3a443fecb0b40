// Remembers the slices this controller just wrote (upstream EndpointSliceTracker), for two reasons:
//  - a sync must not plan from a cache that has not seen its previous writes yet: slices are created
//    with generateName, so a stale cache would create them twice;
//  - the informer's echo of our own write needs no sync of its own.
// Entries are dropped once the cache caught up, or after `ttlMs` (a lost event must not block a Service).

import type { KubeObject } from '../../api/types.js';

interface Expectation {
  /** The resourceVersion we wrote, or undefined for a deletion. */
  resourceVersion: string | undefined;
  /** True when the slice did not exist before this write (a create). */
  created: boolean;
  at: number;
}

/** a ≥ b for resourceVersions; numeric when both are, else only equality counts. */
function rvAtLeast(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) >= BigInt(b);
  return a === b;
}

export class SliceTracker {
  /** Service key → slice name → what we expect the cache to show. */
  private readonly byService = new Map<string, Map<string, Expectation>>();

  constructor(
    private readonly now: () => number,
    private readonly ttlMs: number,
  ) {}

  wrote(serviceKey: string, slice: KubeObject, created: boolean): void {
    this.entry(serviceKey).set(slice.metadata.name ?? '', {
      resourceVersion: slice.metadata.resourceVersion ?? '',
      created,
      at: this.now(),
    });
  }

  deleted(serviceKey: string, sliceName: string): void {
    this.entry(serviceKey).set(sliceName, { resourceVersion: undefined, created: false, at: this.now() });
  }

  /** Forget a Service (it is gone). */
  forget(serviceKey: string): void {
    this.byService.delete(serviceKey);
  }

  /**
   * True when `cached(name)` (the informer's slice of that name) already reflects every write we made
   * for the Service; entries that are satisfied or expired are dropped.
   */
  caughtUp(serviceKey: string, cached: (name: string) => KubeObject | undefined): boolean {
    const m = this.byService.get(serviceKey);
    if (m === undefined) return true;
    const now = this.now();
    for (const [name, exp] of m) {
      const slice = cached(name);
      let fresh: boolean;
      if (exp.resourceVersion === undefined) fresh = slice === undefined;
      // An updated slice missing from the cache was deleted after our write: nothing stale about that.
      else if (slice === undefined) fresh = !exp.created;
      else fresh = rvAtLeast(slice.metadata.resourceVersion, exp.resourceVersion);
      if (fresh || now - exp.at >= this.ttlMs) m.delete(name);
    }
    if (m.size === 0) this.byService.delete(serviceKey);
    return m.size === 0;
  }

  /** The event is the echo of our own write (the exact version we wrote, or our deletion). */
  isOwnEcho(serviceKey: string, slice: KubeObject, deleted: boolean): boolean {
    const exp = this.byService.get(serviceKey)?.get(slice.metadata.name ?? '');
    if (exp === undefined) return false;
    if (deleted) return exp.resourceVersion === undefined;
    return exp.resourceVersion !== undefined && exp.resourceVersion === slice.metadata.resourceVersion;
  }

  private entry(serviceKey: string): Map<string, Expectation> {
    let m = this.byService.get(serviceKey);
    if (m === undefined) {
      m = new Map();
      this.byService.set(serviceKey, m);
    }
    return m;
  }
}
