// Read-only views of a Pod object for the pod worker: containers by kind, restart policy, grace periods,
// back-off overrides. Pure: no node:* imports, no I/O (step.ts and status.ts build on it).

import type { KubeObject } from '../../api/types.js';
import { asArr, asNum, asObj, asStr, type Obj } from '../../api/validation/access.js';

export type ContainerKind = 'regular' | 'init';
export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** One container of the pod spec, as written in the pod (defaults applied by the API server). */
export interface PodContainer {
  name: string;
  kind: ContainerKind;
  image: string;
  spec: Obj;
}

export function podSpec(pod: KubeObject): Obj {
  return asObj(pod.spec) ?? {};
}

export function podStatusOf(pod: KubeObject): Obj {
  return asObj(pod.status) ?? {};
}

export function podUid(pod: KubeObject): string {
  return pod.metadata.uid ?? '';
}

export function podName(pod: KubeObject): string {
  return pod.metadata.name ?? '';
}

export function podNamespace(pod: KubeObject): string {
  return pod.metadata.namespace ?? 'default';
}

/** `name_namespace(uid)`, as the kubelet's format.Pod prints a pod in messages. */
export function podFullName(pod: KubeObject): string {
  return `${podName(pod)}_${podNamespace(pod)}(${podUid(pod)})`;
}

export function podContainers(pod: KubeObject, kind: ContainerKind): PodContainer[] {
  const list = asArr(podSpec(pod)[kind === 'init' ? 'initContainers' : 'containers']);
  const out: PodContainer[] = [];
  for (const item of list) {
    const spec = asObj(item);
    const name = asStr(spec?.['name']);
    if (spec === undefined || name === undefined) continue;
    out.push({ name, kind, image: asStr(spec['image']) ?? '', spec });
  }
  return out;
}

export function restartPolicy(pod: KubeObject): RestartPolicy {
  const p = asStr(podSpec(pod)['restartPolicy']);
  return p === 'OnFailure' || p === 'Never' ? p : 'Always';
}

export function isHostNetwork(pod: KubeObject): boolean {
  return podSpec(pod)['hostNetwork'] === true;
}

/** spec.terminationGracePeriodSeconds, default 30. */
export function terminationGraceSeconds(pod: KubeObject): number {
  const g = asNum(podSpec(pod)['terminationGracePeriodSeconds']);
  return g === undefined || g < 0 ? 30 : g;
}

/** The grace period of a pod being deleted: metadata.deletionGracePeriodSeconds, else the spec's. */
export function deletionGraceSeconds(pod: KubeObject): number {
  const g = pod.metadata.deletionGracePeriodSeconds;
  return typeof g === 'number' && g >= 0 ? g : terminationGraceSeconds(pod);
}

export function isTerminalPhase(phase: unknown): phase is 'Succeeded' | 'Failed' {
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Annotations overriding the restart back-off of one pod (documented in docs/design/agent-pod.md). */
export const restartBackoffInitialAnnotation = 'flotilla.dev/restart-backoff-initial';
export const restartBackoffMaxAnnotation = 'flotilla.dev/restart-backoff-max';

export const defaultRestartBackoff = { initialMs: 10_000, maxMs: 300_000 } as const;

/**
 * Parses a duration such as `10s`, `500ms`, `2m`, `1h`, `1m30s` or `1.5s` (Go's time.ParseDuration
 * units ns, us, ms, s, m, h). Undefined when malformed or negative.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  if (s === '0') return 0;
  const unitMs: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * (unitMs[m[2] ?? ''] ?? Number.NaN);
    pos = re.lastIndex;
  }
  if (pos !== s.length || !Number.isFinite(total)) return undefined;
  return total;
}

/** Restart back-off of a pod: 10 s doubling to 300 s unless its annotations say otherwise. */
export function restartBackoffPolicy(pod: KubeObject): { initialMs: number; maxMs: number } {
  const ann = pod.metadata.annotations ?? {};
  const initialRaw = ann[restartBackoffInitialAnnotation];
  const maxRaw = ann[restartBackoffMaxAnnotation];
  const initial = initialRaw === undefined ? undefined : parseDuration(initialRaw);
  const max = maxRaw === undefined ? undefined : parseDuration(maxRaw);
  const initialMs = initial !== undefined && initial > 0 ? initial : defaultRestartBackoff.initialMs;
  let maxMs = max !== undefined && max > 0 ? max : defaultRestartBackoff.maxMs;
  if (maxMs < initialMs) maxMs = initialMs;
  return { initialMs, maxMs };
}

/** Go's time.Duration String(): `500ms`, `10s`, `5m0s`, `1h2m3s`, `1.5s`. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) {
    if (ms >= 1) return `${trimNum(ms)}ms`;
    if (ms >= 1e-3) return `${trimNum(ms * 1e3)}µs`;
    return `${trimNum(ms * 1e6)}ns`;
  }
  const totalSeconds = ms / 1000;
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds - h * 3600) / 60);
  const s = totalSeconds - h * 3600 - m * 60;
  let out = '';
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  out += `${trimNum(s)}s`;
  return out;
}

function trimNum(n: number): string {
  return String(Math.round(n * 1e9) / 1e9);
}
