// Cross-node acknowledgement of the datapath (pure): every real agent writes the ServiceView revision its
// proxy has programmed into an annotation of its node Lease; an agent draining a pod waits until every
// other live node that publishes one has reached the revision at which the pod's endpoint left the local
// ruleset. Nodes without the annotation (simulated nodes, agents with --disable-proxy) are not waited for.
import type { KubeObject } from '../../api/types.js';
import { asNum, asObj, asStr } from '../../api/validation/access.js';

export const appliedRevisionAnnotation = 'flotilla.dev/proxy-applied-revision';

/** The Lease's renewTime in ms (undefined when absent or unparsable). */
function renewedAt(lease: KubeObject): number | undefined {
  const t = asStr(asObj(lease.spec)?.['renewTime']);
  if (t === undefined) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Names of the nodes (by Lease name) that publish an applied revision below `revision` and are alive
 * (renewed within their lease duration). Sorted.
 */
export function laggingPeers(
  leases: readonly KubeObject[],
  self: string,
  revision: number,
  nowMs: number,
): string[] {
  const out: string[] = [];
  for (const l of leases) {
    const name = l.metadata.name ?? '';
    if (name === self) continue;
    const raw = l.metadata.annotations?.[appliedRevisionAnnotation];
    if (raw === undefined) continue;
    const applied = Number(raw);
    if (Number.isFinite(applied) && applied >= revision) continue;
    const renewed = renewedAt(l);
    const duration = asNum(asObj(l.spec)?.['leaseDurationSeconds']) ?? 40;
    // A node whose agent is gone cannot answer; waiting for it would only burn the drain timeout.
    if (renewed === undefined || renewed + duration * 1000 < nowMs) continue;
    out.push(name);
  }
  return out.sort();
}
