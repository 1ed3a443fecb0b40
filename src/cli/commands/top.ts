// `flotilla top node|pod`: CPU and memory use from metrics.k8s.io/v1beta1, printed as `kubectl top` prints
// it (same columns, units and rounding: millicores rounded up, MiB rounded down, percentages of the node's
// allocatable), or the metrics objects themselves with -o json|yaml.
import type { Command } from 'commander';
import { quantityToMillis, quantityValue } from '../../api/quantity.js';
import { metricsResources } from '../../api/resources.js';
import type { KubeObject } from '../../api/types.js';
import { failed, usageError } from '../io.js';
import { toJson, toYaml } from '../printers/output.js';
import { tabwrite } from '../printers/tabwriter.js';
import type { Session } from '../session.js';

/** The parts of NodeMetrics / PodMetrics the printer reads (src/apiserver/metrics/shapes.ts). */
export interface UsageView {
  cpu: string;
  memory: string;
}
export interface NodeMetricsView {
  metadata: { name?: string };
  usage: UsageView;
}
export interface PodMetricsView {
  metadata: { name?: string; namespace?: string };
  containers: Array<{ name: string; usage: UsageView }>;
}

export type SortBy = 'cpu' | 'memory' | undefined;

const mib = 1024 * 1024;

function millis(q: string | undefined): number {
  try {
    return q === undefined ? 0 : quantityToMillis(q);
  } catch {
    return 0;
  }
}
function bytes(q: string | undefined): number {
  try {
    return q === undefined ? 0 : quantityValue(q);
  } catch {
    return 0;
  }
}

const cpuCell = (m: number): string => `${m}m`;
const memCell = (b: number): string => `${Math.floor(b / mib)}Mi`;

function render(header: string[], rows: string[][], noHeaders: boolean): string {
  // Every cell tab-terminated, the last one too: kubectl pads the last column as well.
  const lines = (noHeaders ? rows : [header, ...rows]).map((r) => `${r.join('\t')}\t\n`);
  return tabwrite(lines.join(''), { minWidth: 6, padding: 3 });
}

function sortedBy<T>(items: T[], by: SortBy, cpu: (x: T) => number, mem: (x: T) => number): T[] {
  if (by === undefined) return items;
  const key = by === 'cpu' ? cpu : mem;
  return [...items].sort((a, b) => key(b) - key(a));
}

/**
 * `top node` table: NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%), percentages of each node's
 * allocatable; nodes without metrics follow with <unknown> in every column, as kubectl prints them.
 */
export function nodeTable(
  metrics: NodeMetricsView[],
  nodes: KubeObject[],
  opts: { sortBy?: SortBy; noHeaders?: boolean } = {},
): string {
  const allocatable = new Map<string, { cpu: number; memory: number }>();
  for (const n of nodes) {
    const a = (n.status as { allocatable?: Record<string, string> } | undefined)?.allocatable ?? {};
    allocatable.set(n.metadata.name ?? '', { cpu: millis(a['cpu']), memory: bytes(a['memory']) });
  }
  const seen = new Set<string>();
  const rows: string[][] = [];
  for (const m of sortedBy(
    metrics,
    opts.sortBy,
    (x) => millis(x.usage.cpu),
    (x) => bytes(x.usage.memory),
  )) {
    const name = m.metadata.name ?? '';
    seen.add(name);
    const cpu = millis(m.usage.cpu);
    const mem = bytes(m.usage.memory);
    const a = allocatable.get(name);
    const pct = (used: number, of: number | undefined): string =>
      of === undefined || of <= 0 ? '<unknown>' : `${Math.floor((used * 100) / of)}%`;
    rows.push([name, cpuCell(cpu), pct(cpu, a?.cpu), memCell(mem), pct(mem, a?.memory)]);
  }
  for (const n of nodes) {
    const name = n.metadata.name ?? '';
    if (!seen.has(name)) rows.push([name, ...Array<string>(4).fill('<unknown>')]);
  }
  return render(
    ['NAME', 'CPU(cores)', 'CPU(%)', 'MEMORY(bytes)', 'MEMORY(%)'],
    rows,
    opts.noHeaders ?? false,
  );
}

/** `top pod` table: pod totals, or one row per container with `containers`; NAMESPACE first with -A. */
export function podTable(
  metrics: PodMetricsView[],
  opts: { containers?: boolean; allNamespaces?: boolean; sortBy?: SortBy; noHeaders?: boolean } = {},
): string {
  const ns = (m: PodMetricsView): string[] =>
    opts.allNamespaces === true ? [m.metadata.namespace ?? ''] : [];
  const header = [
    ...(opts.allNamespaces === true ? ['NAMESPACE'] : []),
    ...(opts.containers === true ? ['POD', 'NAME'] : ['NAME']),
    'CPU(cores)',
    'MEMORY(bytes)',
  ];
  const total = (m: PodMetricsView, f: (u: UsageView) => number): number =>
    m.containers.reduce((n, c) => n + f(c.usage), 0);
  const sorted = sortedBy(
    metrics,
    opts.sortBy,
    (m) => total(m, (u) => millis(u.cpu)),
    (m) => total(m, (u) => bytes(u.memory)),
  );
  const rows: string[][] = [];
  for (const m of sorted) {
    if (opts.containers === true) {
      for (const c of m.containers)
        rows.push([
          ...ns(m),
          m.metadata.name ?? '',
          c.name,
          cpuCell(millis(c.usage.cpu)),
          memCell(bytes(c.usage.memory)),
        ]);
    } else {
      rows.push([
        ...ns(m),
        m.metadata.name ?? '',
        cpuCell(total(m, (u) => millis(u.cpu))),
        memCell(total(m, (u) => bytes(u.memory))),
      ]);
    }
  }
  return render(header, rows, opts.noHeaders ?? false);
}

export interface TopOptions {
  selector?: string;
  allNamespaces?: boolean;
  containers?: boolean;
  sortBy?: string;
  /** false with --no-headers (commander's negated flag). */
  headers?: boolean;
  output?: string;
}

function parseSortBy(v: string | undefined): SortBy {
  if (v === undefined || v === '') return undefined;
  if (v === 'cpu' || v === 'memory') return v;
  throw usageError(`--sort-by accepts only cpu or memory, got "${v}"`);
}

function parseOutput(v: string | undefined): 'json' | 'yaml' | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'json' || v === 'yaml') return v;
  throw usageError(
    `unable to match a printer suitable for the output format "${v}", allowed formats are: json,yaml`,
  );
}

const [nodeMetricsInfo, podMetricsInfo] = metricsResources;

function metricsUnavailable(err: unknown): never {
  const e = err as { code?: unknown; reason?: unknown };
  if (e.reason === 'NotFound' && typeof e.code === 'number') throw failed('Metrics API not available', err);
  throw err;
}

export async function runTopNode(
  session: Session,
  name: string | undefined,
  opts: TopOptions,
): Promise<void> {
  const io = session.io;
  const sortBy = parseSortBy(opts.sortBy);
  const output = parseOutput(opts.output);
  if (nodeMetricsInfo === undefined) throw failed('Metrics API not available');
  const client = await session.client();
  if (name !== undefined) {
    const node = await client.get({ apiVersion: 'v1', kind: 'Node' }, undefined, name);
    const m = await client.get(nodeMetricsInfo, undefined, name).catch((err: unknown) => {
      if ((err as { reason?: unknown }).reason === 'NotFound')
        throw failed(`metrics not available yet for node ${name}`, err);
      throw err;
    });
    if (output !== undefined) return void io.stdout.write(output === 'json' ? toJson(m) : toYaml(m));
    io.stdout.write(
      nodeTable([m as unknown as NodeMetricsView], [node], { noHeaders: opts.headers === false }),
    );
    return;
  }
  const sel = opts.selector === undefined ? {} : { labelSelector: opts.selector };
  const list = await client.list(nodeMetricsInfo, undefined, sel).catch(metricsUnavailable);
  if (output !== undefined) return void io.stdout.write(output === 'json' ? toJson(list) : toYaml(list));
  const nodes = await client.list({ apiVersion: 'v1', kind: 'Node' }, undefined, sel);
  if (list.items.length === 0 && nodes.items.length === 0) throw failed('metrics not available yet');
  io.stdout.write(
    nodeTable(list.items as unknown as NodeMetricsView[], nodes.items, {
      sortBy,
      noHeaders: opts.headers === false,
    }),
  );
}

export async function runTopPod(session: Session, name: string | undefined, opts: TopOptions): Promise<void> {
  const io = session.io;
  const sortBy = parseSortBy(opts.sortBy);
  const output = parseOutput(opts.output);
  if (podMetricsInfo === undefined) throw failed('Metrics API not available');
  if (name !== undefined && opts.selector !== undefined)
    throw usageError('only one of NAME or --selector can be provided');
  const client = await session.client();
  const allNamespaces = opts.allNamespaces === true && name === undefined;
  const namespace = allNamespaces ? undefined : await session.namespace();
  const table = {
    containers: opts.containers === true,
    allNamespaces,
    sortBy,
    noHeaders: opts.headers === false,
  };
  if (name !== undefined) {
    const ns = namespace ?? 'default';
    const pod = await client.get({ apiVersion: 'v1', kind: 'Pod' }, ns, name);
    const m = await client.get(podMetricsInfo, ns, name).catch((err: unknown) => {
      if ((err as { reason?: unknown }).reason === 'NotFound') {
        const created = Date.parse(pod.metadata.creationTimestamp ?? '');
        const age = Number.isNaN(created)
          ? ''
          : `, age: ${Math.max(0, Math.round((Date.now() - created) / 1000))}s`;
        throw failed(`Metrics not available for pod ${ns}/${name}${age}`, err);
      }
      throw err;
    });
    if (output !== undefined) return void io.stdout.write(output === 'json' ? toJson(m) : toYaml(m));
    io.stdout.write(podTable([m as unknown as PodMetricsView], table));
    return;
  }
  const list = await client
    .list(podMetricsInfo, namespace, opts.selector === undefined ? {} : { labelSelector: opts.selector })
    .catch(metricsUnavailable);
  if (output !== undefined) return void io.stdout.write(output === 'json' ? toJson(list) : toYaml(list));
  if (list.items.length === 0) {
    io.stderr.write(
      namespace === undefined ? 'No resources found\n' : `No resources found in ${namespace} namespace.\n`,
    );
    return;
  }
  io.stdout.write(podTable(list.items as unknown as PodMetricsView[], table));
}

const resourceKinds: Record<string, 'node' | 'pod'> = {
  node: 'node',
  nodes: 'node',
  no: 'node',
  pod: 'pod',
  pods: 'pod',
  po: 'pod',
};

export function registerTop(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('top')
    .description('Show CPU and memory use of nodes or pods (from metrics.k8s.io, sampled by the agents)')
    .argument('<node|pod>', 'what to show: node (nodes, no) or pod (pods, po)')
    .argument('[name]', 'one node or pod')
    .option('-l, --selector <selector>', 'only objects with these labels (e.g. app=web)')
    .option('-A, --all-namespaces', 'pods of every namespace')
    .option('--containers', 'pods: one row per container')
    .option('--sort-by <field>', 'cpu or memory, highest first')
    .option('--no-headers', 'leave out the header line')
    .option('-o, --output <format>', 'json or yaml: the NodeMetrics / PodMetrics objects instead of a table')
    .addHelpText(
      'after',
      `
CPU is the average over the agent's last sampling window (10 s by default, agent flag
--metrics-interval) in millicores; memory is the working set (usage minus inactive file pages) in MiB.
CPU(%) and MEMORY(%) are of the node's allocatable. A pod or node appears once its agent has two
samples. See docs/metrics.md.

Examples:
  flotilla top node
  flotilla top pod -A --sort-by cpu
  flotilla top pod web-7d4b9 --containers
  flotilla top pod -l app=web -o yaml`,
    )
    .action(async (what: string, name: string | undefined, opts: TopOptions, cmd: Command) => {
      const kind = resourceKinds[what.toLowerCase()];
      if (kind === undefined)
        throw usageError(`unknown resource "${what}" for top: use node or pod (flotilla top --help)`);
      if (kind === 'node') await runTopNode(session(cmd), name, opts);
      else await runTopPod(session(cmd), name, opts);
    });
}
