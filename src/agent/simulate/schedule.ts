// Spreading periodic per-node work (lease renewals, status reports) evenly over its period. Node i's
// instants are offset_i + k·period with offset_i = i·period/count, so 5,000 nodes renewing every 10 s
// make a steady 500 renewals a second instead of a burst of 5,000. Pure: the caller passes the time.

/**
 * The indices (0 ≤ i < count) with an instant in the window (fromMs, toMs]. A window of a whole period or
 * more returns every index once; successive windows return each index exactly once per period.
 */
export function dueInWindow(fromMs: number, toMs: number, periodMs: number, count: number): number[] {
  if (count <= 0 || toMs <= fromMs) return [];
  if (toMs - fromMs >= periodMs) return Array.from({ length: count }, (_, i) => i);
  const phase = (t: number): number => ((t % periodMs) + periodMs) % periodMs;
  // Index i is due when i·period/count ∈ (pf, pt]; i ≤ p·count/period ⟺ i ≤ floor(p·count/period).
  const upTo = (p: number): number => Math.floor((p * count) / periodMs);
  const pf = phase(fromMs);
  const pt = phase(toMs);
  const out: number[] = [];
  const push = (first: number, last: number): void => {
    for (let i = Math.max(0, first); i <= Math.min(count - 1, last); i++) out.push(i);
  };
  if (pt > pf) {
    push(upTo(pf) + 1, upTo(pt));
  } else {
    // The window wraps past the start of a period.
    push(upTo(pf) + 1, count - 1);
    push(0, upTo(pt));
  }
  return out;
}
