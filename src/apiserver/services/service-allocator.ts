// ClusterIP and NodePort allocation for Services, kept in the Store (one CAS-created key per IP and per
// node port, see allocator.ts). The registry calls allocateCreate / allocateUpdate just before it writes
// a Service and gets a transaction back: `commit` after the write succeeded (releases what the update
// gave up), `revert` when it failed (releases what was taken). Dry runs take nothing.
import { errors, type StatusCause } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { asArr, asNum, asStr } from '../../api/validation/access.js';
import { child, field, index } from '../../api/validation/field.js';
import type { Store } from '../../store/store.js';
import { StoreRangeAllocator, type RangeAllocatorOptions, type SlotOwner } from './allocator.js';
import {
  assignNodePort,
  exposesNodePorts,
  heldClusterIPs,
  heldNodePorts,
  initIPFamilyFields,
  isHeadless,
  needsClusterIP,
  needsHealthCheck,
  nodePortRequests,
  setClusterIP,
  specOf,
  typeOf,
} from './plan.js';
import {
  defaultServiceClusterIPRange,
  defaultServiceNodePortRange,
  parsePortRange,
  parseServiceCIDR,
  type PortRange,
  type ServiceCIDR,
} from './ranges.js';

/** Store key prefixes of the allocation records (outside /registry/: not API objects). */
export const clusterIPRecordPrefix = '/allocations/clusterips/';
export const nodePortRecordPrefix = '/allocations/nodeports/';

export interface ServiceAllocatorOptions extends RangeAllocatorOptions {
  /** `--service-cluster-ip-range` (default 10.43.0.0/16). */
  serviceClusterIPRange?: string | undefined;
  /** `--service-node-port-range` (default 30000-32767). */
  serviceNodePortRange?: string | undefined;
  log?: ((line: string) => void) | undefined;
}

/** What a Service write took and what it gives up, settled once the write's outcome is known. */
export interface AllocationTxn {
  /** The write succeeded: release what the new object no longer holds. */
  commit(): Promise<void>;
  /** The write failed: release what was taken for it. */
  revert(): Promise<void>;
}

export function ownerOf(svc: KubeObject): SlotOwner {
  return {
    namespace: svc.metadata.namespace ?? '',
    name: svc.metadata.name ?? '',
    uid: svc.metadata.uid ?? '',
  };
}

interface Slot {
  alloc: StoreRangeAllocator;
  name: string;
}

/** One allocation: what it took (undone on revert) and what it will release (on commit). */
class Operation implements AllocationTxn {
  private readonly taken: Slot[] = [];
  private readonly deferred: Slot[] = [];
  readonly causes: StatusCause[] = [];
  private settled = false;

  constructor(
    readonly owner: SlotOwner,
    readonly dryRun: boolean,
    private readonly log: (line: string) => void,
  ) {}

  async claim(alloc: StoreRangeAllocator, name: string): Promise<'ok' | 'taken' | 'not-in-range'> {
    const r = this.dryRun ? await alloc.check(name, this.owner) : await alloc.claim(name, this.owner);
    if (r === 'allocated' && !this.dryRun) this.taken.push({ alloc, name });
    return r === 'allocated' || r === 'already-owned' ? 'ok' : r;
  }

  async next(alloc: StoreRangeAllocator): Promise<string | undefined> {
    const name = await alloc.allocateNext(this.owner, this.dryRun);
    if (name !== undefined && !this.dryRun) this.taken.push({ alloc, name });
    return name;
  }

  releaseLater(alloc: StoreRangeAllocator, name: string): void {
    this.deferred.push({ alloc, name });
  }

  async commit(): Promise<void> {
    if (this.settled || this.dryRun) return;
    this.settled = true;
    await this.releaseAll(this.deferred, 'given up by');
  }

  async revert(): Promise<void> {
    if (this.settled || this.dryRun) return;
    this.settled = true;
    await this.releaseAll(this.taken, 'taken for the failed write of');
  }

  private async releaseAll(slots: Slot[], why: string): Promise<void> {
    for (const s of slots) {
      try {
        await s.alloc.release(s.name, this.owner);
      } catch (err) {
        // The repair pass releases it later.
        this.log(
          `services: could not release ${s.name} ${why} ${this.owner.namespace}/${this.owner.name}: ${(err as Error).message}`,
        );
      }
    }
  }
}

export class ServiceAllocator {
  readonly cidr: ServiceCIDR;
  readonly nodePortRange: PortRange;
  readonly ips: StoreRangeAllocator;
  readonly nodePorts: StoreRangeAllocator;
  private readonly log: (line: string) => void;

  /** Throws an Error naming the flag when a range does not parse. */
  constructor(store: Store, opts: ServiceAllocatorOptions = {}) {
    this.cidr = parseServiceCIDR(opts.serviceClusterIPRange ?? defaultServiceClusterIPRange);
    this.nodePortRange = parsePortRange(opts.serviceNodePortRange ?? defaultServiceNodePortRange);
    this.ips = new StoreRangeAllocator(store, clusterIPRecordPrefix, this.cidr, opts);
    this.nodePorts = new StoreRangeAllocator(store, nodePortRecordPrefix, this.nodePortRange, opts);
    this.log = opts.log ?? (() => undefined);
  }

  /** Fill in clusterIP(s), IP families and node ports of a Service about to be created. Mutates `svc`. */
  async allocateCreate(svc: KubeObject, dryRun: boolean): Promise<AllocationTxn> {
    const op = new Operation(ownerOf(svc), dryRun, this.log);
    this.failOn(svc, initIPFamilyFields(svc, undefined));
    try {
      await this.allocClusterIP(svc, op);
      await this.allocNodePorts(svc, undefined, op);
    } catch (err) {
      await op.revert();
      throw err;
    }
    await this.settleCauses(svc, op);
    return op;
  }

  /** The same on update, from the stored `old`: type changes take or give up IPs and node ports. */
  async allocateUpdate(svc: KubeObject, old: KubeObject, dryRun: boolean): Promise<AllocationTxn> {
    const op = new Operation(ownerOf(old), dryRun, this.log);
    this.failOn(svc, initIPFamilyFields(svc, old));
    try {
      const oldIPs = heldClusterIPs(old);
      if (typeOf(svc) === 'ExternalName') {
        for (const ip of oldIPs) op.releaseLater(this.ips, ip);
      } else if (needsClusterIP(svc) && (typeOf(old) === 'ExternalName' || oldIPs.length === 0)) {
        // From ExternalName, or a Service stored without an IP: allocate as on create.
        await this.allocClusterIP(svc, op);
      } else if (isHeadless(svc)) {
        this.markHeadless(svc);
      }
      await this.allocNodePorts(svc, old, op);
      const keep = new Set(heldNodePorts(svc));
      for (const np of heldNodePorts(old)) if (!keep.has(np)) op.releaseLater(this.nodePorts, String(np));
    } catch (err) {
      await op.revert();
      throw err;
    }
    await this.settleCauses(svc, op);
    return op;
  }

  /** Release everything a deleted Service held (only slots still recorded as its own). */
  async release(svc: KubeObject): Promise<void> {
    const owner = ownerOf(svc);
    for (const ip of heldClusterIPs(svc)) await this.ips.release(ip, owner);
    for (const np of heldNodePorts(svc)) await this.nodePorts.release(String(np), owner);
  }

  private failOn(svc: KubeObject, causes: StatusCause[]): void {
    if (causes.length > 0) throw errors.invalid('Service', '', svc.metadata.name ?? '', causes);
  }

  private async settleCauses(svc: KubeObject, op: Operation): Promise<void> {
    if (op.causes.length === 0) return;
    await op.revert();
    this.failOn(svc, op.causes);
  }

  private markHeadless(svc: KubeObject): void {
    const spec = specOf(svc);
    spec['clusterIP'] = 'None';
    spec['clusterIPs'] = ['None'];
  }

  private async allocClusterIP(svc: KubeObject, op: Operation): Promise<void> {
    if (typeOf(svc) === 'ExternalName') return;
    if (isHeadless(svc)) {
      this.markHeadless(svc);
      return;
    }
    const spec = specOf(svc);
    const requested = asStr(asArr(spec['clusterIPs'])[0]) ?? asStr(spec['clusterIP']) ?? '';
    if (requested === '') {
      const ip = await op.next(this.ips);
      if (ip === undefined) {
        throw errors.internal(
          `failed to allocate a serviceIP: range is full (every address of ${this.cidr.cidr} is taken; delete Services or widen --service-cluster-ip-range)`,
        );
      }
      setClusterIP(svc, ip);
      return;
    }
    const r = await op.claim(this.ips, requested);
    const path = index('spec.clusterIPs', 0);
    if (r === 'not-in-range') {
      op.causes.push(
        field.invalid(
          path,
          requested,
          `failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${this.cidr.cidr}`,
        ),
      );
    } else if (r === 'taken') {
      op.causes.push(
        field.invalid(
          path,
          requested,
          `failed to allocate IP ${requested}: provided IP is already allocated`,
        ),
      );
    } else {
      setClusterIP(svc, requested);
    }
  }

  private nodePortCause(path: string, np: number, r: 'taken' | 'not-in-range'): StatusCause {
    return field.invalid(
      path,
      np,
      r === 'taken'
        ? 'provided port is already allocated'
        : `provided port is not in the valid range. The range of valid ports is ${this.nodePortRange.label}`,
    );
  }

  private fullNodePorts(): never {
    throw errors.internal(
      `failed to allocate a nodePort: range is full (every port of ${this.nodePortRange.label} is taken; delete NodePort Services or widen --service-node-port-range)`,
    );
  }

  /** Node ports (and the health check node port) of the new object; `old`'s are kept without a claim. */
  private async allocNodePorts(svc: KubeObject, old: KubeObject | undefined, op: Operation): Promise<void> {
    const had = new Set(old === undefined ? [] : heldNodePorts(old));
    if (exposesNodePorts(svc)) {
      for (const req of nodePortRequests(svc)) {
        const path = child(index('spec.ports', req.index), 'nodePort');
        if (req.nodePort !== 0) {
          if (!had.has(req.nodePort)) {
            const r = await op.claim(this.nodePorts, String(req.nodePort));
            if (r !== 'ok') {
              op.causes.push(this.nodePortCause(path, req.nodePort, r));
              continue;
            }
          }
          assignNodePort(svc, req.index, req.nodePort);
        } else {
          const np = await op.next(this.nodePorts);
          if (np === undefined) this.fullNodePorts();
          assignNodePort(svc, req.index, Number(np));
        }
      }
    }
    const spec = specOf(svc);
    if (needsHealthCheck(svc)) {
      const hc = asNum(spec['healthCheckNodePort']) ?? 0;
      if (hc !== 0) {
        if (!had.has(hc)) {
          const r = await op.claim(this.nodePorts, String(hc));
          if (r !== 'ok') op.causes.push(this.nodePortCause('spec.healthCheckNodePort', hc, r));
        }
      } else {
        const np = await op.next(this.nodePorts);
        if (np === undefined) this.fullNodePorts();
        spec['healthCheckNodePort'] = Number(np);
      }
    }
  }
}
