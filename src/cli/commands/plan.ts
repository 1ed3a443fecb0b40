// `flotilla plan -f FILE`: where the scheduler would put the pods a manifest creates, without changing
// anything. Reads Pods, ReplicaSets and Deployments (replicas expand into that many pods from the
// template), lists the live nodes and pods, and runs the scheduler core over a private snapshot, pod
// after pod in manifest order, each placed pod taking its room before the next is tried.
//
// Rules (kept simple on purpose):
// - The manifest's pods are added to the pods already running. When the object already exists
//   (same kind, namespace and name), its current pods are taken out of the snapshot first, as if the
//   object were replaced: a Pod itself; the pods a ReplicaSet owns; the pods of a Deployment's ReplicaSets.
// - A pod with spec.nodeName set is not scheduled; it simply lands on that node.
// - Pods for another scheduler (spec.schedulerName) are listed as skipped.
// - When a pod fits only by preempting lower-priority pods, the victims leave the snapshot, the pod is
//   placed, and the victims are listed under "would preempt".
// - The scheduler breaks ties between equally good nodes at random; so does a real run, so the plan may
//   name a different but equally scored node.
// Exit codes: 0 every pod fits, 2 some would stay Pending, 1 errors (bad manifest, no connection).
import type { Command } from 'commander';
import { isApiError } from '../../api/errors.js';
import { kindHandlerFor } from '../../api/kinds/index.js';
import type { KubeObject } from '../../api/types.js';
import { profileFromFlags, isSchedulerConfigError, scoringStrategies } from '../../scheduler/config.js';
import { schedulePod, SchedulerCache, type SchedulerProfile } from '../../scheduler/core.js';
import { CliError, alreadyReported, failed, usageError } from '../io.js';
import { formatProblem, loadManifests } from '../manifest.js';
import { toJson, toYaml } from '../printers/output.js';
import { formatTable } from '../printers/table.js';
import type { Session } from '../session.js';
import { assignNamespaces } from './apply.js';
import { collect } from './common.js';

export interface PlanOptions {
  filename: string[];
  recursive?: boolean;
  output?: string;
  schedulerScoring?: string;
  schedulerConfig?: string;
}

export interface PlanVictim {
  namespace: string;
  name: string;
  nodeName: string;
  /** The planned pod it makes room for. */
  preemptor: string;
}

export interface PlannedPod {
  namespace: string;
  name: string;
  /** The manifest object it comes from. */
  owner: { kind: string; name: string };
  /** Where it lands; null when it would stay Pending (or another scheduler places it). */
  nodeName: string | null;
  fits: boolean;
  /** Why it does not fit (the scheduler's FailedScheduling message), or why it was skipped. */
  message?: string;
  /** reason -> number of nodes, when it does not fit. */
  reasons?: Record<string, number>;
  /** Pods it would preempt to fit. */
  preempts?: { namespace: string; name: string }[];
  /** Set for pods with spec.nodeName ("fixed") or for another scheduler ("skipped"). */
  note?: 'fixed' | 'skipped';
}

export interface PlanResult {
  pods: PlannedPod[];
  /** Existing pods taken out of the snapshot because the manifest replaces their object. */
  replaced: { namespace: string; name: string }[];
  preemptions: PlanVictim[];
  summary: { pods: number; scheduled: number; pending: number; skipped: number };
}

export interface PlanInput {
  /** Live nodes. */
  nodes: KubeObject[];
  /** Live pods, all namespaces. */
  pods: KubeObject[];
  /** Live ReplicaSets, to find the pods of an existing Deployment. */
  replicaSets: KubeObject[];
  /** Manifest objects, namespaces assigned; kinds other than Pod, ReplicaSet and Deployment are ignored. */
  objects: KubeObject[];
  /** Live copies of manifest objects that exist, keyed by `objectId`. */
  existing: ReadonlyMap<string, KubeObject>;
  /** PriorityClasses, to give each pod its `spec.priority` as admission would (none: priority 0). */
  priorityClasses?: KubeObject[];
  profile: SchedulerProfile;
  random?: () => number;
}

const workloadKinds = new Set(['v1/Pod', 'apps/v1/ReplicaSet', 'apps/v1/Deployment']);

/** `Kind/namespace/name`. */
export function objectId(obj: Pick<KubeObject, 'kind' | 'metadata'>): string {
  return `${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
}

export function isWorkload(obj: Pick<KubeObject, 'apiVersion' | 'kind'>): boolean {
  return workloadKinds.has(`${obj.apiVersion}/${obj.kind}`);
}

function ownedBy(obj: KubeObject, uid: string | undefined): boolean {
  if (uid === undefined) return false;
  const refs = obj.metadata.ownerReferences;
  return Array.isArray(refs) && refs.some((r) => r.uid === uid);
}

function isBound(pod: KubeObject): boolean {
  const n = (pod.spec as { nodeName?: unknown } | undefined)?.nodeName;
  return typeof n === 'string' && n !== '';
}

function isTerminal(pod: KubeObject): boolean {
  const phase = (pod.status as { phase?: unknown } | undefined)?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** The pods a manifest object would create, defaulted as the API server would. */
function podsOf(obj: KubeObject, nextUid: () => string): KubeObject[] {
  const podHandler = kindHandlerFor('v1', 'Pod');
  const finish = (pod: KubeObject): KubeObject => {
    pod.metadata.uid = nextUid();
    podHandler?.defaults(pod);
    return pod;
  };
  const ns = obj.metadata.namespace ?? 'default';
  const name = obj.metadata.name ?? '';
  if (obj.kind === 'Pod') {
    const pod = clone(obj);
    delete pod.status;
    return [finish(pod)];
  }
  const spec = (obj.spec ?? {}) as {
    replicas?: unknown;
    template?: { metadata?: KubeObject['metadata']; spec?: unknown };
  };
  const replicas = typeof spec.replicas === 'number' ? spec.replicas : 1;
  const template = spec.template ?? {};
  const out: KubeObject[] = [];
  for (let i = 1; i <= replicas; i++) {
    const meta = clone(template.metadata ?? {});
    out.push(
      finish({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          ...(meta.labels === undefined ? {} : { labels: meta.labels }),
          ...(meta.annotations === undefined ? {} : { annotations: meta.annotations }),
          name: `${name}-${i}`,
          namespace: ns,
        },
        spec: clone(template.spec ?? {}),
      }),
    );
  }
  return out;
}

/**
 * `spec.priority` as the Priority admission plugin sets it: the named class's value, else the
 * globalDefault class's, else 0. An unknown class name is returned as an error message.
 */
export function resolvePriority(pod: KubeObject, classes: readonly KubeObject[]): string | undefined {
  const spec = (pod.spec ?? {}) as Record<string, unknown>;
  const className = typeof spec['priorityClassName'] === 'string' ? spec['priorityClassName'] : '';
  const valueOf = (c: KubeObject): number => (typeof c['value'] === 'number' ? c['value'] : 0);
  if (className !== '') {
    const cls = classes.find((c) => c.metadata.name === className);
    if (cls === undefined) return `no PriorityClass with name ${className} was found`;
    spec['priority'] = valueOf(cls);
    return undefined;
  }
  const global = classes.find((c) => c['globalDefault'] === true);
  spec['priority'] = global === undefined ? 0 : valueOf(global);
  return undefined;
}

function nameOf(pod: KubeObject): string {
  return `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
}

/** Run the scheduler core over a snapshot: pure, no I/O. */
export function planPods(input: PlanInput): PlanResult {
  const random = input.random ?? Math.random;
  const cache = new SchedulerCache();
  for (const n of input.nodes) cache.upsertNode(n);

  // Existing objects the manifest replaces: their pods leave the snapshot.
  const replacedUids = new Set<string>();
  for (const obj of input.objects) {
    if (!isWorkload(obj)) continue;
    const live = input.existing.get(objectId(obj));
    if (live === undefined) continue;
    const uid = live.metadata.uid;
    if (obj.kind === 'Pod') {
      if (uid !== undefined) replacedUids.add(uid);
      continue;
    }
    const owners = new Set<string>();
    if (uid !== undefined) owners.add(uid);
    if (obj.kind === 'Deployment') {
      for (const rs of input.replicaSets)
        if (ownedBy(rs, uid) && rs.metadata.uid !== undefined) owners.add(rs.metadata.uid);
    }
    for (const p of input.pods)
      if (p.metadata.uid !== undefined && [...owners].some((o) => ownedBy(p, o)))
        replacedUids.add(p.metadata.uid);
  }
  const replaced: PlanResult['replaced'] = [];
  for (const p of input.pods) {
    if (p.metadata.uid !== undefined && replacedUids.has(p.metadata.uid)) {
      replaced.push({ namespace: p.metadata.namespace ?? '', name: p.metadata.name ?? '' });
      continue;
    }
    if (isBound(p) && !isTerminal(p)) cache.upsertPod(p);
  }

  let seq = 0;
  const nextUid = (): string => `plan-${++seq}`;
  const planned: PlannedPod[] = [];
  const byUid = new Map<string, PlannedPod>();
  const preemptions: PlanVictim[] = [];
  for (const obj of input.objects) {
    if (!isWorkload(obj)) continue;
    for (const pod of podsOf(obj, nextUid)) {
      const entry: PlannedPod = {
        namespace: pod.metadata.namespace ?? '',
        name: pod.metadata.name ?? '',
        owner: { kind: obj.kind, name: obj.metadata.name ?? '' },
        nodeName: null,
        fits: false,
      };
      planned.push(entry);
      byUid.set(pod.metadata.uid ?? '', entry);
      const priorityProblem = resolvePriority(pod, input.priorityClasses ?? []);
      if (priorityProblem !== undefined) {
        // The API server would refuse to create this pod.
        entry.message = priorityProblem;
        continue;
      }
      const spec = (pod.spec ?? {}) as { nodeName?: unknown; schedulerName?: unknown };
      if (typeof spec.nodeName === 'string' && spec.nodeName !== '') {
        entry.nodeName = spec.nodeName;
        entry.fits = true;
        entry.note = 'fixed';
        cache.upsertPod(pod);
        continue;
      }
      if (
        typeof spec.schedulerName === 'string' &&
        spec.schedulerName !== '' &&
        spec.schedulerName !== input.profile.schedulerName
      ) {
        entry.note = 'skipped';
        entry.message = `for scheduler "${spec.schedulerName}", not ${input.profile.schedulerName}: not planned`;
        continue;
      }
      let result = schedulePod(pod, cache, input.profile, random);
      if (result.kind === 'Unschedulable' && result.preemption !== undefined) {
        const { nodeName, victims } = result.preemption;
        const first = result;
        for (const v of victims) {
          cache.removePod(v);
          preemptions.push({
            namespace: v.metadata.namespace ?? '',
            name: v.metadata.name ?? '',
            nodeName,
            preemptor: nameOf(pod),
          });
          // A pod planned earlier in this run can be a victim too: it goes back to Pending.
          const earlier = byUid.get(v.metadata.uid ?? '');
          if (earlier !== undefined) {
            earlier.nodeName = null;
            earlier.fits = false;
            earlier.message = `preempted by ${nameOf(pod)} on node ${nodeName}`;
          }
        }
        entry.preempts = victims.map((v) => ({
          namespace: v.metadata.namespace ?? '',
          name: v.metadata.name ?? '',
        }));
        result = schedulePod(pod, cache, input.profile, random);
        if (result.kind === 'Unschedulable') result = first;
      }
      if (result.kind === 'Scheduled') {
        cache.assume(pod, result.nodeName);
        entry.nodeName = result.nodeName;
        entry.fits = true;
      } else {
        entry.message = result.message;
        entry.reasons = result.reasons;
      }
    }
  }
  const skipped = planned.filter((p) => p.note === 'skipped').length;
  const scheduled = planned.filter((p) => p.fits).length;
  return {
    pods: planned,
    replaced,
    preemptions,
    summary: { pods: planned.length, scheduled, pending: planned.length - scheduled - skipped, skipped },
  };
}

/** The table `flotilla plan` prints. */
export function formatPlanTable(plan: PlanResult): string {
  const multiNs = new Set(plan.pods.map((p) => p.namespace)).size > 1;
  const head = [...(multiNs ? ['NAMESPACE'] : []), 'POD', 'NODE', 'REASON'];
  const rows = plan.pods.map((p) => {
    let reason = p.message ?? '';
    if (p.note === 'fixed') reason = 'spec.nodeName set';
    if (p.preempts !== undefined && p.fits)
      reason = `after preempting ${p.preempts.length} pod${p.preempts.length === 1 ? '' : 's'}`;
    return [...(multiNs ? [p.namespace] : []), p.name, p.nodeName ?? '-', reason];
  });
  let out = plan.pods.length === 0 ? '' : formatTable([head, ...rows]);
  if (plan.preemptions.length > 0) {
    out += `\nWould preempt:\n`;
    out += formatTable([
      ['NAMESPACE', 'POD', 'NODE', 'FOR'],
      ...plan.preemptions.map((v) => [v.namespace, v.name, v.nodeName, v.preemptor]),
    ]);
  }
  if (plan.replaced.length > 0) {
    out += `\nReplaced (existing pods of objects in the manifest, left out of the plan):\n`;
    out += plan.replaced.map((r) => `  ${r.namespace}/${r.name}\n`).join('');
  }
  const s = plan.summary;
  const skipped = s.skipped > 0 ? `, ${s.skipped} for another scheduler` : '';
  out += `\n${s.scheduled} of ${s.pods} pod${s.pods === 1 ? '' : 's'} fit${skipped}; ${s.pending} would stay Pending.\n`;
  return out;
}

export async function runPlan(session: Session, opts: PlanOptions): Promise<void> {
  const io = session.io;
  const output = opts.output ?? 'table';
  if (!['table', 'json', 'yaml'].includes(output))
    throw usageError(
      `unable to match a printer suitable for the output format "${output}", allowed formats are: table,json,yaml`,
    );
  if (opts.filename.length === 0)
    throw usageError('must give -f FILE (a manifest with Pods, ReplicaSets or Deployments)');
  let profile: SchedulerProfile;
  try {
    profile = await profileFromFlags({ scoring: opts.schedulerScoring, configFile: opts.schedulerConfig });
  } catch (err) {
    if (isSchedulerConfigError(err)) throw usageError(err.message);
    throw err;
  }

  const set = await loadManifests(opts.filename, {
    recursive: opts.recursive === true,
    cwd: io.cwd,
    readStdin: io.readStdin,
  });
  set.problems.push(...assignNamespaces(set.objects, session.explicitNamespace, await session.namespace()));
  if (set.problems.length > 0) {
    for (const p of set.problems) io.stderr.write(`error: ${formatProblem(p)}\n`);
    throw alreadyReported();
  }
  const objects = set.objects.map((m) => m.object);
  if (!objects.some(isWorkload)) throw failed('no Pods, ReplicaSets or Deployments in the manifest');

  const client = await session.client();
  const [nodes, pods, replicaSets, priorityClasses] = await Promise.all([
    client.list({ apiVersion: 'v1', kind: 'Node' }, undefined),
    client.list({ apiVersion: 'v1', kind: 'Pod' }, undefined),
    client.list({ apiVersion: 'apps/v1', kind: 'ReplicaSet' }, undefined),
    client
      .list({ apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass' }, undefined)
      .then((l) => l.items)
      .catch((err: unknown) => {
        // A server without PriorityClasses: every pod has priority 0.
        if (isApiError(err) && err.reason === 'NotFound') return [];
        throw err;
      }),
  ]);
  const existing = new Map<string, KubeObject>();
  for (const obj of objects.filter(isWorkload)) {
    try {
      const live = await client.get(obj, obj.metadata.namespace, obj.metadata.name ?? '');
      existing.set(objectId(obj), live);
    } catch (err) {
      if (!(isApiError(err) && err.reason === 'NotFound')) throw err;
    }
  }
  const plan = planPods({
    nodes: nodes.items,
    pods: pods.items,
    replicaSets: replicaSets.items,
    objects,
    existing,
    priorityClasses,
    profile,
  });
  const doc = {
    kind: 'SchedulingPlan',
    schedulerName: profile.schedulerName,
    scoringStrategy: profile.scoringStrategy,
    ...plan,
  };
  if (output === 'json') io.stdout.write(toJson(doc));
  else if (output === 'yaml') io.stdout.write(toYaml(doc));
  else io.stdout.write(formatPlanTable(plan));
  if (plan.summary.pending > 0) throw new CliError('Failed', '', { reported: true, exitCode: 2 });
}

export function registerPlan(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('plan')
    .description('show where the scheduler would put the pods of a manifest (changes nothing)')
    .option(
      '-f, --filename <path>',
      'file, directory or - (stdin) with Pods, ReplicaSets or Deployments; repeatable',
      collect,
      [],
    )
    .option('-R, --recursive', 'process directories given with -f recursively')
    .option('-o, --output <format>', 'table (default), json or yaml')
    .option(
      '--scheduler-scoring <strategy>',
      `plan with this scoring strategy (${scoringStrategies.join(', ')}); use what the server runs with`,
    )
    .option('--scheduler-config <file>', 'plan with this scheduler profile file (as the server flag)')
    .addHelpText(
      'after',
      `
Examples:
  flotilla plan -f app.yaml
  flotilla plan -f app.yaml -o json
  flotilla plan -f k8s/ -R --scheduler-scoring MostAllocated

Replicas of a Deployment or ReplicaSet become that many pods from the template. The pods are added
to those already running; an object that already exists has its current pods left out, as if replaced.
Ties between equally good nodes are broken at random, by the plan as by the scheduler.
Exit status: 0 when every pod fits, 2 when some would stay Pending, 1 on errors.`,
    )
    .action(async (opts: PlanOptions, cmd: Command) => runPlan(session(cmd), opts));
}
