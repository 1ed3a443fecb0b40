// Pod stage timeline for the real-node benches: a watch on the bench's pods records, per pod, when the
// bench first saw it created, bound to a node, with every container running, and Ready. Printed as the
// time from the start at which the first, the middle and the last pod reached each stage, so a slow run
// shows which stage (controller, scheduler or agent) holds it back; and the CPU seconds the whole machine
// spent meanwhile, steadier from run to run than the wall time on a loaded 2-core machine.
import { performance } from 'node:perf_hooks';
import type { ApiClient } from '../../src/api/client/client.js';
import type { KubeObject } from '../../src/api/types.js';
import { machineBusySeconds } from './proc.js';

const stages = ['created', 'bound', 'running', 'ready'] as const;
type Stage = (typeof stages)[number];

export interface PodTimeline {
  /** Stop watching and return one line per stage. */
  stop(): string[];
}

interface PodStatusView {
  containerStatuses?: { state?: { running?: unknown } }[];
  conditions?: { type?: string; status?: string }[];
}

/** Start recording now (t0); pods already present count from t0 too. */
export async function watchPodTimeline(
  client: ApiClient,
  namespace: string,
  labelSelector: string,
): Promise<PodTimeline> {
  const t0 = performance.now();
  const cpu0 = machineBusySeconds();
  const seen = new Map<string, Partial<Record<Stage, number>>>();
  const mark = (pod: KubeObject): void => {
    const uid = pod.metadata.uid ?? pod.metadata.name ?? '';
    let rec = seen.get(uid);
    if (rec === undefined) seen.set(uid, (rec = {}));
    const now = performance.now() - t0;
    rec.created ??= now;
    const spec = pod.spec as { nodeName?: string } | undefined;
    if (spec?.nodeName !== undefined && spec.nodeName !== '') rec.bound ??= now;
    const st = (pod.status ?? {}) as PodStatusView;
    const cs = st.containerStatuses ?? [];
    if (cs.length > 0 && cs.every((c) => c.state?.running !== undefined)) rec.running ??= now;
    if (st.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true) rec.ready ??= now;
  };
  const list = await client.list({ apiVersion: 'v1', kind: 'Pod' }, namespace, { labelSelector });
  const handle = await client.watch(
    { apiVersion: 'v1', kind: 'Pod' },
    namespace,
    { labelSelector, resourceVersion: list.metadata?.resourceVersion },
    (ev) => {
      if (ev.type !== 'DELETED') mark(ev.object);
    },
    () => undefined,
  );
  const preexisting = new Set(list.items.map((p) => p.metadata.uid ?? ''));
  return {
    stop: () => {
      handle.close();
      const cpu = machineBusySeconds() - cpu0;
      const wall = (performance.now() - t0) / 1000;
      const recs = [...seen.entries()].filter(([uid]) => !preexisting.has(uid)).map(([, r]) => r);
      const lines = stages.map((s) => {
        const t = recs.map((r) => r[s]).filter((v): v is number => v !== undefined);
        t.sort((a, b) => a - b);
        const at = (q: number): string =>
          t.length === 0 ? '-' : `${Math.round(t[Math.min(t.length - 1, Math.floor(q * t.length))]!)}`;
        return `${s.padEnd(8)} ${String(t.length).padStart(4)} pods  first ${at(0)} ms  half ${at(0.5)} ms  last ${at(1)} ms`;
      });
      lines.push(
        `machine CPU busy ${cpu.toFixed(1)} s over ${wall.toFixed(1)} s (all processes and the kernel)`,
      );
      return lines;
    },
  };
}
