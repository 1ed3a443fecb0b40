// `flotilla label` and `flotilla annotate`: add, change or remove labels / annotations, as kubectl does
// (a JSON merge patch on metadata; an existing key is only changed with --overwrite).
import type { Command } from 'commander';
import type { KubeObject } from '../../api/types.js';
import { isQualifiedName, isValidLabelValue } from '../../api/validation/names.js';
import { alreadyReported, usageError } from '../io.js';
import { badOutputFormat, ResultPrinter, typeName } from '../printers/output.js';
import { errorLine, isPerObjectError } from '../resource-args.js';
import type { Session } from '../session.js';
import { resolveTargets, splitResourcesAndPairs } from '../targets.js';
import { collect, parseDryRun, type DryRun } from './common.js';

export type MetadataMap = 'labels' | 'annotations';

export interface LabelOptions {
  overwrite?: boolean;
  resourceVersion?: string;
  list?: boolean;
  selector?: string;
  fieldSelector?: string;
  all?: boolean;
  allNamespaces?: boolean;
  filename: string[];
  recursive?: boolean;
  dryRun?: string;
  output?: string;
  fieldManager?: string;
}

export interface ParsedPairs {
  set: Record<string, string>;
  remove: string[];
}

/** `key=value` and `key-` arguments, checked the way kubectl checks them. */
export function parsePairs(kind: MetadataMap, pairs: string[]): ParsedPairs {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const spec of pairs) {
    if (spec.includes('=')) {
      if (kind === 'labels') {
        const parts = spec.split('=');
        const [key = '', value = ''] = parts;
        if (parts.length !== 2 || key === '') throw usageError(`invalid label spec: ${spec}`);
        const keyErrors = isQualifiedName(key);
        if (keyErrors.length > 0) throw usageError(`invalid label key: "${key}": ${keyErrors.join('; ')}`);
        const valueErrors = isValidLabelValue(value);
        if (valueErrors.length > 0)
          throw usageError(`invalid label value: "${spec}": ${valueErrors.join('; ')}`);
        set[key] = value;
      } else {
        const eq = spec.indexOf('=');
        const key = spec.slice(0, eq);
        if (key === '') throw usageError(`invalid annotation format: ${spec}`);
        const keyErrors = isQualifiedName(key);
        if (keyErrors.length > 0)
          throw usageError(`invalid annotation key: "${key}": ${keyErrors.join('; ')}`);
        set[key] = spec.slice(eq + 1);
      }
    } else if (spec.endsWith('-') && spec.length > 1) {
      remove.push(spec.slice(0, -1));
    } else {
      throw usageError(
        kind === 'labels' ? `unknown label spec: ${spec}` : `invalid annotation format: ${spec}`,
      );
    }
  }
  for (const key of remove) {
    if (key in set) {
      throw usageError(
        kind === 'labels'
          ? 'can not both modify and remove a label in the same command'
          : 'can not both modify and remove an annotation in the same command',
      );
    }
  }
  return { set, remove };
}

/** The error kubectl gives when a key already has another value and --overwrite is not set. */
export function overwriteError(
  kind: MetadataMap,
  current: Record<string, string>,
  set: Record<string, string>,
): string | undefined {
  const clashes = Object.keys(set)
    .filter((k) => k in current && current[k] !== set[k])
    .map((k) => `'${k}' already has a value (${current[k] ?? ''})`);
  if (clashes.length === 0) return undefined;
  if (kind === 'labels') {
    const errs = clashes.map((c) => `${c}, and --overwrite is false`);
    return errs.length === 1 ? (errs[0] ?? '') : `[${errs.join(', ')}]`;
  }
  return `--overwrite is false but found the following declared annotation(s): ${clashes.join('; ')}`;
}

export interface MetadataChange {
  /** The merge patch (`{}` when nothing changes, unless a resourceVersion precondition is given). */
  patch: Record<string, unknown>;
  /** The object as it will be after the change. */
  updated: KubeObject;
  changed: boolean;
  /** Keys asked to be removed that the object does not have. */
  missing: string[];
}

/** Compute the change of `kind` on `obj` (pure). */
export function metadataChange(
  kind: MetadataMap,
  obj: KubeObject,
  pairs: ParsedPairs,
  resourceVersion: string | undefined,
): MetadataChange {
  const current: Record<string, string> = { ...(obj.metadata[kind] ?? {}) };
  const next: Record<string, string> = { ...current };
  const delta: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(pairs.set)) {
    if (current[k] !== v) delta[k] = v;
    next[k] = v;
  }
  const missing: string[] = [];
  for (const k of pairs.remove) {
    if (k in current) {
      delta[k] = null;
      delete next[k];
    } else missing.push(k);
  }
  const changed = Object.keys(delta).length > 0;
  const meta: Record<string, unknown> = {};
  if (changed) meta[kind] = delta;
  if (resourceVersion !== undefined && resourceVersion !== '') meta['resourceVersion'] = resourceVersion;
  const patch = Object.keys(meta).length > 0 ? { metadata: meta } : {};
  const updated: KubeObject = structuredClone(obj);
  if (Object.keys(next).length > 0) updated.metadata[kind] = next;
  else delete updated.metadata[kind];
  return { patch, updated, changed, missing };
}

function changeMessage(
  kind: MetadataMap,
  change: MetadataChange,
  before: KubeObject,
  overwrite: boolean,
): string {
  if (kind === 'annotations') return 'annotated';
  if (!change.changed) return 'not labeled';
  // kubectl's rule: without --overwrite, a change that makes the object smaller is an "unlabel".
  const size = (o: KubeObject): number => JSON.stringify(o.metadata.labels ?? {}).length;
  return !overwrite && size(change.updated) < size(before) ? 'unlabeled' : 'labeled';
}

export async function runLabel(
  kind: MetadataMap,
  session: Session,
  args: string[],
  opts: LabelOptions,
): Promise<void> {
  const io = session.io;
  const verb = kind === 'labels' ? 'label' : 'annotate';
  const output = ResultPrinter.format(opts.output);
  if (output === undefined) throw usageError(badOutputFormat(opts.output ?? ''));
  const dryRun: DryRun = parseDryRun(opts.dryRun);
  const fromFiles = opts.filename.length > 0;
  const { resources, pairs } = fromFiles
    ? { resources: [], pairs: args }
    : splitResourcesAndPairs(args, verb);
  const parsed = parsePairs(kind, pairs);
  if (opts.list !== true && Object.keys(parsed.set).length === 0 && parsed.remove.length === 0)
    throw usageError(`at least one ${kind === 'labels' ? 'label' : 'annotation'} update is required`);
  if (fromFiles && resources.length > 0)
    throw usageError('specify either -f or TYPE NAME arguments, not both');

  const targets = await resolveTargets(session, resources, opts, verb);
  const client = await session.client();
  const printer = new ResultPrinter(io.stdout, output);
  const suffix = dryRun === 'server' ? ' (server dry run)' : dryRun === 'client' ? ' (dry run)' : '';
  let failures = 0;
  for (const t of targets) {
    const name = `${typeName(t.info)}/${t.name}`;
    try {
      const live = t.live ?? (await client.get(t.info, t.namespace, t.name));
      if (opts.list === true) {
        const map = live.metadata[kind] ?? {};
        for (const k of Object.keys(map).sort()) io.stdout.write(`${k}=${map[k] ?? ''}\n`);
        continue;
      }
      if (opts.overwrite !== true) {
        const clash = overwriteError(kind, live.metadata[kind] ?? {}, parsed.set);
        if (clash !== undefined) {
          failures++;
          io.stderr.write(`error: ${clash}\n`);
          continue;
        }
      }
      const change = metadataChange(kind, live, parsed, opts.resourceVersion);
      if (kind === 'labels') for (const k of change.missing) io.stdout.write(`label "${k}" not found.\n`);
      let result = change.updated;
      if (dryRun !== 'client' && Object.keys(change.patch).length > 0) {
        result = await client.patch(t.info, t.namespace, t.name, 'merge', change.patch, {
          fieldManager: opts.fieldManager ?? `flotilla-${verb}`,
          dryRun: dryRun === 'server',
        });
      }
      printer.print(name, `${changeMessage(kind, change, live, opts.overwrite === true)}${suffix}`, result);
    } catch (err) {
      if (!isPerObjectError(err)) throw err;
      failures++;
      io.stderr.write(`${errorLine(err)}\n`);
    }
  }
  printer.finish();
  if (failures > 0) throw alreadyReported();
}

function register(program: Command, session: (cmd: Command) => Session, kind: MetadataMap): void {
  const verb = kind === 'labels' ? 'label' : 'annotate';
  const what = kind === 'labels' ? 'label' : 'annotation';
  program
    .command(verb)
    .description(
      kind === 'labels'
        ? 'Add, change or remove labels of resources'
        : 'Add, change or remove annotations of resources',
    )
    .argument('<args...>', `TYPE NAME... or TYPE/NAME..., then KEY=VALUE (set) and KEY- (remove)`)
    .option('--overwrite', `allow changing the value of an existing ${what}`)
    .option('--resource-version <rv>', 'only change the object if it is still at this resourceVersion')
    .option('--list', `print the ${what}s of each object instead of changing them`)
    .option('-l, --selector <selector>', 'every object of the type matching this label selector')
    .option('--field-selector <selector>', 'every object of the type matching this field selector')
    .option('--all', 'every object of the type in the namespace')
    .option('-A, --all-namespaces', 'with -l or --all: across all namespaces')
    .option('-f, --filename <path>', 'the objects a file, directory or - describes; repeatable', collect, [])
    .option('-R, --recursive', 'process directories given with -f recursively')
    .option('--dry-run <mode>', 'none, client (change nothing) or server (validated, not stored)', 'none')
    .option('-o, --output <format>', 'name, yaml or json instead of the status line')
    .option('--field-manager <name>', 'the field manager recorded for the change', `flotilla-${verb}`)
    .addHelpText(
      'after',
      kind === 'labels'
        ? `
Examples:
  flotilla label deploy web tier=frontend
  flotilla label deploy/web tier=backend --overwrite
  flotilla label pods -l app=web canary-          # remove the label "canary"
  flotilla label deploy web --list
  flotilla label -f app.yaml team=shop

A key that already has a different value is only changed with --overwrite. Output:
  deployment.apps/web labeled | unlabeled | not labeled`
        : `
Examples:
  flotilla annotate deploy web owner=ops
  flotilla annotate deploy/web owner=dev --overwrite
  flotilla annotate svc web note-                  # remove the annotation "note"
  flotilla annotate pods --all -n dev reviewed=yes

A key that already has a different value is only changed with --overwrite. Output:
  deployment.apps/web annotated`,
    )
    .action(async (args: string[], opts: LabelOptions, cmd: Command) => {
      await runLabel(kind, session(cmd), args, opts);
    });
}

export function registerLabel(program: Command, session: (cmd: Command) => Session): void {
  register(program, session, 'labels');
  register(program, session, 'annotations');
}
