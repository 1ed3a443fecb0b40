// `flotilla wait`: block until objects meet a condition, are created or are deleted. Like kubectl it
// lists the object by `metadata.name`, checks it, then watches from the list's resourceVersion.
import type { Command } from 'commander';
import type { ApiClient } from '../../api/client/client.js';
import { isApiError, type ApiError } from '../../api/errors.js';
import type { KubeObject, WatchEvent } from '../../api/types.js';
import { alreadyReported, failed, usageError, type CliIO } from '../io.js';
import { evaluate, parseExpression, type Step } from '../jsonpath.js';
import { typeName } from '../printers/output.js';
import { errorLine, isPerObjectError } from '../resource-args.js';
import type { Session } from '../session.js';
import { resolveTargets, type Target } from '../targets.js';
import { collect } from './common.js';
import { parseDuration } from './delete.js';

export type WaitCondition =
  | { kind: 'delete' }
  | { kind: 'create' }
  | { kind: 'condition'; type: string; status: string }
  | { kind: 'jsonpath'; steps: Step[]; value: string | undefined };

/** `--for`: delete, create, condition=NAME[=VALUE], jsonpath='{EXPR}'[=VALUE]. */
export function parseFor(value: string): WaitCondition {
  const lower = value.toLowerCase();
  if (lower === 'delete') return { kind: 'delete' };
  if (lower === 'create') return { kind: 'create' };
  if (lower.startsWith('condition=')) {
    const rest = value.slice('condition='.length);
    const eq = rest.indexOf('=');
    const type = eq < 0 ? rest : rest.slice(0, eq);
    const status = eq < 0 ? 'true' : rest.slice(eq + 1);
    if (type === '') throw usageError('condition name cannot be empty, use --for=condition=NAME[=VALUE]');
    return { kind: 'condition', type, status };
  }
  if (lower.startsWith('jsonpath=')) {
    const input = value.slice('jsonpath='.length);
    let expr: string;
    let rest: string;
    if (input.trimStart().startsWith('{')) {
      const close = input.lastIndexOf('}');
      if (close < 0) throw usageError(`unclosed jsonpath expression: ${input}`);
      expr = input.slice(0, close + 1);
      rest = input.slice(close + 1);
    } else {
      const eq = input.indexOf('=');
      expr = eq < 0 ? input : input.slice(0, eq);
      rest = eq < 0 ? '' : input.slice(eq);
    }
    if (rest !== '' && !rest.startsWith('=')) throw usageError(`invalid jsonpath condition: ${value}`);
    let steps: Step[];
    try {
      steps = parseExpression(expr);
    } catch (err) {
      throw usageError(err instanceof Error ? err.message : String(err));
    }
    if (rest === '') return { kind: 'jsonpath', steps, value: undefined };
    const v = rest.slice(1).replace(/^['"]|['"]$/g, '');
    if (v === '') throw usageError('jsonpath wait value cannot be empty');
    return { kind: 'jsonpath', steps, value: v };
  }
  throw usageError(`unrecognized condition: "${value}"`);
}

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** kubectl's condition check: type and status compared case-insensitively, stale conditions ignored. */
export function conditionMet(obj: KubeObject, type: string, status: string): boolean {
  const conditions = rec(obj['status'])['conditions'];
  if (!Array.isArray(conditions)) return false;
  for (const c of conditions.map(rec)) {
    if (typeof c['type'] !== 'string' || c['type'].toLowerCase() !== type.toLowerCase()) continue;
    if (typeof c['status'] !== 'string') continue;
    const generation = obj.metadata.generation;
    if (typeof generation === 'number') {
      const observed =
        typeof c['observedGeneration'] === 'number'
          ? c['observedGeneration']
          : rec(obj['status'])['observedGeneration'];
      if (typeof observed === 'number' && observed < generation) return false;
    }
    return c['status'].toLowerCase() === status.toLowerCase();
  }
  return false;
}

/** kubectl's jsonpath check: one value, not a map or list; equal to the wanted value when given. */
export function jsonPathMet(obj: KubeObject, steps: Step[], value: string | undefined): boolean {
  const results = evaluate(obj, steps);
  if (results.length === 0) return false;
  if (results.length > 1) throw failed('given jsonpath expression matches more than one value');
  const r = results[0];
  if (value === undefined) return r !== undefined;
  if (typeof r === 'object' && r !== null)
    throw failed('jsonpath leads to a nested object or list which is not supported');
  return String(r) === value;
}

export interface WaitOptions {
  for?: string;
  timeout?: string;
  selector?: string;
  fieldSelector?: string;
  all?: boolean;
  allNamespaces?: boolean;
  filename: string[];
  recursive?: boolean;
}

type Outcome =
  { kind: 'met' } | { kind: 'gone-at-start' } | { kind: 'timeout' } | { kind: 'error'; err: unknown };

/** Evaluate the condition on the object's current state (undefined: absent). */
function check(
  cond: WaitCondition,
  obj: KubeObject | undefined,
  uid: string | undefined,
): boolean | 'absent' {
  switch (cond.kind) {
    case 'delete':
      return obj === undefined || (uid !== undefined && obj.metadata.uid !== uid);
    case 'create':
      return obj !== undefined;
    case 'condition':
      return obj === undefined ? 'absent' : conditionMet(obj, cond.type, cond.status);
    case 'jsonpath':
      return obj === undefined ? 'absent' : jsonPathMet(obj, cond.steps, cond.value);
  }
}

async function waitOne(
  io: CliIO,
  client: ApiClient,
  t: Target,
  cond: WaitCondition,
  deadline: number,
  once: boolean,
): Promise<Outcome> {
  const uid = t.live?.metadata.uid;
  const fieldSelector = `metadata.name=${t.name}`;
  for (;;) {
    // List by name: the current state and the resourceVersion to watch from.
    let obj: KubeObject | undefined;
    let rv: string;
    try {
      const list = await client.list(t.info, t.namespace, { fieldSelector });
      obj = list.items.find((o) => o.metadata.name === t.name);
      rv = list.metadata.resourceVersion;
      let state = check(cond, obj, uid);
      if (state === 'absent') {
        // A condition on an object that does not exist: the server's NotFound, as kubectl reports it.
        obj = await client.get(t.info, t.namespace, t.name);
        state = check(cond, obj, uid);
        rv = obj.metadata.resourceVersion ?? rv;
      }
      if (state === true) {
        return cond.kind === 'delete' && obj === undefined && uid === undefined
          ? { kind: 'gone-at-start' }
          : { kind: 'met' };
      }
    } catch (err) {
      return { kind: 'error', err };
    }
    if (once || io.now() >= deadline) return { kind: 'timeout' };

    const outcome = await new Promise<Outcome | { kind: 'relist' } | { kind: 'aborted' }>((resolve) => {
      let settled = false;
      let handle: { close(): void } | undefined;
      const finish = (o: Outcome | { kind: 'relist' } | { kind: 'aborted' }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        io.signal.removeEventListener('abort', onAbort);
        handle?.close();
        resolve(o);
      };
      const onAbort = (): void => finish({ kind: 'aborted' });
      const timer = setTimeout(() => finish({ kind: 'timeout' }), Math.max(0, deadline - io.now()));
      io.signal.addEventListener('abort', onAbort, { once: true });
      client
        .watch(
          t.info,
          t.namespace,
          { resourceVersion: rv, fieldSelector, allowWatchBookmarks: true },
          (ev: WatchEvent) => {
            if (ev.type === 'BOOKMARK') return;
            if (ev.object.metadata.name !== t.name) return;
            try {
              const current = ev.type === 'DELETED' ? undefined : ev.object;
              const state = check(cond, current, uid);
              if (state === true) finish({ kind: 'met' });
              else if (state === 'absent') finish({ kind: 'relist' });
            } catch (err) {
              finish({ kind: 'error', err });
            }
          },
          (err: ApiError) =>
            finish(err.reason === 'Expired' || err.transient ? { kind: 'relist' } : { kind: 'error', err }),
          () => finish({ kind: 'relist' }),
        )
        .then(
          (h) => {
            handle = h;
            if (settled) h.close();
          },
          (err: unknown) =>
            finish(isApiError(err) && err.reason === 'Expired' ? { kind: 'relist' } : { kind: 'error', err }),
        );
    });
    if (outcome.kind === 'aborted') return { kind: 'error', err: failed('interrupted') };
    if (outcome.kind !== 'relist') return outcome;
  }
}

export async function runWait(session: Session, args: string[], opts: WaitOptions): Promise<void> {
  const io = session.io;
  if (opts.for === undefined || opts.for === '')
    throw usageError('--for must be given: create, delete, condition=NAME[=VALUE] or jsonpath=EXPR[=VALUE]');
  const cond = parseFor(opts.for);
  const timeoutText = opts.timeout ?? '30s';
  const timeoutMs = timeoutText.startsWith('-') ? 7 * 24 * 3_600_000 : parseDuration(timeoutText);
  const once = timeoutMs === 0;
  const deadline = io.now() + timeoutMs;

  const targets = await resolveTargets(session, args, opts, 'wait');
  if (targets.length === 0) throw failed('no matching resources found');
  const client = await session.client();
  let failures = 0;
  for (const t of targets) {
    const name = `${typeName(t.info)}/${t.name}`;
    const outcome = await waitOne(io, client, t, cond, deadline, once);
    switch (outcome.kind) {
      case 'met':
        io.stdout.write(`${name} condition met\n`);
        break;
      case 'gone-at-start':
        break;
      case 'timeout': {
        const what = `${t.info.resource}/${t.name}`;
        if (cond.kind === 'create') throw failed('timed out waiting for the condition');
        if (once && cond.kind !== 'delete') throw failed(`condition not met for ${what}`);
        throw failed(`timed out waiting for the condition on ${what}`);
      }
      case 'error': {
        const err = outcome.err;
        if (isPerObjectError(err)) {
          failures++;
          io.stderr.write(`${errorLine(err)}\n`);
          break;
        }
        throw err;
      }
    }
  }
  if (failures > 0) throw alreadyReported();
}

export function registerWait(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('wait')
    .description('Wait until resources meet a condition, exist, or are deleted')
    .argument('[resources...]', 'TYPE NAME... or TYPE/NAME...')
    .option(
      '--for <condition>',
      "create, delete, condition=NAME[=VALUE] (VALUE default true) or jsonpath='{EXPR}'[=VALUE]",
    )
    .option('--timeout <duration>', 'give up after this long (0: check once; negative: a week)', '30s')
    .option('-l, --selector <selector>', 'every object of the type matching this label selector')
    .option('--field-selector <selector>', 'every object of the type matching this field selector')
    .option('--all', 'every object of the type in the namespace')
    .option('-A, --all-namespaces', 'with -l or --all: across all namespaces')
    .option('-f, --filename <path>', 'the objects a file, directory or - describes; repeatable', collect, [])
    .option('-R, --recursive', 'process directories given with -f recursively')
    .addHelpText(
      'after',
      `
Examples:
  flotilla wait deploy/web --for=condition=Available --timeout=2m
  flotilla wait pod/web-1 --for=condition=Ready=false
  flotilla wait pod/web-1 --for=jsonpath='{.status.phase}'=Running
  flotilla wait deploy/web --for='jsonpath={.status.conditions[?(@.type=="Available")].status}=True'
  flotilla wait cm/settings --for=create --timeout=30s
  flotilla wait pods -l app=web --for=delete --timeout=60s

Prints "deployment.apps/web condition met" for each object. Exits 1 with
"timed out waiting for the condition on deployments/web" when --timeout passes first.`,
    )
    .action(async (args: string[], opts: WaitOptions, cmd: Command) => {
      await runWait(session(cmd), args, opts);
    });
}
