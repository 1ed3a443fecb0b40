// Node lifecycle, as pure functions: Kubernetes' node-lifecycle controller (node health from the
// agent's Lease and Ready heartbeat, conditions set to Unknown, taints by condition, zone disruption
// states and rate-limited NoExecute tainting) and its taint-eviction controller (pods on NoExecute
// tainted nodes deleted now, after their tolerationSeconds, or never).
//
// Time is passed in as milliseconds (`nowMs`) from the controller's injected clock. Health is judged
// by when *this controller* last saw the lease or the heartbeat change (not by the timestamps in
// them), as upstream does, so a skewed agent clock cannot make a node look alive or dead.

import { isObject, type KubeObject } from '../../api/types.js';

export const notReadyTaintKey = 'node.kubernetes.io/not-ready';
export const unreachableTaintKey = 'node.kubernetes.io/unreachable';
export const unschedulableTaintKey = 'node.kubernetes.io/unschedulable';
export const memoryPressureTaintKey = 'node.kubernetes.io/memory-pressure';
export const diskPressureTaintKey = 'node.kubernetes.io/disk-pressure';
export const pidPressureTaintKey = 'node.kubernetes.io/pid-pressure';
export const networkUnavailableTaintKey = 'node.kubernetes.io/network-unavailable';
/** Nodes with this label do not count towards their zone's disruption state (upstream). */
export const excludeDisruptionLabel = 'node.kubernetes.io/exclude-disruption';
export const zoneLabel = 'topology.kubernetes.io/zone';
export const regionLabel = 'topology.kubernetes.io/region';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  /** RFC 3339; set on NoExecute taints this controller adds. */
  timeAdded?: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number | null;
}

export interface NodeCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

export interface NodeLifecycleSettings {
  /** A node whose lease and Ready heartbeat did not change for this long becomes Unknown. */
  gracePeriodMs: number;
  /** The same, for a node that never posted a Ready condition (counted from its creation). */
  startupGracePeriodMs: number;
  /** Nodes per second tainted NoExecute in a zone in Normal state (or FullDisruption while others are not). */
  evictionRate: number;
  /** Nodes per second in a PartialDisruption zone larger than `largeClusterThreshold`; smaller ones stop. */
  secondaryEvictionRate: number;
  /** Fraction of a zone's nodes not ready (and more than 2) from which it is in PartialDisruption. */
  unhealthyZoneThreshold: number;
  largeClusterThreshold: number;
}

/** RFC 3339 with second precision, as Kubernetes serialises metav1.Time. */
export function kubeTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function parseTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : undefined;
}

function spec(obj: KubeObject): Record<string, unknown> {
  return isObject(obj.spec) ? obj.spec : {};
}

function status(obj: KubeObject): Record<string, unknown> {
  return isObject(obj.status) ? obj.status : {};
}

export function nodeConditions(node: KubeObject): NodeCondition[] {
  const list = status(node).conditions;
  return Array.isArray(list)
    ? list.filter(
        (c): c is NodeCondition => isObject(c) && typeof c.type === 'string' && typeof c.status === 'string',
      )
    : [];
}

export function readyStatusOf(node: KubeObject): ConditionStatus | undefined {
  const s = nodeConditions(node).find((c) => c.type === 'Ready')?.status;
  return s === 'True' || s === 'False' || s === 'Unknown' ? s : s === undefined ? undefined : 'Unknown';
}

export function nodeTaints(node: KubeObject): Taint[] {
  const list = spec(node).taints;
  return Array.isArray(list)
    ? list.filter((t): t is Taint => isObject(t) && typeof t.key === 'string' && typeof t.effect === 'string')
    : [];
}

export function podTolerations(pod: KubeObject): Toleration[] {
  const list = spec(pod).tolerations;
  return Array.isArray(list) ? list.filter((t): t is Toleration => isObject(t)) : [];
}

// ---------------------------------------------------------------------------------------------------
// Node health

/** What the controller remembers about a node between passes. */
export interface NodeHealth {
  /** When this controller last saw a sign of life: a renewed lease or a new Ready heartbeat. */
  probeMs: number;
  /** The Ready condition's lastHeartbeatTime as last seen. */
  heartbeat: string | undefined;
  /** The lease's renewTime as last seen (ms). */
  leaseRenewMs: number | undefined;
  /** Ready as of the end of the last pass; undefined when the node has no Ready condition. */
  ready: ConditionStatus | undefined;
  /** Since when Ready is not True (orders the nodes waiting for a NoExecute taint). */
  notReadySinceMs: number | undefined;
}

export interface HealthObservation {
  health: NodeHealth;
  /** Conditions to write through nodes/status (the agent went silent); undefined: nothing to write. */
  conditions: NodeCondition[] | undefined;
  /** Ready after this pass (with `conditions` applied). */
  ready: ConditionStatus | undefined;
  /** Ready changed since the last pass (never on first sight). */
  transition: 'NodeReady' | 'NodeNotReady' | undefined;
}

/** The conditions the controller sets to Unknown when the agent stops reporting (not NetworkUnavailable). */
export const monitoredConditions = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'] as const;

/**
 * One look at a node: refresh the probe time from the lease and the Ready heartbeat, and when the node
 * was silent longer than its grace period, set its monitored conditions to Unknown.
 */
export function observeNodeHealth(
  prev: NodeHealth | undefined,
  node: KubeObject,
  lease: KubeObject | undefined,
  nowMs: number,
  settings: Pick<NodeLifecycleSettings, 'gracePeriodMs' | 'startupGracePeriodMs'>,
): HealthObservation {
  const conditions = nodeConditions(node);
  const readyCondition = conditions.find((c) => c.type === 'Ready');
  const heartbeat = readyCondition?.lastHeartbeatTime;
  let probeMs: number;
  if (prev === undefined) {
    // First sight (or a controller restart): a node that never reported counts from its creation,
    // any other gets a full grace period from now.
    probeMs = readyCondition === undefined ? (parseTime(node.metadata.creationTimestamp) ?? nowMs) : nowMs;
  } else {
    probeMs = heartbeat !== prev.heartbeat ? nowMs : prev.probeMs;
  }
  const leaseRenewMs = parseTime(isObject(lease?.spec) ? lease.spec.renewTime : undefined);
  if (leaseRenewMs !== undefined && (prev?.leaseRenewMs === undefined || leaseRenewMs > prev.leaseRenewMs))
    probeMs = nowMs;

  const graceMs = readyCondition === undefined ? settings.startupGracePeriodMs : settings.gracePeriodMs;
  let written: NodeCondition[] | undefined;
  if (nowMs > probeMs + graceMs) {
    const now = kubeTime(nowMs);
    let changed = false;
    const next = conditions.map((c) => ({ ...c }));
    for (const type of monitoredConditions) {
      const existing = next.find((c) => c.type === type);
      if (existing === undefined) {
        next.push({
          type,
          status: 'Unknown',
          reason: 'NodeStatusNeverUpdated',
          message: 'Kubelet never posted node status.',
          ...(typeof node.metadata.creationTimestamp === 'string'
            ? { lastHeartbeatTime: node.metadata.creationTimestamp }
            : {}),
          lastTransitionTime: now,
        });
        changed = true;
      } else if (existing.status !== 'Unknown') {
        existing.status = 'Unknown';
        existing.reason = 'NodeStatusUnknown';
        existing.message = 'Kubelet stopped posting node status.';
        existing.lastTransitionTime = now;
        changed = true;
      }
    }
    if (changed) written = next;
  }
  const effective = written ?? conditions;
  const readyStatus = effective.find((c) => c.type === 'Ready')?.status;
  const ready: ConditionStatus | undefined =
    readyStatus === undefined
      ? undefined
      : readyStatus === 'True' || readyStatus === 'False'
        ? readyStatus
        : 'Unknown';
  let transition: HealthObservation['transition'];
  if (prev?.ready !== undefined && ready !== undefined && ready !== prev.ready) {
    if (ready === 'True') transition = 'NodeReady';
    else if (prev.ready === 'True') transition = 'NodeNotReady';
  }
  return {
    health: {
      probeMs,
      // What we wrote is what we will read back: our own write is no sign of life.
      heartbeat: effective.find((c) => c.type === 'Ready')?.lastHeartbeatTime,
      leaseRenewMs: leaseRenewMs ?? prev?.leaseRenewMs,
      ready,
      notReadySinceMs: ready === 'True' ? undefined : (prev?.notReadySinceMs ?? nowMs),
    },
    conditions: written,
    ready,
    transition,
  };
}

// ---------------------------------------------------------------------------------------------------
// Zones and rate limits

export type ZoneState = 'Normal' | 'PartialDisruption' | 'FullDisruption';

/** Upstream's zone key: region and zone labels (empty when unset: one zone for unlabelled nodes). */
export function zoneOf(node: KubeObject): string {
  const labels = node.metadata.labels ?? {};
  const region = labels[regionLabel] ?? labels['failure-domain.beta.kubernetes.io/region'] ?? '';
  const zone = labels[zoneLabel] ?? labels['failure-domain.beta.kubernetes.io/zone'] ?? '';
  return region === '' && zone === '' ? '' : `${region}:\u0000:${zone}`;
}

/** A readable zone name for logs. */
export function zoneName(key: string): string {
  if (key === '') return '(no zone)';
  const [region, zone] = key.split(':\u0000:');
  return region === '' ? (zone ?? '') : `${region}/${zone ?? ''}`;
}

/**
 * FullDisruption: no node ready; PartialDisruption: more than 2 nodes and at least `threshold` of
 * them not ready; else Normal. A node without a Ready condition counts as not ready.
 */
export function computeZoneState(
  readies: readonly (ConditionStatus | undefined)[],
  threshold: number,
): ZoneState {
  const ready = readies.filter((r) => r === 'True').length;
  const notReady = readies.length - ready;
  if (ready === 0 && notReady > 0) return 'FullDisruption';
  if (notReady > 2 && notReady / readies.length >= threshold) return 'PartialDisruption';
  return 'Normal';
}

/** Nodes per second that may be tainted NoExecute in a zone. */
export function zoneEvictionRate(
  state: ZoneState,
  zoneSize: number,
  allDisrupted: boolean,
  settings: Pick<NodeLifecycleSettings, 'evictionRate' | 'secondaryEvictionRate' | 'largeClusterThreshold'>,
): number {
  if (allDisrupted) return 0;
  switch (state) {
    case 'Normal':
    case 'FullDisruption': // other zones are healthy: this zone really lost its nodes
      return settings.evictionRate;
    case 'PartialDisruption':
      return zoneSize > settings.largeClusterThreshold ? settings.secondaryEvictionRate : 0;
  }
}

/** A token bucket of burst 1 (upstream's eviction limiter). */
export interface TokenBucket {
  tokens: number;
  atMs: number;
  rate: number;
}

export function newBucket(rate: number, nowMs: number): TokenBucket {
  return { tokens: 1, atMs: nowMs, rate };
}

/** Refill to `nowMs` at the bucket's rate, then switch to `rate` (keeping the tokens, like SwapLimiter). */
export function refillBucket(bucket: TokenBucket, rate: number, nowMs: number): TokenBucket {
  const elapsed = Math.max(0, nowMs - bucket.atMs);
  const tokens = Math.min(1, bucket.tokens + (elapsed / 1000) * bucket.rate);
  return { tokens, atMs: nowMs, rate };
}

/** Take a token if there is one. */
export function takeToken(bucket: TokenBucket): { bucket: TokenBucket; taken: boolean } {
  if (bucket.rate > 0 && bucket.tokens >= 1)
    return { bucket: { ...bucket, tokens: bucket.tokens - 1 }, taken: true };
  return { bucket, taken: false };
}

/** Milliseconds until the bucket holds a token; undefined when it never will (rate 0). */
export function msUntilToken(bucket: TokenBucket): number | undefined {
  if (bucket.rate <= 0) return undefined;
  return Math.max(0, Math.ceil(((1 - bucket.tokens) / bucket.rate) * 1000));
}

// ---------------------------------------------------------------------------------------------------
// Taints

function isManagedNoSchedule(t: Taint): boolean {
  return (
    t.effect === 'NoSchedule' &&
    [
      notReadyTaintKey,
      unreachableTaintKey,
      unschedulableTaintKey,
      memoryPressureTaintKey,
      diskPressureTaintKey,
      pidPressureTaintKey,
      networkUnavailableTaintKey,
    ].includes(t.key)
  );
}

function isManagedNoExecute(t: Taint): boolean {
  return t.effect === 'NoExecute' && (t.key === notReadyTaintKey || t.key === unreachableTaintKey);
}

/** The NoSchedule taints conditions and spec.unschedulable call for (upstream TaintNodesByCondition). */
export function noScheduleTaintsFor(conditions: readonly NodeCondition[], unschedulable: boolean): Taint[] {
  const out: Taint[] = [];
  const statusOf = (type: string): string | undefined => conditions.find((c) => c.type === type)?.status;
  const ready = statusOf('Ready');
  if (ready === 'False') out.push({ key: notReadyTaintKey, effect: 'NoSchedule' });
  else if (ready !== undefined && ready !== 'True')
    out.push({ key: unreachableTaintKey, effect: 'NoSchedule' });
  if (statusOf('MemoryPressure') === 'True') out.push({ key: memoryPressureTaintKey, effect: 'NoSchedule' });
  if (statusOf('DiskPressure') === 'True') out.push({ key: diskPressureTaintKey, effect: 'NoSchedule' });
  if (statusOf('PIDPressure') === 'True') out.push({ key: pidPressureTaintKey, effect: 'NoSchedule' });
  if (statusOf('NetworkUnavailable') === 'True')
    out.push({ key: networkUnavailableTaintKey, effect: 'NoSchedule' });
  if (unschedulable) out.push({ key: unschedulableTaintKey, effect: 'NoSchedule' });
  return out;
}

/** The NoExecute taint key Ready calls for: not-ready when False, unreachable when Unknown. */
export function noExecuteKeyFor(ready: ConditionStatus | undefined): string | undefined {
  if (ready === 'False') return notReadyTaintKey;
  if (ready === 'Unknown') return unreachableTaintKey;
  return undefined;
}

/**
 * The node's taints with the managed ones made to match: `noSchedule` exactly, and at most the one
 * NoExecute taint `noExecute` (undefined: none). Taints we keep keep their place and timeAdded; others'
 * taints are untouched. Undefined when nothing changes.
 */
export function withManagedTaints(
  current: readonly Taint[],
  noSchedule: readonly Taint[],
  noExecute: string | undefined,
  nowMs: number,
): Taint[] | undefined {
  const wanted = (t: Taint): boolean =>
    isManagedNoSchedule(t)
      ? noSchedule.some((w) => w.key === t.key)
      : isManagedNoExecute(t)
        ? t.key === noExecute
        : true;
  const kept = current.filter(wanted);
  const has = (key: string, effect: string): boolean =>
    kept.some((t) => t.key === key && t.effect === effect);
  const added: Taint[] = [];
  for (const w of noSchedule) if (!has(w.key, 'NoSchedule')) added.push({ key: w.key, effect: 'NoSchedule' });
  if (noExecute !== undefined && !has(noExecute, 'NoExecute'))
    added.push({ key: noExecute, effect: 'NoExecute', timeAdded: kubeTime(nowMs) });
  if (added.length === 0 && kept.length === current.length) return undefined;
  return [...kept, ...added];
}

// ---------------------------------------------------------------------------------------------------
// The node pass

export interface ZoneMemory {
  state: ZoneState;
  bucket: TokenBucket;
}

/** What the controller carries from one node pass to the next. */
export interface NodeLifecycleMemory {
  health: ReadonlyMap<string, NodeHealth>;
  zones: ReadonlyMap<string, ZoneMemory>;
  /** Every zone was in FullDisruption at the last pass: evictions stopped. */
  allDisrupted: boolean;
}

export function emptyMemory(): NodeLifecycleMemory {
  return { health: new Map(), zones: new Map(), allDisrupted: false };
}

export interface NodeAction {
  name: string;
  /** The Node with its new status, for PUT nodes/{name}/status. */
  status?: KubeObject;
  /** The new spec.taints (write after `status`, with the resourceVersion that write returned). */
  taints?: Taint[];
}

export interface NodeEvent {
  node: KubeObject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface NodePassResult {
  memory: NodeLifecycleMemory;
  actions: NodeAction[];
  events: NodeEvent[];
  /** Zone state changes and disruption mode changes, for the log. */
  notices: string[];
  /** Nodes whose pods need a look: Ready not True, or a NoExecute taint present or being added. */
  unhealthy: string[];
  /** Nodes waiting for a NoExecute taint the rate limit holds back. */
  waiting: string[];
  /** Run the next pass no later than this many ms from now (a token comes); undefined: the usual period. */
  nextPassInMs: number | undefined;
}

export interface NodePassInput {
  nodes: readonly KubeObject[];
  /** Leases in kube-node-lease, by name (= node name). */
  leases: ReadonlyMap<string, KubeObject>;
  memory: NodeLifecycleMemory;
  nowMs: number;
  settings: NodeLifecycleSettings;
}

interface Observed {
  node: KubeObject;
  name: string;
  zone: string;
  obs: HealthObservation;
  conditions: NodeCondition[];
}

/** One monitor pass over every node. Pure. */
export function reconcileNodes(input: NodePassInput): NodePassResult {
  const { nowMs, settings } = input;
  const health = new Map<string, NodeHealth>();
  const events: NodeEvent[] = [];
  const notices: string[] = [];
  const observed: Observed[] = [];
  const sorted = [...input.nodes]
    .filter((n) => (n.metadata.name ?? '') !== '')
    .sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));

  for (const node of sorted) {
    const name = node.metadata.name ?? '';
    const obs = observeNodeHealth(
      input.memory.health.get(name),
      node,
      input.leases.get(name),
      nowMs,
      settings,
    );
    observed.push({
      node,
      name,
      zone: zoneOf(node),
      obs,
      conditions: obs.conditions ?? nodeConditions(node),
    });
    if (obs.transition !== undefined)
      events.push({
        node,
        type: 'Normal',
        reason: obs.transition,
        message: `Node ${name} status is now: ${obs.transition}`,
      });
  }

  // Zone states from Ready after this pass's updates.
  const byZone = new Map<string, (ConditionStatus | undefined)[]>();
  for (const o of observed) {
    if (byZone.get(o.zone) === undefined) byZone.set(o.zone, []);
    if (o.node.metadata.labels?.[excludeDisruptionLabel] === undefined) byZone.get(o.zone)?.push(o.obs.ready);
  }
  const states = new Map<string, ZoneState>();
  for (const [zone, readies] of byZone)
    states.set(
      zone,
      readies.length === 0 ? 'Normal' : computeZoneState(readies, settings.unhealthyZoneThreshold),
    );
  const counted = [...byZone.values()].some((r) => r.length > 0);
  const allDisrupted =
    counted &&
    [...states.entries()].every(([z, s]) => s === 'FullDisruption' || (byZone.get(z) ?? []).length === 0);
  if (allDisrupted && !input.memory.allDisrupted)
    notices.push('all nodes are not ready: entering master disruption mode, evictions stopped');
  if (!allDisrupted && input.memory.allDisrupted) {
    notices.push('some nodes are ready again: leaving master disruption mode');
    // Fresh grace for everyone: the silence may have been ours, not theirs.
    for (const o of observed) o.obs = { ...o.obs, health: { ...o.obs.health, probeMs: nowMs } };
  }

  const zones = new Map<string, ZoneMemory>();
  for (const [zone, state] of states) {
    const prev = input.memory.zones.get(zone);
    const rate = zoneEvictionRate(state, (byZone.get(zone) ?? []).length, allDisrupted, settings);
    const bucket = prev === undefined ? newBucket(rate, nowMs) : refillBucket(prev.bucket, rate, nowMs);
    if (prev !== undefined && prev.state !== state && !allDisrupted)
      notices.push(`zone ${zoneName(zone)} is now in state ${state}`);
    zones.set(zone, { state, bucket });
  }

  // NoExecute: swap or remove at once; a new taint waits for its zone's token, oldest failure first.
  const noExecute = new Map<string, string | undefined>();
  const candidates: Observed[] = [];
  for (const o of observed) {
    const want = allDisrupted ? undefined : noExecuteKeyFor(o.obs.ready);
    const current = nodeTaints(o.node).filter(isManagedNoExecute);
    if (want === undefined || current.length > 0) noExecute.set(o.name, want);
    else candidates.push(o);
  }
  candidates.sort(
    (a, b) =>
      (a.obs.health.notReadySinceMs ?? nowMs) - (b.obs.health.notReadySinceMs ?? nowMs) ||
      (a.name < b.name ? -1 : 1),
  );
  const waiting: string[] = [];
  let nextPassInMs: number | undefined;
  for (const o of candidates) {
    const zone = zones.get(o.zone);
    if (zone === undefined) continue;
    const { bucket, taken } = takeToken(zone.bucket);
    zone.bucket = bucket;
    if (taken) {
      noExecute.set(o.name, noExecuteKeyFor(o.obs.ready));
      continue;
    }
    noExecute.set(o.name, undefined);
    waiting.push(o.name);
    const wait = msUntilToken(bucket);
    if (wait !== undefined) nextPassInMs = Math.min(nextPassInMs ?? wait, wait);
  }

  const actions: NodeAction[] = [];
  const unhealthy: string[] = [];
  for (const o of observed) {
    health.set(o.name, o.obs.health);
    const unschedulable = spec(o.node).unschedulable === true;
    const noExecuteKey = noExecute.get(o.name);
    const taints = withManagedTaints(
      nodeTaints(o.node),
      noScheduleTaintsFor(o.conditions, unschedulable),
      noExecuteKey,
      nowMs,
    );
    if (o.obs.conditions !== undefined || taints !== undefined) {
      const action: NodeAction = { name: o.name };
      if (o.obs.conditions !== undefined)
        action.status = { ...o.node, status: { ...status(o.node), conditions: o.obs.conditions } };
      if (taints !== undefined) action.taints = taints;
      actions.push(action);
    }
    const finalTaints = taints ?? nodeTaints(o.node);
    if (o.obs.ready !== 'True' || finalTaints.some((t) => t.effect === 'NoExecute')) unhealthy.push(o.name);
  }
  return {
    memory: { health, zones, allDisrupted },
    actions,
    events,
    notices,
    unhealthy,
    waiting,
    nextPassInMs,
  };
}

// ---------------------------------------------------------------------------------------------------
// Pods: taint-based eviction and MarkPodsNotReady

/** Upstream Toleration.ToleratesTaint. */
export function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect !== undefined && toleration.effect !== '' && toleration.effect !== taint.effect)
    return false;
  const key = toleration.key ?? '';
  if (key !== '' && key !== taint.key) return false;
  const op = toleration.operator ?? 'Equal';
  if (op === 'Exists') return true;
  if (op === 'Equal' || op === '') return (toleration.value ?? '') === (taint.value ?? '');
  return false;
}

/** A NoExecute taint with the time it counts from (its timeAdded, or when the controller first saw it). */
export interface TimedTaint {
  taint: Taint;
  sinceMs: number;
}

export type EvictionPlan =
  /** No NoExecute taint on the node. */
  | { type: 'none' }
  /** Every NoExecute taint is tolerated without a time limit. */
  | { type: 'tolerated' }
  | { type: 'now'; taint: Taint }
  | { type: 'at'; atMs: number; taint: Taint };

/**
 * When must a pod go? Each taint is matched with the pod's first toleration that tolerates it (as
 * upstream); an untolerated taint evicts now; otherwise the pod goes at the earliest
 * `sinceMs + tolerationSeconds` over the taints (tolerations without tolerationSeconds: never).
 */
export function planEviction(
  tolerations: readonly Toleration[],
  taints: readonly TimedTaint[],
  nowMs: number,
): EvictionPlan {
  if (taints.length === 0) return { type: 'none' };
  let earliest: { atMs: number; taint: Taint } | undefined;
  for (const t of taints) {
    const match = tolerations.find((tol) => toleratesTaint(tol, t.taint));
    if (match === undefined) return { type: 'now', taint: t.taint };
    const seconds = match.tolerationSeconds;
    if (typeof seconds !== 'number') continue;
    const atMs = seconds <= 0 ? nowMs : t.sinceMs + seconds * 1000;
    if (earliest === undefined || atMs < earliest.atMs) earliest = { atMs, taint: t.taint };
  }
  if (earliest === undefined) return { type: 'tolerated' };
  if (earliest.atMs <= nowMs) return { type: 'now', taint: earliest.taint };
  return { type: 'at', atMs: earliest.atMs, taint: earliest.taint };
}

interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
}

function podConditions(pod: KubeObject): PodCondition[] {
  const list = status(pod).conditions;
  return Array.isArray(list)
    ? list.filter(
        (c): c is PodCondition => isObject(c) && typeof c.type === 'string' && typeof c.status === 'string',
      )
    : [];
}

export interface PodPlan {
  /** The pod with its new status, for PUT pods/{name}/status; undefined: no status change. */
  status: KubeObject | undefined;
  /** The Ready condition was set to False (its node is not ready). */
  markedNotReady: boolean;
  eviction: EvictionPlan;
}

export interface PodInput {
  pod: KubeObject;
  /** Ready of the pod's node. */
  nodeReady: ConditionStatus | undefined;
  /** The node's NoExecute taints with their start times. */
  noExecuteTaints: readonly TimedTaint[];
  nowMs: number;
}

/**
 * What to do with one pod bound to a node: mark it not ready when the node is not ready (so Services
 * stop sending to it), and decide its taint-based eviction. When it is to go now, the status carries
 * the DisruptionTarget condition upstream adds before deleting. Pods already being deleted, or not
 * bound, are left alone.
 */
export function reconcilePod(input: PodInput): PodPlan {
  const { pod, nowMs } = input;
  const none: PodPlan = { status: undefined, markedNotReady: false, eviction: { type: 'none' } };
  if (pod.metadata.deletionTimestamp !== undefined) return none;
  if (typeof spec(pod).nodeName !== 'string' || spec(pod).nodeName === '') return none;
  const eviction = planEviction(podTolerations(pod), input.noExecuteTaints, nowMs);
  const conditions = podConditions(pod).map((c) => ({ ...c }));
  let changed = false;
  let markedNotReady = false;
  const phase = status(pod).phase;
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  if (input.nodeReady !== 'True' && input.nodeReady !== undefined && !terminal) {
    const ready = conditions.find((c) => c.type === 'Ready');
    if (ready !== undefined && ready.status !== 'False') {
      ready.status = 'False';
      ready.lastTransitionTime = kubeTime(nowMs);
      changed = true;
      markedNotReady = true;
    }
  }
  if (eviction.type === 'now') {
    const existing = conditions.find((c) => c.type === 'DisruptionTarget');
    const target: PodCondition = {
      type: 'DisruptionTarget',
      status: 'True',
      reason: 'DeletionByTaintManager',
      message: 'Taint manager: deleting due to NoExecute taint',
      lastTransitionTime: kubeTime(nowMs),
    };
    if (existing === undefined) {
      conditions.push(target);
      changed = true;
    } else if (existing.status !== 'True') {
      Object.assign(existing, target);
      changed = true;
    }
  }
  return {
    status: changed ? { ...pod, status: { ...status(pod), conditions } } : undefined,
    markedNotReady,
    eviction,
  };
}
