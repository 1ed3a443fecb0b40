// `flotilla cordon`, `flotilla uncordon`, `flotilla drain`: node maintenance, as kubectl does it.
//
// cordon/uncordon set or clear spec.unschedulable (the node-lifecycle controller then adds or removes the
// node.kubernetes.io/unschedulable:NoSchedule taint the scheduler honours). drain cordons, picks the pods
// on the node with kubectl's filters (DaemonSet-managed, mirror, local storage, no controller), evicts
// them through pods/{name}/eviction (a graceful delete; a server without the subresource answers 404 and
// gets a plain graceful DELETE, as kubectl falls back), and waits until they are gone.
//
// Exit codes: 0 done; 1 the drain was refused (pods that need --force, --ignore-daemonsets or
// --delete-emptydir-data; the node stays cordoned), an eviction failed, or --timeout passed; 2 usage.
import type { Command } from 'commander';
import type { ApiClient } from '../../api/client/client.js';
import { isApiError } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { failed, usageError } from '../io.js';
import type { Session } from '../session.js';
import { parseDryRun, type DryRun } from './common.js';
import { parseDuration } from './delete.js';

const NodeRef = { apiVersion: 'v1', kind: 'Node' };
const PodRef = { apiVersion: 'v1', kind: 'Pod' };

export interface CordonOptions {
  selector?: string;
  dryRun?: string;
}

export interface DrainOptions {
  force?: boolean;
  ignoreDaemonsets?: boolean;
  deleteEmptydirData?: boolean;
  gracePeriod?: string;
  timeout?: string;
  podSelector?: string;
  disableEviction?: boolean;
  dryRun?: string;
}

function suffix(dryRun: DryRun): string {
  return dryRun === 'server' ? ' (server dry run)' : dryRun === 'client' ? ' (dry run)' : '';
}

async function targetNodes(
  client: ApiClient,
  names: string[],
  selector: string | undefined,
): Promise<KubeObject[]> {
  if (names.length > 0 && selector !== undefined) throw usageError('give node names or --selector, not both');
  if (names.length === 0 && selector === undefined) throw usageError('give a NODE name (or --selector)');
  if (selector !== undefined) {
    const list = await client.list(NodeRef, undefined, { labelSelector: selector });
    if (list.items.length === 0) throw failed(`no nodes match the selector "${selector}"`);
    return list.items;
  }
  const out: KubeObject[] = [];
  for (const name of names) out.push(await client.get(NodeRef, undefined, name));
  return out;
}

function isUnschedulable(node: KubeObject): boolean {
  return (node.spec as { unschedulable?: unknown } | undefined)?.unschedulable === true;
}

/** Set spec.unschedulable on each node; prints `node/<n> cordoned` (or `already cordoned`). */
async function setUnschedulable(
  session: Session,
  nodes: KubeObject[],
  desired: boolean,
  dryRun: DryRun,
): Promise<void> {
  const client = await session.client();
  const verb = desired ? 'cordoned' : 'uncordoned';
  for (const node of nodes) {
    const name = node.metadata.name ?? '';
    if (isUnschedulable(node) === desired) {
      session.io.stdout.write(`node/${name} already ${verb}${suffix(dryRun)}\n`);
      continue;
    }
    if (dryRun !== 'client')
      await client.patch(
        NodeRef,
        undefined,
        name,
        'merge',
        { spec: { unschedulable: desired ? true : null } },
        { dryRun: dryRun === 'server' },
      );
    session.io.stdout.write(`node/${name} ${verb}${suffix(dryRun)}\n`);
  }
}

export async function runCordon(
  session: Session,
  names: string[],
  opts: CordonOptions,
  desired: boolean,
): Promise<void> {
  const dryRun = parseDryRun(opts.dryRun);
  const client = await session.client();
  await setUnschedulable(session, await targetNodes(client, names, opts.selector), desired, dryRun);
}

// --- which pods go (kubectl's drain filters) ---------------------------------------------------------

export type PodVerdict =
  /** Evict it. `warning` names why it is evicted although it is special (with --force etc.). */
  | { action: 'evict'; warning?: string }
  /** Leave it (DaemonSet-managed with --ignore-daemonsets, mirror pods); `warning` is printed. */
  | { action: 'skip'; warning?: string }
  /** The drain cannot go on: `error` names the flag that would allow it. */
  | { action: 'refuse'; error: string };

const daemonSetFatal = 'cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)';
const daemonSetWarning = 'ignoring DaemonSet-managed Pods';
const localStorageFatal = 'cannot delete Pods with local storage (use --delete-emptydir-data to override)';
const localStorageWarning = 'deleting Pods with local storage';
const unmanagedFatal = 'cannot delete Pods that declare no controller (use --force to override)';
const unmanagedWarning = 'deleting Pods that declare no controller';

/** kubectl drain's pod filters, in its order. Pure. */
export function drainVerdict(
  pod: KubeObject,
  opts: Pick<DrainOptions, 'force' | 'ignoreDaemonsets' | 'deleteEmptydirData'>,
): PodVerdict {
  const controller = (pod.metadata.ownerReferences ?? []).find((r) => r.controller === true);
  const phase = (pod.status as { phase?: unknown } | undefined)?.phase;
  const finished = phase === 'Succeeded' || phase === 'Failed';
  if (controller?.kind === 'DaemonSet') {
    // The DaemonSet would put it right back: leave it, or refuse.
    return opts.ignoreDaemonsets === true
      ? { action: 'skip', warning: daemonSetWarning }
      : { action: 'refuse', error: daemonSetFatal };
  }
  if (pod.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined) return { action: 'skip' };
  const volumes = (pod.spec as { volumes?: { emptyDir?: unknown }[] } | undefined)?.volumes ?? [];
  const warnings: string[] = [];
  if (!finished && volumes.some((v) => v.emptyDir !== undefined)) {
    if (opts.deleteEmptydirData !== true) return { action: 'refuse', error: localStorageFatal };
    warnings.push(localStorageWarning);
  }
  if (!finished && controller === undefined) {
    if (opts.force !== true) return { action: 'refuse', error: unmanagedFatal };
    warnings.push(unmanagedWarning);
  }
  return warnings.length === 0 ? { action: 'evict' } : { action: 'evict', warning: warnings.join('; ') };
}

/** Group `ns/name` lists by message: `message: a, b; other: c`. */
function grouped(items: { message: string; pod: string }[]): string {
  const by = new Map<string, string[]>();
  for (const { message, pod } of items) by.set(message, [...(by.get(message) ?? []), pod]);
  return [...by.entries()].map(([m, pods]) => `${m}: ${pods.join(', ')}`).join('; ');
}

// --- drain ---------------------------------------------------------------------------------------------

const podName = (p: KubeObject): string => `${p.metadata.namespace ?? ''}/${p.metadata.name ?? ''}`;

async function podsOn(
  client: ApiClient,
  node: string,
  podSelector: string | undefined,
): Promise<KubeObject[]> {
  const list = await client.list(PodRef, undefined, {
    fieldSelector: `spec.nodeName=${node}`,
    labelSelector: podSelector,
  });
  return list.items;
}

/** POST pods/{name}/eviction; false when the server has no such subresource (404 for a pod that exists). */
async function evict(
  client: ApiClient,
  pod: KubeObject,
  gracePeriod: number | undefined,
  dryRun: boolean,
): Promise<boolean> {
  const ns = pod.metadata.namespace ?? '';
  const name = pod.metadata.name ?? '';
  const body: Record<string, unknown> = {
    apiVersion: 'policy/v1',
    kind: 'Eviction',
    metadata: { name, namespace: ns },
  };
  const deleteOptions: Record<string, unknown> = {};
  if (gracePeriod !== undefined) deleteOptions.gracePeriodSeconds = gracePeriod;
  if (dryRun) deleteOptions.dryRun = ['All'];
  if (Object.keys(deleteOptions).length > 0) body.deleteOptions = deleteOptions;
  try {
    await client.request(
      'POST',
      `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}/eviction`,
      body,
    );
    return true;
  } catch (err) {
    if (!(isApiError(err) && err.reason === 'NotFound')) throw err;
    // Which is missing, the pod or the subresource?
    try {
      await client.get(PodRef, ns, name);
    } catch (getErr) {
      if (isApiError(getErr) && getErr.reason === 'NotFound') return true; // already gone
      throw getErr;
    }
    return false;
  }
}

async function deletePod(
  client: ApiClient,
  pod: KubeObject,
  gracePeriod: number | undefined,
  dryRun: boolean,
): Promise<void> {
  try {
    await client.delete(PodRef, pod.metadata.namespace, pod.metadata.name ?? '', {
      gracePeriodSeconds: gracePeriod,
      preconditions: { uid: pod.metadata.uid ?? '' },
      dryRun,
    });
  } catch (err) {
    if (!(isApiError(err) && err.reason === 'NotFound')) throw err;
  }
}

export async function runDrain(session: Session, nodeName: string, opts: DrainOptions): Promise<void> {
  const io = session.io;
  const dryRun = parseDryRun(opts.dryRun);
  const sfx = suffix(dryRun);
  let gracePeriod: number | undefined;
  if (opts.gracePeriod !== undefined) {
    const g = Number(opts.gracePeriod);
    if (!Number.isInteger(g) || g < -1)
      throw usageError(
        `invalid --grace-period "${opts.gracePeriod}": must be a whole number of seconds (-1: the pod's own)`,
      );
    if (g >= 0) gracePeriod = g;
  }
  const timeoutMs = parseDuration(opts.timeout ?? '0s');
  const deadline = timeoutMs > 0 ? io.now() + timeoutMs : undefined;
  const client = await session.client();

  const node = await client.get(NodeRef, undefined, nodeName);
  await setUnschedulable(session, [node], true, dryRun);

  const pods = await podsOn(client, nodeName, opts.podSelector);
  const refusals: { message: string; pod: string }[] = [];
  const warnings: { message: string; pod: string }[] = [];
  const toEvict: KubeObject[] = [];
  for (const pod of pods) {
    const v = drainVerdict(pod, opts);
    if (v.action === 'refuse') refusals.push({ message: v.error, pod: podName(pod) });
    else {
      if (v.warning !== undefined) warnings.push({ message: v.warning, pod: podName(pod) });
      if (v.action === 'evict') toEvict.push(pod);
    }
  }
  if (refusals.length > 0) {
    // Like kubectl: nothing is evicted when any pod blocks the drain; the node stays cordoned.
    throw failed(
      `unable to drain node "${nodeName}" due to error: ${grouped(refusals)}\n` +
        `node/${nodeName} stays cordoned (flotilla uncordon ${nodeName} to undo)`,
    );
  }
  if (warnings.length > 0) io.stderr.write(`Warning: ${grouped(warnings)}\n`);

  let useEviction = opts.disableEviction !== true;
  const pending = new Map<string, KubeObject>();
  for (const pod of toEvict) {
    if (io.signal.aborted) throw failed('interrupted');
    const name = podName(pod);
    if (useEviction) io.stdout.write(`evicting pod ${name}${sfx}\n`);
    else io.stdout.write(`deleting pod ${name}${sfx}\n`);
    if (dryRun === 'client') continue;
    if (useEviction) {
      const ok = await evictWithRetry(session, client, pod, gracePeriod, dryRun === 'server', deadline);
      if (!ok) {
        // The server has no pods/eviction: fall back to a graceful delete, for this pod and the rest.
        io.stderr.write('Warning: the server does not support pod eviction; deleting pods instead\n');
        useEviction = false;
        await deletePod(client, pod, gracePeriod, dryRun === 'server');
      }
    } else {
      await deletePod(client, pod, gracePeriod, dryRun === 'server');
    }
    pending.set(name, pod);
  }

  // Like kubectl, a dry run does not claim pods were evicted.
  if (dryRun === 'none') await waitGone(session, client, nodeName, pending, useEviction, deadline);
  io.stdout.write(`node/${nodeName} drained${sfx}\n`);
}

/** Evict, retrying while a disruption budget says no (429), like kubectl (every 5 s until the timeout). */
async function evictWithRetry(
  session: Session,
  client: ApiClient,
  pod: KubeObject,
  gracePeriod: number | undefined,
  dryRun: boolean,
  deadline: number | undefined,
): Promise<boolean> {
  const io = session.io;
  for (;;) {
    try {
      return await evict(client, pod, gracePeriod, dryRun);
    } catch (err) {
      if (!(isApiError(err) && err.reason === 'TooManyRequests')) {
        throw failed(
          `error when evicting pod "${pod.metadata.name ?? ''}" -n "${pod.metadata.namespace ?? ''}": ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      if (deadline !== undefined && io.now() + 5000 > deadline)
        throw failed(`error when evicting pod ${podName(pod)}: global timeout reached: ${err.message}`);
      io.stderr.write(
        `error when evicting pods/"${pod.metadata.name ?? ''}" -n "${pod.metadata.namespace ?? ''}" (will retry after 5s): ${err.message}\n`,
      );
      await io.sleep(5000);
      if (io.signal.aborted) throw failed('interrupted');
    }
  }
}

/** Wait until every evicted pod is gone (absent, or replaced by a pod with another uid). */
async function waitGone(
  session: Session,
  client: ApiClient,
  nodeName: string,
  pending: Map<string, KubeObject>,
  evicted: boolean,
  deadline: number | undefined,
): Promise<void> {
  const io = session.io;
  let delay = 100;
  while (pending.size > 0) {
    const live = new Map((await podsOn(client, nodeName, undefined)).map((p) => [podName(p), p]));
    for (const [name, pod] of [...pending]) {
      const now = live.get(name);
      if (now === undefined || now.metadata.uid !== pod.metadata.uid) {
        pending.delete(name);
        io.stdout.write(`pod/${pod.metadata.name ?? ''} ${evicted ? 'evicted' : 'deleted'}\n`);
      }
    }
    if (pending.size === 0) return;
    if (io.signal.aborted) throw failed('interrupted while waiting for pods to go');
    if (deadline !== undefined && io.now() >= deadline) {
      throw failed(
        `global timeout reached waiting for ${pending.size} pod(s) on node "${nodeName}" to terminate: ${[...pending.keys()].join(', ')}`,
      );
    }
    await io.sleep(deadline === undefined ? delay : Math.min(delay, Math.max(0, deadline - io.now())));
    delay = Math.min(delay * 2, 1000);
  }
}

export function registerDrain(program: Command, session: (cmd: Command) => Session): void {
  for (const desired of [true, false]) {
    const verb = desired ? 'cordon' : 'uncordon';
    program
      .command(verb)
      .description(
        desired
          ? 'Mark nodes unschedulable: no new pods are placed on them (running pods stay)'
          : 'Mark nodes schedulable again',
      )
      .argument('[nodes...]', 'node names')
      .option('-l, --selector <selector>', 'the nodes matching this label selector')
      .option('--dry-run <mode>', 'none, client or server (validated by the server, not stored)', 'none')
      .addHelpText(
        'after',
        `
Examples:
  flotilla ${verb} node-1
  flotilla ${verb} -l topology.kubernetes.io/zone=zone-a

Output: node/node-1 ${desired ? 'cordoned' : 'uncordoned'}`,
      )
      .action(async (nodes: string[], opts: CordonOptions, cmd: Command) => {
        await runCordon(session(cmd), nodes, opts, desired);
      });
  }

  program
    .command('drain')
    .description(
      'Prepare a node for maintenance: cordon it, then evict its pods (through the eviction API) and wait until they are gone',
    )
    .argument('<node>', 'node name')
    .option('--force', 'also evict pods that no controller (ReplicaSet, Job, ...) will recreate')
    .option('--ignore-daemonsets', 'leave DaemonSet-managed pods in place instead of refusing')
    .option('--delete-emptydir-data', 'evict pods with emptyDir volumes (their data is lost)')
    .option('--grace-period <seconds>', "seconds each pod gets to stop; -1 (default) uses the pod's own")
    .option(
      '--timeout <duration>',
      'give up after this long, e.g. 2m (default 0: wait as long as it takes)',
      '0s',
    )
    .option('--pod-selector <selector>', 'only evict pods matching this label selector')
    .option('--disable-eviction', 'delete pods instead of evicting them (bypasses disruption checks)')
    .option('--dry-run <mode>', 'none, client or server: show what would be evicted', 'none')
    .addHelpText(
      'after',
      `
Examples:
  flotilla drain node-1 --ignore-daemonsets
  flotilla drain node-1 --force --grace-period=10 --timeout=2m
  flotilla drain node-1 --dry-run=client
  flotilla uncordon node-1               # when the maintenance is over

Output:
  node/node-1 cordoned
  evicting pod default/web-5d8f7-abcde
  pod/web-5d8f7-abcde evicted
  node/node-1 drained

Exit status: 0 drained; 1 refused (pods that need --force, --ignore-daemonsets or
--delete-emptydir-data: nothing is evicted, the node stays cordoned), an eviction failed, or
--timeout passed; 2 bad flags.`,
    )
    .action(async (node: string, opts: DrainOptions, cmd: Command) => {
      await runDrain(session(cmd), node, opts);
    });
}
