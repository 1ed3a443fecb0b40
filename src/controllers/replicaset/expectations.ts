// Controller expectations (client-go's UIDTrackingControllerExpectations): after a controller issues
// creates or deletes for a key, it must not act on that key again until its informer has observed
// them, or a stale cache (pods created but not yet seen) would make it create the same pods twice.
// Creations are counted; deletions are tracked by pod key so a pod seen first with a
// deletionTimestamp and then deleted counts once. A record older than `ttlMs` (5 min) is treated as
// satisfied: a lost watch event must not stall a ReplicaSet forever.

export const EXPECTATIONS_TTL_MS = 5 * 60_000;

interface Record_ {
  add: number;
  del: number;
  /** Pod keys whose deletion is expected. */
  deleting: Set<string>;
  setAt: number;
}

export class ControllerExpectations {
  private readonly records = new Map<string, Record_>();
  private readonly now: () => number;
  readonly ttlMs: number;

  constructor(now: () => number, ttlMs = EXPECTATIONS_TTL_MS) {
    this.now = now;
    this.ttlMs = ttlMs;
  }

  /** True when the controller may act on `key`: nothing outstanding, or the record expired. */
  satisfied(key: string): boolean {
    const r = this.records.get(key);
    if (r === undefined) return true;
    if (r.add <= 0 && r.del <= 0) return true;
    return this.now() - r.setAt > this.ttlMs;
  }

  /** Milliseconds until an unsatisfied record of `key` expires (0 when satisfied). */
  expiresInMs(key: string): number {
    const r = this.records.get(key);
    if (r === undefined || (r.add <= 0 && r.del <= 0)) return 0;
    return Math.max(0, r.setAt + this.ttlMs - this.now() + 1);
  }

  /** Expect `count` pod creations for `key` (replaces any earlier record). */
  expectCreations(key: string, count: number): void {
    this.records.set(key, { add: count, del: 0, deleting: new Set(), setAt: this.now() });
  }

  /** Expect the deletion of these pods (by `namespace/name`) for `key` (replaces any earlier record). */
  expectDeletions(key: string, podKeys: readonly string[]): void {
    this.records.set(key, {
      add: 0,
      del: podKeys.length,
      deleting: new Set(podKeys),
      setAt: this.now(),
    });
  }

  /** A pod of `key` was seen created (or a create was given up). */
  creationObserved(key: string): void {
    const r = this.records.get(key);
    if (r !== undefined) r.add--;
  }

  /** A pod of `key` was seen deleted or terminating (or its delete failed); counts once per pod. */
  deletionObserved(key: string, podKey: string): void {
    const r = this.records.get(key);
    if (r !== undefined && r.deleting.delete(podKey)) r.del--;
  }

  /** Forget `key` (its controller object was deleted). */
  delete(key: string): void {
    this.records.delete(key);
  }

  /** Outstanding counts for `key`, for tests and logs. */
  pending(key: string): { add: number; del: number } | undefined {
    const r = this.records.get(key);
    return r === undefined ? undefined : { add: r.add, del: r.del };
  }
}
