// Admission decisions the API server makes on pods and priority classes, as kube-apiserver's Priority and
// DefaultTolerationSeconds plugins do. Pure: the caller looks the priority classes up and passes them in.
import { ApiError, errors } from '../api/errors.js';
import type { KubeObject } from '../api/types.js';
import { asArr, asObj, asStr, ensureObj, type Obj } from '../api/validation/access.js';

/** What admission needs of a PriorityClass. */
export interface PriorityClassView {
  name: string;
  value: number;
  globalDefault: boolean;
  preemptionPolicy: string | undefined;
}

export function priorityClassView(obj: KubeObject): PriorityClassView {
  const value = obj['value'];
  return {
    name: obj.metadata.name ?? '',
    value: typeof value === 'number' ? value : 0,
    globalDefault: obj['globalDefault'] === true,
    preemptionPolicy: asStr(obj['preemptionPolicy']),
  };
}

/**
 * The class a pod without priorityClassName gets: the globalDefault one (the lowest value if, through a
 * race, several are marked), or none.
 */
export function globalDefaultClass(classes: readonly PriorityClassView[]): PriorityClassView | undefined {
  let best: PriorityClassView | undefined;
  for (const c of classes) if (c.globalDefault && (best === undefined || c.value < best.value)) best = c;
  return best;
}

function podForbidden(pod: KubeObject, why: string): ApiError {
  return errors.forbidden(`pods "${pod.metadata.name ?? ''}" is forbidden: ${why}`);
}

/**
 * Priority on pod create: spec.priority (and spec.preemptionPolicy) from the named class, or from the
 * global default class (whose name is then written to spec.priorityClassName), else priority 0.
 * `named` is the class spec.priorityClassName names (undefined: no such class); `globalDefault` is used
 * when the pod names none. 403 for an unknown class, or a priority / preemptionPolicy the pod sets itself
 * that differs from the class's. Mutates `pod`.
 */
export function admitPodPriority(
  pod: KubeObject,
  named: PriorityClassView | undefined,
  globalDefault: PriorityClassView | undefined,
): void {
  const spec = ensureObj(pod, 'spec');
  const className = asStr(spec['priorityClassName']) ?? '';
  let cls: PriorityClassView | undefined;
  if (className === '') {
    cls = globalDefault;
    if (cls !== undefined) spec['priorityClassName'] = cls.name;
  } else {
    if (named === undefined || named.name !== className)
      throw podForbidden(pod, `no PriorityClass with name ${className} was found`);
    cls = named;
  }
  const priority = cls?.value ?? 0;
  const given = spec['priority'];
  if (given !== undefined && given !== null && given !== priority) {
    throw podForbidden(
      pod,
      `the integer value of priority (${JSON.stringify(given)}) must not be provided in pod spec; priority admission controller computed ${priority} from the given PriorityClass name`,
    );
  }
  spec['priority'] = priority;
  const policy = cls?.preemptionPolicy;
  if (policy !== undefined) {
    const givenPolicy = spec['preemptionPolicy'];
    if (givenPolicy !== undefined && givenPolicy !== null && givenPolicy !== '' && givenPolicy !== policy) {
      throw podForbidden(
        pod,
        `the string value of PreemptionPolicy (${typeof givenPolicy === 'string' ? givenPolicy : JSON.stringify(givenPolicy)}) must not be provided in pod spec; priority admission controller computed ${policy} from the given PriorityClass name`,
      );
    }
    spec['preemptionPolicy'] = policy;
  }
}

/**
 * Priority on pod update: what admission set at create is kept when the update leaves it out (a
 * `kubectl replace` of the original manifest), so the pod's spec does not appear to change.
 */
export function keepPodPriority(pod: KubeObject, old: KubeObject): void {
  const oldSpec = asObj(old.spec);
  const spec = asObj(pod.spec);
  if (oldSpec === undefined || spec === undefined) return;
  for (const f of ['priority', 'preemptionPolicy', 'priorityClassName'] as const) {
    if ((spec[f] === undefined || spec[f] === null || spec[f] === '') && oldSpec[f] !== undefined)
      spec[f] = oldSpec[f];
  }
}

export const notReadyTaintKey = 'node.kubernetes.io/not-ready';
export const unreachableTaintKey = 'node.kubernetes.io/unreachable';

/** Flotilla's default for both: faster failover than Kubernetes' 300 s. */
export const defaultTolerationSeconds = 10;

export interface TolerationSecondsOptions {
  notReadySeconds: number;
  unreachableSeconds: number;
}

/** Does the toleration tolerate NoExecute taints with `key` (an empty key or effect matches all)? */
function toleratesNoExecute(t: Obj, key: string): boolean {
  const k = asStr(t['key']) ?? '';
  const effect = asStr(t['effect']) ?? '';
  return (k === key || k === '') && (effect === 'NoExecute' || effect === '');
}

/**
 * DefaultTolerationSeconds: a pod that does not already tolerate the not-ready / unreachable NoExecute
 * taints gets a toleration for each, for the configured seconds; the node lifecycle controller evicts it
 * that long after its node stops answering. Mutates `pod`.
 */
export function addDefaultTolerations(pod: KubeObject, opts: TolerationSecondsOptions): void {
  const spec = ensureObj(pod, 'spec');
  const existing = spec['tolerations'];
  if (existing !== undefined && existing !== null && !Array.isArray(existing)) return; // validation reports it
  const tolerations = asArr(existing);
  const own = tolerations.map((t) => asObj(t)).filter((t): t is Obj => t !== undefined);
  const added: Obj[] = [];
  for (const [key, seconds] of [
    [notReadyTaintKey, opts.notReadySeconds],
    [unreachableTaintKey, opts.unreachableSeconds],
  ] as const) {
    if (own.some((t) => toleratesNoExecute(t, key))) continue;
    added.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds });
  }
  if (added.length > 0) spec['tolerations'] = [...tolerations, ...added];
}

/**
 * At most one PriorityClass may be the global default: 403 when `pc` is marked and another already is.
 * `others` are the stored classes (pc's own stored version included is fine: it is skipped by name).
 */
export function checkSingleGlobalDefault(pc: KubeObject, others: readonly PriorityClassView[]): void {
  if (pc['globalDefault'] !== true) return;
  const name = pc.metadata.name ?? '';
  const taken = others.find((c) => c.globalDefault && c.name !== name);
  if (taken !== undefined) {
    throw errors.forbidden(
      `priorityclasses.scheduling.k8s.io "${name}" is forbidden: PriorityClass ${taken.name} is already marked as default. Only one default can exist`,
    );
  }
}
