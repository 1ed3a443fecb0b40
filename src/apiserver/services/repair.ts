// The repair pass of Service allocations (upstream's ipallocator/portallocator repair controllers): at
// server start and then periodically, release records whose Service is gone (or no longer holds the
// slot) and re-record slots of Services that have no record (a crash between write and record, or data
// from before allocation was recorded). Young orphans are left alone: they may belong to a create that
// another API server is about to store.
import { findByResource, storePrefix } from '../../api/resources.js';
import type { KubeObject } from '../../api/types.js';
import type { Store } from '../../store/store.js';
import type { HeldSlot, StoreRangeAllocator } from './allocator.js';
import { heldClusterIPs, heldNodePorts } from './plan.js';
import { ownerOf, type ServiceAllocator } from './service-allocator.js';

export interface RepairOptions {
  /** Orphaned records younger than this are kept (default 60 s). */
  minOrphanAgeMs?: number;
  now?: () => Date;
  log?: (line: string) => void;
}

export interface RepairReport {
  /** Records released because no Service holds their slot. */
  released: string[];
  /** Slots of Services that had no record and now have one. */
  recorded: string[];
  /** Slots held by two Services (only a human can fix that: one must be recreated). */
  duplicates: string[];
}

async function listServices(store: Store): Promise<KubeObject[]> {
  const info = findByResource('', 'v1', 'services');
  if (info === undefined) return [];
  const prefix = storePrefix(info, undefined);
  const out: KubeObject[] = [];
  let startAfter: string | undefined;
  for (;;) {
    const page = await store.list({
      prefix,
      limit: 1000,
      ...(startAfter === undefined ? {} : { startAfter }),
    });
    for (const kv of page.items) out.push(JSON.parse(kv.value) as KubeObject);
    const last = page.items[page.items.length - 1];
    if (!page.more || last === undefined) return out;
    startAfter = last.key;
  }
}

async function repairOne(
  alloc: StoreRangeAllocator,
  label: string,
  held: HeldSlot[],
  wanted: Map<string, KubeObject[]>,
  opts: Required<RepairOptions>,
  report: RepairReport,
): Promise<void> {
  const heldBy = new Map(held.map((h) => [h.name, h]));
  for (const h of held) {
    const owners = wanted.get(h.name) ?? [];
    if (owners.some((svc) => svc.metadata.uid === h.record?.uid)) continue;
    const at = Date.parse(h.record?.at ?? '');
    const young = Number.isFinite(at) && opts.now().getTime() - at < opts.minOrphanAgeMs;
    // A record for a Service that holds the slot under another uid (recreated): hand it over.
    const holder = owners[0];
    if (holder !== undefined && owners.length === 1 && !young) {
      if (await alloc.releaseHeld(h)) {
        if ((await alloc.claimKey(h.name, ownerOf(holder))) === 'allocated')
          report.recorded.push(`${label} ${h.name}`);
      }
      continue;
    }
    if (young || owners.length > 0) continue;
    if (await alloc.releaseHeld(h)) report.released.push(`${label} ${h.name}`);
  }
  for (const [name, owners] of wanted) {
    if (owners.length > 1) report.duplicates.push(`${label} ${name}`);
    const svc = owners[0];
    if (svc === undefined || heldBy.has(name)) continue;
    const r = await alloc.claimKey(name, ownerOf(svc));
    if (r === 'allocated') report.recorded.push(`${label} ${name}`);
    else if (r === 'taken') report.duplicates.push(`${label} ${name}`);
  }
}

/** One repair pass over both allocators. Records are read before Services (see the header). */
export async function repairServiceAllocations(
  store: Store,
  allocator: ServiceAllocator,
  options: RepairOptions = {},
): Promise<RepairReport> {
  const opts: Required<RepairOptions> = {
    minOrphanAgeMs: options.minOrphanAgeMs ?? 60_000,
    now: options.now ?? (() => new Date()),
    log: options.log ?? (() => undefined),
  };
  const heldIPs = await allocator.ips.held();
  const heldPorts = await allocator.nodePorts.held();
  const services = await listServices(store);
  const wantIPs = new Map<string, KubeObject[]>();
  const wantPorts = new Map<string, KubeObject[]>();
  const add = (m: Map<string, KubeObject[]>, k: string, svc: KubeObject): void => {
    const list = m.get(k) ?? [];
    if (!list.includes(svc)) list.push(svc);
    m.set(k, list);
  };
  for (const svc of services) {
    for (const ip of heldClusterIPs(svc)) add(wantIPs, ip, svc);
    for (const np of heldNodePorts(svc)) add(wantPorts, String(np), svc);
  }
  const report: RepairReport = { released: [], recorded: [], duplicates: [] };
  await repairOne(allocator.ips, 'clusterIP', heldIPs, wantIPs, opts, report);
  await repairOne(allocator.nodePorts, 'nodePort', heldPorts, wantPorts, opts, report);
  for (const [what, list] of [
    ['released orphaned', report.released],
    ['re-recorded', report.recorded],
    ['found duplicate (recreate one of the Services holding it)', report.duplicates],
  ] as const) {
    if (list.length > 0) opts.log(`services repair: ${what}: ${list.join(', ')}`);
  }
  return report;
}
