// `flotilla rollout status|history|undo|restart|pause|resume|promote`: kubectl's rollout verbs for
// Deployments, with the same requests and messages (reference/kubectl-compat.md §3.12), plus Flotilla's
// canary promotion and an undo that also aborts a paused canary. The decisions live in rollout-view.ts.
import { Command } from 'commander';
import type { ApiClient } from '../../api/client/client.js';
import { isApiError, type ApiError } from '../../api/errors.js';
import { formatLabelSelector } from '../../api/table/columns.js';
import type { KubeObject, WatchEvent } from '../../api/types.js';
import { describePodTemplate } from '../describe.js';
import { alreadyReported, failed, isCliError, usageError, type CliIO } from '../io.js';
import { pluralTypeName, typeName } from '../printers/output.js';
import { errorLine, isPerObjectError } from '../resource-args.js';
import type { Session } from '../session.js';
import { resolveTargets, type Target } from '../targets.js';
import { collect, parseBool } from './common.js';
import { parseDuration } from './delete.js';
import {
  autoRollback,
  canaryWaiting,
  deploymentStatus,
  historyTable,
  ownedReplicaSets,
  progressLine,
  restartPatch,
  revisions,
  rollbackFailure,
  templateMatches,
  undoPatch,
  undoTarget,
  type StatusVerdict,
} from './rollout-view.js';

const rsRef = { apiVersion: 'apps/v1', kind: 'ReplicaSet' };
const FIELD_MANAGER = 'flotilla-rollout';

interface SelectOptions {
  selector?: string;
  filename: string[];
  recursive?: boolean;
}

export interface StatusOptions extends SelectOptions {
  watch?: string | boolean;
  timeout?: string;
  revision?: string;
}

export interface HistoryOptions extends SelectOptions {
  revision?: string;
}

export interface UndoOptions extends SelectOptions {
  toRevision?: string;
}

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function revisionFlag(flag: string, value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d+$/.test(value.trim()))
    throw usageError(`invalid ${flag} value "${value}": must be a non-negative integer`);
  return Number.parseInt(value, 10);
}

function isTTY(io: CliIO): boolean {
  return (io.stdout as { isTTY?: boolean }).isTTY === true;
}

/** What kubectl says for a kind a verb has no implementation for. */
const unsupported: Record<string, (kind: string) => string> = {
  status: (kind) => `no status viewer has been implemented for ${kind}`,
  history: (kind) => `no history viewer has been implemented for "${kind}"`,
  undo: (kind) => `no rollbacker has been implemented for "${kind}"`,
  restart: () => 'restarting is not supported',
  pause: () => 'pausing is not supported',
  resume: () => 'resuming is not supported',
  promote: () => 'promoting is only supported for deployments',
};

/**
 * Run `each` on every Deployment the arguments name (`deployment/web`, `deploy web`, `-l`, `-f`).
 * Errors of one object are printed and the others still run; the command then exits 1.
 */
async function forEachDeployment(
  session: Session,
  verb: string,
  args: string[],
  opts: SelectOptions,
  each: (client: ApiClient, t: Target) => Promise<void>,
): Promise<void> {
  if (args.length === 0 && opts.filename.length === 0)
    throw usageError(
      `required resource not specified; use "flotilla rollout ${verb} deployment/NAME" (or -l SELECTOR with "deployment")`,
    );
  const targets = await resolveTargets(session, args, opts, `rollout ${verb}`);
  if (targets.length === 0) {
    session.io.stderr.write(`No resources found in ${await session.namespace()} namespace.\n`);
    return;
  }
  const client = await session.client();
  let failures = 0;
  for (const t of targets) {
    try {
      if (t.info.kind !== 'Deployment')
        throw failed((unsupported[verb] ?? unsupported['status']!)(t.info.kind));
      await each(client, t);
    } catch (err) {
      const perObject = isPerObjectError(err) || (isCliError(err) && err.code === 'Failed');
      if (!perObject || targets.length === 1) throw err;
      failures++;
      session.io.stderr.write(`${errorLine(err)}\n`);
    }
  }
  if (failures > 0) throw alreadyReported();
}

async function getDeployment(client: ApiClient, t: Target): Promise<KubeObject> {
  return client.get(t.info, t.namespace, t.name);
}

async function replicaSetsOf(client: ApiClient, d: KubeObject): Promise<KubeObject[]> {
  const selector = formatLabelSelector(rec(d.spec)['selector']);
  const list = await client.list(
    rsRef,
    d.metadata.namespace,
    selector === '' ? {} : { labelSelector: selector },
  );
  return ownedReplicaSets(d, list.items);
}

// ---- status ----

type Followed = 'stopped' | 'timeout' | 'aborted';

/**
 * Call `onObject` with the object now and on every change until it returns true, the deadline passes
 * or Ctrl-C. Lists by name for a resourceVersion and watches from it (relisting when the watch
 * expires or ends), as kubectl does. A deleted object is passed as undefined.
 */
async function follow(
  io: CliIO,
  client: ApiClient,
  t: Target,
  deadline: number,
  onObject: (obj: KubeObject | undefined) => boolean,
): Promise<Followed> {
  const fieldSelector = `metadata.name=${t.name}`;
  for (;;) {
    const list = await client.list(t.info, t.namespace, { fieldSelector });
    const obj = list.items.find((o) => o.metadata.name === t.name);
    if (onObject(obj)) return 'stopped';
    if (io.signal.aborted) return 'aborted';
    if (io.now() >= deadline) return 'timeout';
    const outcome = await new Promise<Followed | 'relist' | { error: unknown }>((resolve) => {
      let settled = false;
      let handle: { close(): void } | undefined;
      const finish = (o: Followed | 'relist' | { error: unknown }): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        io.signal.removeEventListener('abort', onAbort);
        handle?.close();
        resolve(o);
      };
      const onAbort = (): void => finish('aborted');
      const timer = Number.isFinite(deadline)
        ? setTimeout(() => finish('timeout'), Math.max(0, deadline - io.now()))
        : undefined;
      io.signal.addEventListener('abort', onAbort, { once: true });
      client
        .watch(
          t.info,
          t.namespace,
          { resourceVersion: list.metadata.resourceVersion, fieldSelector, allowWatchBookmarks: true },
          (ev: WatchEvent) => {
            if (ev.type === 'BOOKMARK' || ev.object.metadata.name !== t.name) return;
            try {
              if (onObject(ev.type === 'DELETED' ? undefined : ev.object)) finish('stopped');
            } catch (error) {
              finish({ error });
            }
          },
          (err: ApiError) => finish(err.reason === 'Expired' || err.transient ? 'relist' : { error: err }),
          () => finish('relist'),
        )
        .then(
          (h) => {
            handle = h;
            if (settled) h.close();
          },
          (error: unknown) => finish(isApiError(error) && error.reason === 'Expired' ? 'relist' : { error }),
        );
    });
    if (typeof outcome === 'object') throw outcome.error;
    if (outcome !== 'relist') return outcome;
  }
}

async function statusOne(
  session: Session,
  client: ApiClient,
  t: Target,
  opts: { watch: boolean; timeoutMs: number; revision: number },
): Promise<void> {
  const io = session.io;
  const tty = isTTY(io);
  // GET first: a missing Deployment is the server's NotFound, as kubectl reports it.
  const first = await getDeployment(client, t);
  let lastMessage = '';
  let drawn = false;
  const clearLine = (): void => {
    if (drawn) io.stdout.write('\r\x1b[2K');
    drawn = false;
  };
  const show = (d: KubeObject, v: StatusVerdict): void => {
    if (tty) {
      io.stdout.write(`${drawn ? '\r\x1b[2K' : ''}${progressLine(d, v)}`);
      drawn = true;
    } else if (v.message !== lastMessage) {
      io.stdout.write(`${v.message}\n`);
    }
    lastMessage = v.message;
  };
  let final: StatusVerdict | undefined;
  let deleted = false;
  const judge = (d: KubeObject | undefined): boolean => {
    if (d === undefined) {
      deleted = true;
      return true;
    }
    if (d.metadata.uid !== first.metadata.uid) {
      deleted = true;
      return true;
    }
    const v = deploymentStatus(d, { revision: opts.revision });
    if (v.kind !== 'waiting' || !opts.watch) {
      final = v;
      if (v.kind === 'waiting') show(d, v);
      return true;
    }
    show(d, v);
    return false;
  };
  if (!judge(first)) {
    const deadline = opts.timeoutMs === 0 ? Number.POSITIVE_INFINITY : io.now() + opts.timeoutMs;
    const outcome = await follow(io, client, t, deadline, judge).catch((err: unknown) => {
      clearLine();
      throw err;
    });
    if (outcome === 'timeout') {
      clearLine();
      if (tty && lastMessage !== '') io.stdout.write(`${lastMessage}\n`);
      throw failed('timed out waiting for the condition');
    }
    if (outcome === 'aborted') {
      clearLine();
      throw failed('interrupted');
    }
  }
  if (deleted) {
    clearLine();
    throw failed('object has been deleted');
  }
  let v = final;
  if (v === undefined) return;
  if (v.kind === 'failed' && v.deadline === true && opts.watch) {
    // The cluster default may roll it back (a client cannot see that flag): give the controller a
    // few seconds to say so before reporting the plain deadline.
    const d = await rollbackWithin(io, client, t, ROLLBACK_GRACE_MS);
    v = (d === undefined ? undefined : rollbackFailure(d)) ?? v;
  }
  switch (v.kind) {
    case 'done':
      clearLine();
      io.stdout.write(`${v.message}\n`);
      return;
    case 'failed':
      clearLine();
      throw failed(v.message);
    case 'waiting':
      // --watch=false: one look, already printed.
      if (drawn) io.stdout.write('\n');
      return;
  }
}

const ROLLBACK_GRACE_MS = 5000;

/** The Deployment once it has RolledBack=True, polled for up to `ms` (undefined: no rollback). */
async function rollbackWithin(
  io: CliIO,
  client: ApiClient,
  t: Target,
  ms: number,
): Promise<KubeObject | undefined> {
  const until = io.now() + ms;
  for (;;) {
    const d = await getDeployment(client, t);
    if (autoRollback(d) === 'off') return undefined;
    if (rollbackFailure(d) !== undefined) return d;
    if (io.now() >= until || io.signal.aborted) return undefined;
    await io.sleep(500);
  }
}

export async function runRolloutStatus(session: Session, args: string[], opts: StatusOptions): Promise<void> {
  const watch = opts.watch === undefined || opts.watch === true ? true : parseBool(String(opts.watch));
  const timeoutText = opts.timeout ?? '0s';
  const timeoutMs = timeoutText.startsWith('-') ? 0 : parseDuration(timeoutText);
  const revision = revisionFlag('--revision', opts.revision);
  await forEachDeployment(session, 'status', args, opts, (client, t) =>
    statusOne(session, client, t, { watch, timeoutMs, revision }),
  );
}

// ---- history ----

export async function runRolloutHistory(
  session: Session,
  args: string[],
  opts: HistoryOptions,
): Promise<void> {
  const revision = revisionFlag('--revision', opts.revision);
  const io = session.io;
  await forEachDeployment(session, 'history', args, opts, async (client, t) => {
    const d = await getDeployment(client, t);
    const rss = await replicaSetsOf(client, d);
    const name = `${typeName(t.info)}/${t.name}`;
    if (revision > 0) {
      const rs = revisions(rss).get(revision);
      if (rs === undefined) throw failed('unable to find the specified revision');
      io.stdout.write(
        `${name} with revision #${revision}\n${describePodTemplate(rec(rs.spec)['template'])}\n`,
      );
      return;
    }
    io.stdout.write(`${name} \n${historyTable(rss)}\n`);
  });
}

// ---- undo ----

export async function runRolloutUndo(session: Session, args: string[], opts: UndoOptions): Promise<void> {
  const toRevision = revisionFlag('--to-revision', opts.toRevision);
  const io = session.io;
  await forEachDeployment(session, 'undo', args, opts, async (client, t) => {
    const d = await getDeployment(client, t);
    const rss = await replicaSetsOf(client, d);
    let target: KubeObject;
    try {
      target = undoTarget(t.name, rss, toRevision);
    } catch (err) {
      throw failed(err instanceof Error ? err.message : String(err));
    }
    const name = `${typeName(t.info)}/${t.name}`;
    const targetRevision = target.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? '';
    if (templateMatches(d, target)) {
      io.stdout.write(
        `${name} skipped rollback (current template already matches revision ${targetRevision})\n`,
      );
      return;
    }
    // kubectl refuses a paused Deployment; Flotilla resumes it in the same write (a canary abort).
    const paused = rec(d.spec)['paused'] === true;
    const canary = canaryWaiting(d);
    await client.patch(t.info, t.namespace, t.name, 'json', undoPatch(d, target, { unpause: paused }), {
      fieldManager: FIELD_MANAGER,
    });
    const note = canary !== undefined ? ' (canary aborted)' : paused ? ' (and resumed)' : '';
    io.stdout.write(`${name} rolled back${note}\n`);
  });
}

// ---- restart, pause, resume, promote ----

async function runSimple(
  session: Session,
  verb: 'restart' | 'pause' | 'resume' | 'promote',
  args: string[],
  opts: SelectOptions,
): Promise<void> {
  const io = session.io;
  await forEachDeployment(session, verb, args, opts, async (client, t) => {
    const d = await getDeployment(client, t);
    const paused = rec(d.spec)['paused'] === true;
    const what = `${pluralTypeName(t.info)} "${t.name}"`;
    const name = `${typeName(t.info)}/${t.name}`;
    let patch: Record<string, unknown>;
    let done: string;
    switch (verb) {
      case 'restart':
        if (paused) throw failed(`${what} can't restart paused deployment (run rollout resume first)`);
        patch = restartPatch(new Date(io.now()));
        done = 'restarted';
        break;
      case 'pause':
        if (paused) throw failed(`${what} is already paused`);
        patch = { spec: { paused: true } };
        done = 'paused';
        break;
      case 'resume':
        if (!paused) throw failed(`${what} is not paused`);
        patch = { spec: { paused: false } };
        done = 'resumed';
        break;
      case 'promote': {
        if (canaryWaiting(d) === undefined) {
          if (paused)
            throw failed(
              `deployment "${t.name}" is paused but not at a canary step; resume it with "flotilla rollout resume deployment/${t.name}"`,
            );
          throw failed(
            `deployment "${t.name}" has no canary waiting for promotion (a canary pauses the rollout when flotilla.dev/canary is set)`,
          );
        }
        patch = { spec: { paused: false } };
        done = 'promoted';
        break;
      }
    }
    await client.patch(t.info, t.namespace, t.name, 'strategic', patch, { fieldManager: FIELD_MANAGER });
    io.stdout.write(`${name} ${done}\n`);
  });
}

// ---- registration ----

function selectFlags(cmd: Command): Command {
  return cmd
    .argument('[resources...]', 'deployment/NAME, deploy/NAME or deployment NAME')
    .option('-l, --selector <selector>', 'every Deployment matching this label selector (with "deployment")')
    .option(
      '-f, --filename <path>',
      'the Deployments a file, directory or - describes; repeatable',
      collect,
      [],
    )
    .option('-R, --recursive', 'process directories given with -f recursively');
}

export function registerRollout(program: Command, session: (cmd: Command) => Session): void {
  const rollout = program
    .command('rollout')
    .description('Manage the rollout of Deployments: status, history, undo, restart, pause, resume, promote')
    .addHelpText(
      'after',
      `
Examples:
  flotilla rollout status deploy/web             # wait until the rollout is done (exit 1 if it fails)
  flotilla rollout history deploy/web
  flotilla rollout undo deploy/web --to-revision=2
  flotilla rollout restart deploy/web
  flotilla rollout pause deploy/web && flotilla rollout resume deploy/web
  flotilla rollout promote deploy/web            # continue after a canary step`,
    );

  selectFlags(rollout.command('status'))
    .description('Show the rollout status of a Deployment and wait until it is done')
    .option(
      '-w, --watch [bool]',
      'keep watching until the rollout is done (--watch=false: look once)',
      'true',
    )
    .option('--timeout <duration>', 'give up after this long (0: never)', '0s')
    .option('--revision <n>', 'fail unless the Deployment is at this revision')
    .addHelpText(
      'after',
      `
Examples:
  flotilla rollout status deployment/web
  flotilla rollout status deploy/web --timeout=2m
  flotilla rollout status deploy/web --watch=false

Prints kubectl's messages ("Waiting for deployment "web" rollout to finish: 4 of 10 updated replicas
are available...", then "deployment "web" successfully rolled out"); on a terminal one progress line
is rewritten in place with the updated/ready/available counts. Exits 1 when the progress deadline is
exceeded, when the controller rolls the Deployment back automatically, or on timeout.`,
    )
    .action(async (args: string[], opts: StatusOptions, cmd: Command) => {
      await runRolloutStatus(session(cmd), args, opts);
    });

  selectFlags(rollout.command('history'))
    .description('List the revisions of a Deployment, or show the pod template of one')
    .option('--revision <n>', 'show the pod template of this revision')
    .addHelpText(
      'after',
      `
Examples:
  flotilla rollout history deployment/web
  flotilla rollout history deploy/web --revision=2

Revisions come from the Deployment's ReplicaSets (deployment.kubernetes.io/revision); CHANGE-CAUSE is
their kubernetes.io/change-cause annotation.`,
    )
    .action(async (args: string[], opts: HistoryOptions, cmd: Command) => {
      await runRolloutHistory(session(cmd), args, opts);
    });

  selectFlags(rollout.command('undo'))
    .description('Roll a Deployment back to an earlier revision (default: the previous one)')
    .option('--to-revision <n>', 'the revision to go back to (0: the previous one)', '0')
    .addHelpText(
      'after',
      `
Examples:
  flotilla rollout undo deployment/web
  flotilla rollout undo deploy/web --to-revision=1

Puts that revision's pod template back into the Deployment (the controller reuses its ReplicaSet).
Unlike kubectl it also works on a paused Deployment: it resumes it in the same update, which is how a
waiting canary is aborted.`,
    )
    .action(async (args: string[], opts: UndoOptions, cmd: Command) => {
      await runRolloutUndo(session(cmd), args, opts);
    });

  const simple: [verb: 'restart' | 'pause' | 'resume' | 'promote', description: string, help: string][] = [
    [
      'restart',
      'Restart every pod of a Deployment with a rolling update',
      `  flotilla rollout restart deployment/web
  flotilla rollout restart deploy -l app=web

Sets the kubectl.kubernetes.io/restartedAt annotation on the pod template, so a new revision rolls out.`,
    ],
    [
      'pause',
      'Pause a Deployment: template changes do not roll out until it is resumed',
      `  flotilla rollout pause deployment/web
  flotilla set image ... ; flotilla rollout resume deployment/web`,
    ],
    [
      'resume',
      'Resume a paused Deployment (also promotes a waiting canary)',
      `  flotilla rollout resume deployment/web`,
    ],
    [
      'promote',
      'Promote a canary: continue the rollout the controller paused after the canary step',
      `  flotilla rollout promote deployment/web

Fails with a message when the Deployment has no canary waiting (no Canary condition, or not paused).
Abort a canary with "flotilla rollout undo deployment/web" instead.`,
    ],
  ];
  for (const [verb, description, help] of simple) {
    selectFlags(rollout.command(verb))
      .description(description)
      .addHelpText('after', `\nExamples:\n${help}`)
      .action(async (args: string[], opts: SelectOptions, cmd: Command) => {
        await runSimple(session(cmd), verb, args, opts);
      });
  }
}
