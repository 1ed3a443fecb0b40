// `flotilla diff -f FILE`: what `apply` would change, as a unified diff of the live object against
// the object the server would store (the apply is sent with dryRun=All, so nothing changes).
// Exit codes as kubectl's: 0 no differences, 1 differences, 2 (>1) an error.
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { isApiError } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { lastAppliedAnnotation, planApply, type JsonObject } from '../apply-patch.js';
import { CliError, isCliError, type CliIO } from '../io.js';
import { formatProblem, loadManifests, type ManifestObject } from '../manifest.js';
import { toYaml } from '../printers/output.js';
import { errorLine } from '../resource-args.js';
import type { Session } from '../session.js';
import { unifiedHunks } from '../unified-diff.js';
import { applyOrder, assignNamespaces, fieldManagerFor, serverSideApplyError } from './apply.js';
import { collect } from './common.js';

export interface DiffOptions {
  filename: string[];
  recursive?: boolean;
  serverSide?: boolean;
  forceConflicts?: boolean;
  fieldManager?: string;
  showManagedFields?: boolean;
}

/** A diff error: reported, exit 2 (1 means "there are differences"). */
function diffError(message: string): CliError {
  return new CliError('Failed', message, { exitCode: 2 });
}

/** kubectl's file name for an object: `apps.v1.Deployment.shop.web`, `v1.Namespace..dev`. */
export function diffName(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  const gv = obj.apiVersion.replace(/\//g, '.');
  return `${gv}.${obj.kind}.${obj.metadata.namespace ?? ''}.${obj.metadata.name ?? ''}`;
}

const maskDefault = '***';
const maskBefore = '*** (before)';
const maskAfter = '*** (after)';

/** Hide Secret values, marking the keys whose value changes (kubectl diff's masker). */
export function maskSecrets(live: KubeObject | undefined, merged: KubeObject | undefined): void {
  const from = { ...((live?.['data'] as Record<string, unknown> | undefined) ?? {}) };
  const to = { ...((merged?.['data'] as Record<string, unknown> | undefined) ?? {}) };
  for (const k of Object.keys(from)) {
    if (k in to) {
      if (from[k] !== to[k]) {
        from[k] = maskBefore;
        to[k] = maskAfter;
        continue;
      }
      to[k] = maskDefault;
    }
    from[k] = maskDefault;
  }
  for (const k of Object.keys(to)) if (!(k in from)) to[k] = maskDefault;
  if (live !== undefined && live['data'] !== undefined) live['data'] = from;
  if (merged !== undefined && merged['data'] !== undefined) merged['data'] = to;
}

function forDiff(obj: KubeObject | undefined, showManagedFields: boolean): KubeObject | undefined {
  if (obj === undefined) return undefined;
  const copy = structuredClone(obj);
  if (!showManagedFields) delete copy.metadata.managedFields;
  return copy;
}

/** The apply patch without its change to the last-applied annotation (empty maps pruned). */
function withoutLastAppliedChange(patch: JsonObject): JsonObject {
  const out = structuredClone(patch);
  const meta = out['metadata'];
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return out;
  const annotations = meta['annotations'];
  if (typeof annotations === 'object' && annotations !== null && !Array.isArray(annotations)) {
    delete annotations[lastAppliedAnnotation];
    if (Object.keys(annotations).length === 0) delete meta['annotations'];
  }
  if (Object.keys(meta).length === 0) delete out['metadata'];
  return out;
}

interface Pair {
  name: string;
  live: string;
  merged: string;
}

async function mergedObject(
  session: Session,
  m: ManifestObject,
  live: KubeObject | undefined,
  opts: DiffOptions,
): Promise<KubeObject> {
  const client = await session.client();
  const { info, object } = m;
  const ns = object.metadata.namespace;
  const name = object.metadata.name ?? '';
  const fieldManager = fieldManagerFor(opts.serverSide === true, opts.fieldManager);
  const write = { dryRun: true, fieldValidation: 'Strict' as const, fieldManager };
  if (opts.serverSide === true) {
    return client.patch(info, ns, name, 'apply', object, { ...write, force: opts.forceConflicts === true });
  }
  // Like kubectl diff, the preview leaves the last-applied annotation alone (apply also rewrites it).
  if (live === undefined) return client.create(info, ns, object, write);
  const patch = withoutLastAppliedChange(planApply(object, live).patch);
  if (Object.keys(patch).length === 0) return live;
  return client.patch(info, ns, name, 'merge', patch, write);
}

function timestamp(now: number): string {
  const d = new Date(now);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(
    d.getUTCMinutes(),
  )}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}000000 +0000`;
}

/** The output of `diff -u -N LIVE MERGED` over the two trees, computed here. */
export function formatDiff(pairs: Pair[], now: number): string {
  let out = '';
  const when = timestamp(now);
  for (const p of [...pairs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const hunks = unifiedHunks(p.live, p.merged);
    if (hunks === '') continue;
    out += `diff -u -N LIVE/${p.name} MERGED/${p.name}\n`;
    out += `--- LIVE/${p.name}\t${when}\n`;
    out += `+++ MERGED/${p.name}\t${when}\n`;
    out += hunks;
  }
  return out;
}

/** `KUBECTL_EXTERNAL_DIFF` / `FLOTILLA_EXTERNAL_DIFF`: run that program over two temporary trees. */
async function externalDiff(io: CliIO, command: string, pairs: Pair[]): Promise<number> {
  const parts = command.trim().split(/\s+/);
  const program = parts[0] ?? 'diff';
  const root = mkdtempSync(join(io.tmpdir, 'flotilla-diff-'));
  try {
    const liveDir = join(root, 'LIVE');
    const mergedDir = join(root, 'MERGED');
    mkdirSync(liveDir);
    mkdirSync(mergedDir);
    for (const p of pairs) {
      writeFileSync(join(liveDir, p.name), p.live);
      writeFileSync(join(mergedDir, p.name), p.merged);
    }
    const r = await io.spawn(program, [...parts.slice(1), liveDir, mergedDir], { interactive: false });
    io.stdout.write(r.stdout);
    io.stderr.write(r.stderr);
    if (r.code < 0) throw diffError(`failed to run "${program}": ${r.error ?? 'unknown error'}`);
    return r.code;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export async function runDiff(session: Session, opts: DiffOptions): Promise<void> {
  const io = session.io;
  try {
    if (opts.filename.length === 0) throw diffError('must specify -f (a file, a directory or - for stdin)');
    if (opts.forceConflicts === true && opts.serverSide !== true)
      throw diffError('--force-conflicts only works with --server-side');
    const set = await loadManifests(opts.filename, {
      recursive: opts.recursive === true,
      cwd: io.cwd,
      readStdin: io.readStdin,
    });
    set.problems.push(...assignNamespaces(set.objects, session.explicitNamespace, await session.namespace()));
    if (set.problems.length > 0) {
      for (const p of set.problems) io.stderr.write(`error: ${formatProblem(p)}\n`);
      throw new CliError('Failed', '', { reported: true, exitCode: 2 });
    }
    const client = await session.client();
    const pairs: Pair[] = [];
    const show = opts.showManagedFields === true;
    for (const m of applyOrder(set.objects)) {
      const { info, object } = m;
      let live: KubeObject | undefined;
      try {
        live = await client.get(info, object.metadata.namespace, object.metadata.name ?? '');
      } catch (err) {
        if (!isApiError(err) || err.reason !== 'NotFound') throw err;
      }
      let merged: KubeObject;
      try {
        merged = await mergedObject(session, m, live, opts);
      } catch (err) {
        const ssa = opts.serverSide === true ? serverSideApplyError(err) : undefined;
        if (ssa !== undefined) throw diffError(ssa);
        if (isApiError(err)) {
          io.stderr.write(`${errorLine(err, `error when computing the diff of "${m.source}"`)}\n`);
          throw new CliError('Failed', '', { reported: true, exitCode: 2 });
        }
        throw err;
      }
      const before = forDiff(live, show);
      const after = forDiff(merged, show);
      if (info.group === '' && info.kind === 'Secret') maskSecrets(before, after);
      pairs.push({
        name: diffName(object),
        live: before === undefined ? '' : toYaml(before),
        merged: after === undefined ? '' : toYaml(after),
      });
    }
    const external = io.env['FLOTILLA_EXTERNAL_DIFF'] ?? io.env['KUBECTL_EXTERNAL_DIFF'];
    if (external !== undefined && external.trim() !== '') {
      const code = await externalDiff(io, external, pairs);
      if (code === 0) return;
      if (code === 1) throw new CliError('Failed', '', { reported: true, exitCode: 1 });
      throw new CliError('Failed', `"${external}" exited with ${code}`, { exitCode: code > 1 ? code : 2 });
    }
    const text = formatDiff(pairs, io.now());
    if (text === '') return;
    io.stdout.write(text);
    throw new CliError('Failed', '', { reported: true, exitCode: 1 });
  } catch (err) {
    if (isCliError(err)) {
      if (err.code === 'Usage' || err.exitCode !== 1) throw err;
      if (err.reported) throw err;
      throw new CliError('Failed', err.message, { exitCode: 2 });
    }
    // Unreachable server, bad kubeconfig...: still an error, so exit 2.
    io.stderr.write(`${errorLine(err)}\n`);
    throw new CliError('Failed', '', { reported: true, exitCode: 2 });
  }
}

export function registerDiff(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('diff')
    .description('Show what `apply` would change: the live objects against the ones the server would store')
    .option(
      '-f, --filename <path>',
      'file, directory or - (stdin) with the manifests; repeatable',
      collect,
      [],
    )
    .option('-R, --recursive', 'process directories given with -f recursively')
    .option('--server-side', 'compare against a server-side apply instead of a client-side one')
    .option('--force-conflicts', 'with --server-side: as if conflicting fields were taken over')
    .option('--field-manager <name>', 'the field manager of the (dry-run) apply (as for apply)')
    .option('--show-managed-fields', 'include metadata.managedFields in the comparison')
    .addHelpText(
      'after',
      `
Examples:
  flotilla diff -f app.yaml
  flotilla diff -f k8s/ -R
  flotilla diff -f app.yaml --server-side
  KUBECTL_EXTERNAL_DIFF="diff -u -N --color=always" flotilla diff -f app.yaml

Each object is applied with dryRun=All (nothing is stored) and the live object is compared with the
result, as YAML, in unified diff format; Secret values are shown as ***. Exit status: 0 when there
are no differences, 1 when there are, 2 on errors. With KUBECTL_EXTERNAL_DIFF (or
FLOTILLA_EXTERNAL_DIFF) set, that program is run on two directories, LIVE and MERGED.`,
    )
    .action(async (opts: DiffOptions, cmd: Command) => {
      await runDiff(session(cmd), opts);
    });
}
