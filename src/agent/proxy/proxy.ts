// ServiceProxy: keeps this node's nftables table equal to buildRuleset(ServiceView). Changes are batched
// (at most one `nft -f` transaction per minSyncIntervalMs), applied as the difference from the last applied
// ruleset, skipped when nothing changed; the first sync after start and a periodic resync rewrite the whole
// table in one transaction (stale chains deleted, affinity sets kept). Stopping leaves the rules in place:
// the kernel keeps serving Services while the agent is down. It also answers "has the datapath stopped
// sending new connections to these pod IPs?" for graceful pod deletion (drained()).
import type { ProxySyncRecorder } from '../../machinery/prom/index.js';
import type { ApiClient } from '../../api/client/client.js';
import { isApiError } from '../../api/errors.js';
import { systemClock, type Clock, type TimerHandle } from '../../machinery/clock.js';
import type { ServiceView } from '../services/view.js';
import { appliedRevisionAnnotation, laggingPeers } from './acks.js';
import { KernelProxyHost, type ProxyHost } from './host.js';
import {
  buildRuleset,
  hooksChanged,
  newRulesetCache,
  parseTableNames,
  planUpdate,
  renderFull,
  renderUpdate,
  staleConntrack,
  type Balance,
  type ProxyNodeFacts,
  type Ruleset,
} from './ruleset.js';

export interface DrainResult {
  drained: boolean;
  waitedMs: number;
  /** What was still pending at the timeout ("local ruleset", "nodes a, b"), or what was waited for. */
  detail: string;
}

/** The pod manager's view of the proxy (a fake in its tests). */
export interface EndpointDrainer {
  /**
   * Resolves once no applied datapath (this node's, and every other node that publishes its applied
   * revision) sends new connections to `podIPs`, or when `timeoutMs` passed.
   */
  drained(podIPs: readonly string[], timeoutMs: number): Promise<DrainResult>;
}

export interface ServiceProxyOptions {
  view: ServiceView;
  node: ProxyNodeFacts;
  /** `table ip <table>` (agent flag --nft-table, default flotilla). */
  table: string;
  balance?: Balance;
  clusterCidr?: string;
  /** Bursts of changes closer than this share one transaction (default 20 ms). */
  minSyncIntervalMs?: number;
  /** Full rewrite period (default 60 s; 0 turns it off). */
  resyncIntervalMs?: number;
  /**
   * An endpoint change inserts the Service's new `dnat` rule above the old one (no deletion in the
   * transaction: faster); this long after the last change the old rules are removed (default 1 s).
   */
  cleanupDelayMs?: number;
  host?: ProxyHost;
  /**
   * Cross-node acknowledgement through node Leases: publish our applied revision, and wait for the
   * other nodes' in drained(). Without it drained() is local only.
   */
  acks?: { client: ApiClient; minIntervalMs?: number; pollMs?: number };
  /** Sync duration and result for the agent's /metrics. */
  metrics?: ProxySyncRecorder;
  /** Scale from zero: the activator's listeners by service port id (see RulesetOptions.activators). */
  activators?: () => ReadonlyMap<string, string>;
  clock?: Clock;
  log?: (line: string) => void;
}

const leaseRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' } as const;

export class ServiceProxy implements EndpointDrainer {
  private readonly host: ProxyHost;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly minInterval: number;
  private applied: Ruleset | undefined;
  /** Each Service's part of the ruleset, rebuilt only when its objects change. */
  private readonly cache = newRulesetCache();
  /** Chains holding unreachable old rules (planUpdate) → how many. */
  private shadowed = new Map<string, number>();
  private cleanupDue = false;
  private cleanupTimer: TimerHandle | undefined;
  private appliedRev = 0;
  private targets: ReadonlySet<string> = new Set<string>();
  /** Pod IP → the applied revision of the first ruleset that no longer sent to it. */
  private readonly droppedAt = new Map<string, number>();
  private running = false;
  private dirty = false;
  private forceFull = true;
  private lastSyncAt = 0;
  private failures = 0;
  private timer: TimerHandle | undefined;
  private resyncTimer: ReturnType<typeof setInterval> | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private readonly waiters = new Set<() => void>();
  private published = 0;
  private publishing = false;
  private publishTimer: TimerHandle | undefined;
  private lastPublishAt = 0;

  constructor(private readonly opts: ServiceProxyOptions) {
    this.host = opts.host ?? new KernelProxyHost();
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.minInterval = opts.minSyncIntervalMs ?? 20;
  }

  /** Prepares the kernel and starts following the view; the first sync runs once the view has synced. */
  async start(): Promise<void> {
    this.stopped = false;
    for (const c of await this.host.prepareKernel()) this.log(`proxy: set ${c}`);
    this.unsubscribe = this.opts.view.onChange(() => this.schedule());
    const every = this.opts.resyncIntervalMs ?? 60_000;
    if (every > 0) {
      this.resyncTimer = setInterval(() => {
        this.forceFull = true;
        this.schedule();
      }, every);
      this.resyncTimer.unref();
    }
    if (this.opts.view.synced()) this.schedule();
  }

  /** Stops following the view. The table stays: Services keep working while the agent is down. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    if (this.publishTimer !== undefined) this.clock.clearTimeout(this.publishTimer);
    if (this.cleanupTimer !== undefined) this.clock.clearTimeout(this.cleanupTimer);
    this.cleanupTimer = undefined;
    if (this.resyncTimer !== undefined) clearInterval(this.resyncTimer);
    this.timer = undefined;
    this.publishTimer = undefined;
    for (const w of [...this.waiters]) w();
  }

  /** Deletes the table (uninstall, `flotilla agent reset`, agent stop with --cleanup). */
  async removeTable(): Promise<void> {
    await this.host.nft(`table ip ${this.opts.table} {}\ndelete table ip ${this.opts.table}\n`);
    this.applied = undefined;
    this.targets = new Set();
    this.shadowed = new Map();
    this.forceFull = true;
  }

  /** The ServiceView revision the programmed ruleset reflects (0 before the first sync). */
  appliedRevision(): number {
    return this.appliedRev;
  }

  /** Pod IPs the programmed ruleset sends new connections to. */
  appliedTargets(): ReadonlySet<string> {
    return this.targets;
  }

  /** True once a ruleset was programmed since start. */
  hasSynced(): boolean {
    return this.applied !== undefined;
  }

  /** Syncs now (tests, benchmarks); resolves when the current view is programmed. */
  async syncNow(): Promise<void> {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.running) await new Promise<void>((r) => this.waiters.add(r));
    await this.sync();
  }

  /** Programs the current view soon (something outside the view changed: the activator's listeners). */
  refresh(): void {
    this.schedule();
  }

  /** A full rewrite now, as the periodic resync does (tests, benchmarks). */
  async resyncNow(): Promise<void> {
    this.forceFull = true;
    await this.syncNow();
  }

  async drained(podIPs: readonly string[], timeoutMs: number): Promise<DrainResult> {
    const started = this.clock.now();
    const deadline = started + timeoutMs;
    const ips = podIPs.filter((ip) => ip !== '');
    const waited = (): number => this.clock.now() - started;
    // Rules from before an agent restart may still send to the pod until our first sync.
    const localDone = (): boolean => this.applied !== undefined && !ips.some((ip) => this.targets.has(ip));
    while (!localDone()) {
      if (this.stopped || this.clock.now() >= deadline)
        return { drained: false, waitedMs: waited(), detail: 'the local ruleset still sends to it' };
      await this.waitForApply(deadline);
    }
    const rev = Math.max(0, ...ips.map((ip) => this.droppedAt.get(ip) ?? 0));
    const acks = this.opts.acks;
    if (rev === 0 || acks === undefined)
      return { drained: true, waitedMs: waited(), detail: 'local ruleset' };
    const pollMs = acks.pollMs ?? 100;
    for (;;) {
      let lagging: string[];
      try {
        const leases = await acks.client.list(leaseRef, 'kube-node-lease');
        lagging = laggingPeers(leases.items, this.opts.node.nodeName, rev, this.clock.now());
      } catch (err) {
        lagging = [`(lease list failed: ${(err as Error).message})`];
      }
      if (lagging.length === 0)
        return { drained: true, waitedMs: waited(), detail: `local ruleset and peers at revision ${rev}` };
      if (this.stopped || this.clock.now() + pollMs > deadline)
        return {
          drained: false,
          waitedMs: waited(),
          detail: `nodes ${lagging.join(', ')} have not programmed revision ${rev}`,
        };
      await this.clock.sleep(pollMs);
    }
  }

  private waitForApply(deadline: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.waiters.delete(done);
        this.clock.clearTimeout(t);
        resolve();
      };
      const t = this.clock.setTimeout(done, Math.max(0, deadline - this.clock.now()));
      this.waiters.add(done);
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.timer !== undefined) return;
    const backoff = this.failures === 0 ? 0 : Math.min(30_000, 500 * 2 ** (this.failures - 1));
    const wait = Math.max(0, this.lastSyncAt + Math.max(this.minInterval, backoff) - this.clock.now());
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.sync().catch(() => undefined);
    }, wait);
  }

  private async sync(): Promise<void> {
    const view = this.opts.view;
    if (!view.synced()) return;
    this.running = true;
    this.dirty = false;
    this.lastSyncAt = this.clock.now();
    const started = this.lastSyncAt;
    try {
      const revision = view.revision();
      const next = buildRuleset(
        {
          services: view.services(),
          slices: view.slices(),
          node: this.opts.node,
          options: {
            table: this.opts.table,
            balance: this.opts.balance ?? 'random',
            ...(this.opts.clusterCidr === undefined ? {} : { clusterCidr: this.opts.clusterCidr }),
            ...(this.opts.activators === undefined ? {} : { activators: this.opts.activators() }),
            serviceCidrs: view.serviceCidrs(),
          },
        },
        this.cache,
      );
      const prev = this.applied;
      const full = this.forceFull || prev === undefined || hooksChanged(prev, next);
      let script: string;
      let shadowed = new Map<string, number>();
      const cleanup = this.cleanupDue;
      if (full) {
        const listed = await this.host.listTable(this.opts.table);
        script =
          listed === undefined ? renderFull(next) : renderUpdate(undefined, next, parseTableNames(listed));
      } else {
        ({ script, shadowed } = planUpdate(prev, next, this.shadowed, cleanup));
      }
      if (script !== '') {
        const t0 = this.clock.now();
        try {
          await this.host.nft(script);
        } catch (err) {
          // Someone changed the table under us, or an update did not fit it: replace the table whole.
          this.log(`proxy: update failed, replacing table ip ${this.opts.table}: ${(err as Error).message}`);
          await this.host.nft(renderFull(next));
          shadowed = new Map();
        }
        const ms = this.clock.now() - t0;
        if (ms > 500) this.log(`proxy: programming ${next.chains.size} chains took ${ms} ms`);
      }
      for (const f of staleConntrack(prev, next)) {
        try {
          if (!(await this.host.conntrackDelete(f))) {
            this.log(
              'proxy: conntrack tool missing: stale UDP flows to removed endpoints stay (apt-get install conntrack)',
            );
            break;
          }
        } catch (err) {
          this.log(`proxy: ${(err as Error).message}`);
        }
      }
      const nextTargets = next.targets;
      for (const ip of this.targets) if (!nextTargets.has(ip)) this.droppedAt.set(ip, revision);
      for (const ip of nextTargets) this.droppedAt.delete(ip);
      if (this.droppedAt.size > 10_000) {
        const first = this.droppedAt.keys().next();
        if (first.done !== true) this.droppedAt.delete(first.value);
      }
      this.applied = next;
      this.targets = nextTargets;
      this.shadowed = shadowed;
      if (cleanup) this.cleanupDue = false;
      this.scheduleCleanup();
      this.appliedRev = revision;
      this.forceFull = false;
      this.failures = 0;
      this.publish();
      this.opts.metrics?.synced('success', this.clock.now() - started);
    } catch (err) {
      this.opts.metrics?.synced('failure', this.clock.now() - started);
      this.failures++;
      this.forceFull = true;
      this.dirty = true;
      this.log(`proxy: sync failed (attempt ${this.failures}): ${(err as Error).message}`);
    } finally {
      this.running = false;
      for (const w of [...this.waiters]) w();
      if (this.dirty) this.schedule();
    }
  }

  /** Removes unreachable old rules once changes have been quiet for cleanupDelayMs (a sync of its own). */
  private scheduleCleanup(): void {
    if (this.cleanupTimer !== undefined) this.clock.clearTimeout(this.cleanupTimer);
    this.cleanupTimer = undefined;
    if (this.shadowed.size === 0 || this.stopped) return;
    this.cleanupTimer = this.clock.setTimeout(() => {
      this.cleanupTimer = undefined;
      this.cleanupDue = true;
      this.schedule();
    }, this.opts.cleanupDelayMs ?? 1000);
  }

  /** Writes our applied revision on our Lease, at most every minIntervalMs (default 200 ms). */
  private publish(): void {
    const acks = this.opts.acks;
    if (acks === undefined || this.stopped || this.publishing || this.publishTimer !== undefined) return;
    if (this.appliedRev === this.published) return;
    const wait = Math.max(0, this.lastPublishAt + (acks.minIntervalMs ?? 200) - this.clock.now());
    this.publishTimer = this.clock.setTimeout(() => {
      this.publishTimer = undefined;
      const rev = this.appliedRev;
      this.publishing = true;
      this.lastPublishAt = this.clock.now();
      acks.client
        .patch(leaseRef, 'kube-node-lease', this.opts.node.nodeName, 'merge', {
          metadata: { annotations: { [appliedRevisionAnnotation]: String(rev) } },
        })
        .then(
          () => {
            this.published = Math.max(this.published, rev);
          },
          (err: unknown) => {
            // No Lease yet (the agent registers after the proxy starts): retry soon; other errors: later.
            const missing = isApiError(err) && err.reason === 'NotFound';
            if (!missing)
              this.log(`proxy: publishing the applied revision failed: ${(err as Error).message}`);
            this.lastPublishAt = this.clock.now() + (missing ? 500 : 5000);
          },
        )
        .finally(() => {
          this.publishing = false;
          if (this.appliedRev !== this.published && !this.stopped) {
            this.lastPublishAt = Math.max(this.lastPublishAt, this.clock.now());
            this.publish();
          }
        });
    }, wait);
  }
}
