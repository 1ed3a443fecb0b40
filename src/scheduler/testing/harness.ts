// SchedulerHarness: a cache, a profile and a seeded tie-break; schedules pods one by one (assuming
// each placement, as the shell does before binding) and checks invariants over the result from
// scratch, independently of the plugins' bookkeeping:
//   - no node is over-committed (requests and pod count within allocatable);
//   - required pod affinity and anti-affinity hold for every placed pod (a pod satisfies its own
//     affinity only while no other pod matches its terms: the first replica of a self-affine group);
//   - DoNotSchedule topology spread constraints keep skew <= maxSkew.

import type { KubeObject } from '../../api/types.js';
import { SchedulerCache } from '../cache.js';
import { defaultProfile, schedulePod, type ScheduleResult, type SchedulerProfile } from '../core.js';
import { firstUntoleratedHardTaint } from '../framework/match.js';
import type { NodeInfo } from '../framework/node-info.js';
import { newPodInfo, podRequests, termMatchesPod, type PodInfo } from '../framework/pod-info.js';
import { podMatchesNodeSelectorAndAffinity } from '../plugins/node-affinity.js';
import { spreadConstraints } from '../plugins/pod-topology-spread.js';
import { build, seededRandom, type Buildable } from './builders.js';

export interface HarnessOptions {
  profile?: SchedulerProfile;
  /** Start from this cache (default: an empty one). */
  cache?: SchedulerCache;
  /** Seed of the tie-break PRNG (default 1). */
  seed?: number;
}

export interface Attempt {
  pod: KubeObject;
  result: ScheduleResult;
}

export class SchedulerHarness {
  readonly cache: SchedulerCache;
  readonly profile: SchedulerProfile;
  readonly attempts: Attempt[] = [];
  private readonly random: () => number;

  constructor(opts: HarnessOptions = {}) {
    this.cache = opts.cache ?? new SchedulerCache();
    this.profile = opts.profile ?? defaultProfile;
    this.random = seededRandom(opts.seed ?? 1);
  }

  /** A harness over a copy of this one's cache: what-ifs that leave this one alone. */
  fork(): SchedulerHarness {
    return new SchedulerHarness({ profile: this.profile, cache: this.cache.clone() });
  }

  addNode(...nodes: (KubeObject | Buildable)[]): this {
    for (const n of nodes) this.cache.upsertNode(build(n));
    return this;
  }

  /** A pod already on a node (it must have spec.nodeName). */
  addPod(...pods: (KubeObject | Buildable)[]): this {
    for (const p of pods) this.cache.upsertPod(build(p));
    return this;
  }

  addNamespace(ns: KubeObject): this {
    this.cache.upsertNamespace(ns);
    return this;
  }

  /** Schedules one pod; on success assumes it on the chosen node. */
  schedule(p: KubeObject | Buildable): ScheduleResult {
    const pod = build(p);
    const result = schedulePod(pod, this.cache, this.profile, this.random);
    if (result.kind === 'Scheduled') this.cache.assume(pod, result.nodeName);
    this.attempts.push({ pod, result });
    return result;
  }

  /** One scheduling attempt that changes nothing (no assume): to inspect reasons and scores. */
  evaluate(p: KubeObject | Buildable): ScheduleResult {
    return schedulePod(build(p), this.cache, this.profile, this.random);
  }

  /** Reasons per node for a pod that does not fit anywhere (throws if it was scheduled). */
  reasons(p: KubeObject | Buildable): Record<string, string[]> {
    const r = this.evaluate(p);
    if (r.kind !== 'Unschedulable') throw new Error(`expected no node to fit, got ${r.nodeName}`);
    return r.perNode;
  }

  /** One plugin's weighted score per node (top 10 feasible nodes), for a pod that fits somewhere. */
  scores(p: KubeObject | Buildable, plugin: string): Record<string, number> {
    const r = this.evaluate(p);
    if (r.kind !== 'Scheduled') throw new Error(`expected a fit: ${r.message}`);
    const out: Record<string, number> = {};
    for (const s of r.scores) out[s.nodeName] = s.byPlugin[plugin] ?? 0;
    return out;
  }

  scheduleAll(pods: (KubeObject | Buildable)[]): ScheduleResult[] {
    return pods.map((p) => this.schedule(p));
  }

  /** The node a pod (by name, default namespace unless `ns/name`) was placed on. */
  nodeOf(name: string): string | undefined {
    const [ns, n] = name.includes('/') ? name.split('/', 2) : ['default', name];
    return this.cache.pods().find((p) => p.namespace === ns && p.name === n)?.nodeName;
  }

  /** Pods per node name. */
  placements(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const p of this.cache.pods()) {
      const list = out.get(p.nodeName) ?? [];
      list.push(p.name);
      out.set(p.nodeName, list);
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Invariants: each returns human-readable violations (empty = holds).

  checkResources(): string[] {
    const out: string[] = [];
    for (const node of this.cache.nodeInfos()) {
      const pods = [...node.pods.values()];
      const alloc = node.allocatable;
      if (pods.length > alloc.pods) out.push(`${node.name}: ${pods.length} pods > ${alloc.pods}`);
      let cpu = 0;
      let mem = 0;
      let eph = 0;
      const scalar = new Map<string, number>();
      for (const p of pods) {
        const { requests } = podRequests(p.spec);
        cpu += requests.milliCpu;
        mem += requests.memory;
        eph += requests.ephemeralStorage;
        for (const [k, v] of requests.scalar) scalar.set(k, (scalar.get(k) ?? 0) + v);
      }
      if (cpu > alloc.milliCpu) out.push(`${node.name}: cpu ${cpu}m > ${alloc.milliCpu}m`);
      if (mem > alloc.memory) out.push(`${node.name}: memory ${mem} > ${alloc.memory}`);
      if (eph > 0 && eph > alloc.ephemeralStorage)
        out.push(`${node.name}: ephemeral-storage ${eph} > ${alloc.ephemeralStorage}`);
      for (const [k, v] of scalar) {
        if (v > (alloc.scalar.get(k) ?? 0)) out.push(`${node.name}: ${k} ${v} > ${alloc.scalar.get(k) ?? 0}`);
      }
    }
    return out;
  }

  checkPodAffinity(): string[] {
    const out: string[] = [];
    const ns = (n: string) => this.cache.namespaceLabels(n);
    const placed = this.placedPods();
    for (const { pod, node } of placed) {
      // A pod may satisfy its own affinity only as the first of its kind: when no other pod
      // anywhere matches all its terms (upstream's rule for self-affine groups).
      const alone =
        pod.requiredAffinity.every((t) => termMatchesPod(t, pod, ns)) &&
        !placed.some(
          (q) => q.pod.uid !== pod.uid && pod.requiredAffinity.every((t) => termMatchesPod(t, q.pod, ns)),
        );
      for (const term of pod.requiredAffinity) {
        const v = node.labels[term.topologyKey];
        if (v === undefined) {
          out.push(`${pod.name}: node ${node.name} lacks affinity topology key ${term.topologyKey}`);
          continue;
        }
        const ok =
          alone ||
          placed.some(
            (q) =>
              q.pod.uid !== pod.uid &&
              q.node.labels[term.topologyKey] === v &&
              termMatchesPod(term, q.pod, ns),
          );
        if (!ok) out.push(`${pod.name}: no pod matching its affinity in ${term.topologyKey}=${v}`);
      }
      for (const term of pod.requiredAntiAffinity) {
        const v = node.labels[term.topologyKey];
        if (v === undefined) continue;
        const clash = placed.find(
          (q) =>
            q.pod.uid !== pod.uid && q.node.labels[term.topologyKey] === v && termMatchesPod(term, q.pod, ns),
        );
        if (clash !== undefined)
          out.push(`${pod.name}: anti-affinity violated by ${clash.pod.name} in ${term.topologyKey}=${v}`);
      }
    }
    return out;
  }

  checkTopologySpread(): string[] {
    const out: string[] = [];
    const placed = this.placedPods();
    const nodes = this.cache.nodeInfos();
    for (const { pod } of placed) {
      const constraints = spreadConstraints(pod, 'DoNotSchedule');
      for (const c of constraints) {
        const counts = new Map<string, number>();
        for (const n of nodes) {
          if (!constraints.every((x) => n.labels[x.topologyKey] !== undefined)) continue;
          if (c.honorNodeAffinity && !podMatchesNodeSelectorAndAffinity(pod, n)) continue;
          if (c.honorTaints && firstUntoleratedHardTaint(n.taints, pod.tolerations) !== undefined) continue;
          counts.set(n.labels[c.topologyKey] ?? '', counts.get(n.labels[c.topologyKey] ?? '') ?? 0);
        }
        for (const q of placed) {
          if (q.pod.namespace !== pod.namespace || q.pod.deleting || !c.selector(q.pod.labels)) continue;
          const v = q.node.labels[c.topologyKey];
          if (v !== undefined && counts.has(v)) counts.set(v, (counts.get(v) ?? 0) + 1);
        }
        if (counts.size === 0) continue;
        const values = [...counts.values()];
        const min = counts.size < c.minDomains ? 0 : Math.min(...values);
        const max = Math.max(...values);
        if (max - min > c.maxSkew)
          out.push(
            `${pod.name}: skew ${max - min} > maxSkew ${c.maxSkew} over ${c.topologyKey} ${JSON.stringify([...counts])}`,
          );
      }
    }
    return [...new Set(out)];
  }

  checkInvariants(): string[] {
    return [...this.checkResources(), ...this.checkPodAffinity(), ...this.checkTopologySpread()];
  }

  /** Throws with every violation listed. */
  assertInvariants(): void {
    const v = this.checkInvariants();
    if (v.length > 0) throw new Error(`scheduler invariants violated:\n${v.join('\n')}`);
  }

  private placedPods(): { pod: PodInfo; node: NodeInfo }[] {
    const out: { pod: PodInfo; node: NodeInfo }[] = [];
    for (const p of this.cache.pods()) {
      const node = this.cache.getNodeInfo(p.nodeName);
      if (node !== undefined) out.push({ pod: newPodInfo(p.pod, p.nodeName), node });
    }
    return out;
  }
}
