// `flotilla apply -f FILE|DIR|-`: create what is missing, patch what changed, leave the rest.
import type { Command } from 'commander';
import { isApiError } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { lastAppliedAnnotation, lastAppliedValue, planApply, withLastApplied } from '../apply-patch.js';
import { alreadyReported, failed, usageError } from '../io.js';
import { formatProblem, loadManifests, type ManifestObject, type ManifestProblem } from '../manifest.js';
import { formatObjects, pluralTypeName, typeName } from '../printers/output.js';
import { errorLine, isPerObjectError } from '../resource-args.js';
import type { Session } from '../session.js';

export interface ApplyOptions {
  filename: string[];
  recursive?: boolean;
  dryRun?: 'none' | 'client' | 'server';
  output?: string;
  /** Server-side apply (`application/apply-patch+yaml`) instead of the client-side three-way patch. */
  serverSide?: boolean;
  /** Server-side apply: take over fields other managers own instead of failing with a conflict. */
  forceConflicts?: boolean;
  fieldManager?: string;
}

export const defaultFieldManager = 'flotilla';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const conflictAdvice = `Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the \`--force-conflicts\` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts`;

/**
 * kubectl's wording for server-side apply failures: a conflict names the other managers and says
 * how to resolve it; a server without server-side apply (415) says so. Undefined for other errors.
 */
export function serverSideApplyError(err: unknown): string | undefined {
  if (!isApiError(err)) return undefined;
  if (err.reason === 'UnsupportedMediaType')
    return `Server-side apply not available on the server: (${err.message})`;
  if (
    err.reason === 'Conflict' &&
    (err.details?.causes ?? []).some((c) => c.reason === 'FieldManagerConflict')
  )
    return `${err.message}\n${conflictAdvice}`;
  if (err.reason === 'Conflict' && /conflict/i.test(err.message) && err.message.startsWith('Apply failed'))
    return `${err.message}\n${conflictAdvice}`;
  return undefined;
}

/** Namespaced objects get the object's namespace, else `-n`, else the context's, else `default`. */
export function assignNamespaces(
  objects: ManifestObject[],
  explicit: string | undefined,
  fallback: string,
): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  for (const m of objects) {
    const meta = m.object.metadata;
    if (!m.info.namespaced) {
      delete meta.namespace;
      continue;
    }
    const own = meta.namespace !== undefined && meta.namespace !== '' ? meta.namespace : undefined;
    if (own !== undefined && explicit !== undefined && own !== explicit) {
      const p: ManifestProblem = {
        source: m.source,
        document: m.document,
        message: `the namespace from the provided object "${own}" does not match the namespace "${explicit}". You must pass '--namespace=${own}' to perform this operation.`,
      };
      if (m.item !== undefined) p.item = m.item;
      problems.push(p);
    }
    meta.namespace = own ?? explicit ?? fallback;
  }
  return problems;
}

/** Namespaces first (so the objects in them can be created in the same run), otherwise file order. */
export function applyOrder(objects: ManifestObject[]): ManifestObject[] {
  const isNs = (m: ManifestObject): boolean => m.info.group === '' && m.info.kind === 'Namespace';
  return [...objects.filter(isNs), ...objects.filter((m) => !isNs(m))];
}

export async function runApply(session: Session, opts: ApplyOptions): Promise<void> {
  const io = session.io;
  if (opts.filename.length === 0) throw usageError('must specify -f (a file, a directory or - for stdin)');
  const output = opts.output ?? '';
  if (!['', 'name', 'yaml', 'json'].includes(output))
    throw usageError(
      `unable to match a printer suitable for the output format "${output}", allowed formats are: json,name,yaml`,
    );
  const dryRun = opts.dryRun ?? 'none';
  const serverSide = opts.serverSide === true;
  if (opts.forceConflicts === true && !serverSide)
    throw usageError('--force-conflicts only works with --server-side');
  if (serverSide && dryRun === 'client')
    throw usageError(
      "--dry-run=client doesn't work with --server-side (did you mean --dry-run=server instead?)",
    );
  const fieldManager = opts.fieldManager ?? defaultFieldManager;
  if (fieldManager === '') throw usageError('--field-manager must not be empty');

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
  if (set.objects.length === 0) throw failed('no objects passed to apply');

  const client = await session.client();
  const suffix = dryRun === 'server' ? ' (server dry run)' : dryRun === 'client' ? ' (dry run)' : '';
  const writeOpts = { fieldValidation: 'Strict' as const, fieldManager, dryRun: dryRun === 'server' };
  const results: KubeObject[] = [];
  let failures = 0;

  for (const m of applyOrder(set.objects)) {
    const { info, object } = m;
    const ns = object.metadata.namespace;
    const name = object.metadata.name ?? '';
    const label = `${typeName(info)}/${name}`;
    const report = (verb: string, result: KubeObject): void => {
      results.push(result);
      if (output === '') io.stdout.write(`${label} ${verb}${suffix}\n`);
      else if (output === 'name') io.stdout.write(`${label}\n`);
    };
    if (serverSide) {
      try {
        const applied = await client.patch(info, ns, name, 'apply', object, {
          ...writeOpts,
          force: opts.forceConflicts === true,
        });
        report('serverside-applied', applied);
        await syncLastApplied(session, m, applied, fieldManager, dryRun === 'server');
      } catch (err) {
        const ssa = serverSideApplyError(err);
        if (ssa === undefined && !isPerObjectError(err)) throw err;
        failures++;
        io.stderr.write(
          ssa !== undefined ? `error: ${ssa}\n` : `${errorLine(err, `error when applying "${m.source}"`)}\n`,
        );
      }
      continue;
    }
    let stage = 'retrieving current configuration of';
    try {
      let live: KubeObject | undefined;
      try {
        live = await client.get(info, ns, name);
      } catch (err) {
        if (!isApiError(err) || err.reason !== 'NotFound') throw err;
      }
      if (live === undefined) {
        stage = 'creating';
        const desired = withLastApplied(object);
        const created = dryRun === 'client' ? desired : await client.create(info, ns, desired, writeOpts);
        report('created', created);
        continue;
      }
      const plan = planApply(object, live);
      if (Object.keys(plan.patch).length === 0) {
        report('unchanged', live);
        continue;
      }
      if (plan.missingAnnotation) {
        io.stderr.write(
          `Warning: resource ${pluralTypeName(info)}/${name} is missing the kubectl.kubernetes.io/last-applied-configuration annotation which is required by flotilla apply. flotilla apply should only be used on resources created declaratively by flotilla apply. The missing annotation will be patched automatically.\n`,
        );
      }
      stage = 'applying';
      const patched =
        dryRun === 'client' ? live : await client.patch(info, ns, name, 'merge', plan.patch, writeOpts);
      report('configured', patched);
    } catch (err) {
      if (!isPerObjectError(err)) throw err;
      failures++;
      io.stderr.write(`${errorLine(err, `error when ${stage} "${m.source}"`)}\n`);
    }
  }
  if (output === 'yaml' || output === 'json')
    io.stdout.write(formatObjects(output, results, set.objects.length === 1));
  if (failures > 0) throw alreadyReported();
}

/**
 * After a server-side apply of an object that also carries the client-side apply annotation, keep
 * that annotation in step with the configuration just applied (as kubectl does with its
 * `kubectl-last-applied` manager), so a later client-side apply still computes the right patch.
 */
async function syncLastApplied(
  session: Session,
  m: ManifestObject,
  applied: KubeObject,
  fieldManager: string,
  dryRun: boolean,
): Promise<void> {
  const current = applied.metadata.annotations?.[lastAppliedAnnotation];
  if (current === undefined || fieldManager !== defaultFieldManager) return;
  const wanted = lastAppliedValue(m.object);
  if (current === wanted) return;
  const meta: Record<string, unknown> = {
    name: m.object.metadata.name,
    annotations: { [lastAppliedAnnotation]: wanted },
  };
  if (m.info.namespaced) meta['namespace'] = m.object.metadata.namespace;
  try {
    const client = await session.client();
    await client.patch(
      m.info,
      m.object.metadata.namespace,
      m.object.metadata.name ?? '',
      'apply',
      { apiVersion: m.object.apiVersion, kind: m.object.kind, metadata: meta },
      { fieldManager: `${fieldManager}-last-applied`, force: true, dryRun },
    );
  } catch (err) {
    session.io.stderr.write(
      `Warning: could not update the ${lastAppliedAnnotation} annotation of ${typeName(m.info)}/${m.object.metadata.name ?? ''}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
  }
}

export function registerApply(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('apply')
    .description(
      'Create or update resources from files, directories or stdin (client-side apply, like kubectl)',
    )
    .option(
      '-f, --filename <path>',
      'file, directory or - (stdin) with YAML or JSON manifests; repeatable',
      collect,
      [],
    )
    .option('-R, --recursive', 'process directories given with -f recursively')
    .option(
      '--dry-run <mode>',
      'none, client (print what would happen) or server (validated by the server, not stored)',
      'none',
    )
    .option('-o, --output <format>', 'name, yaml or json instead of the status lines')
    .option('--server-side', 'server-side apply: the server merges the configuration and tracks field owners')
    .option('--force-conflicts', 'with --server-side: take over fields that other managers own')
    .option('--field-manager <name>', 'the field manager recorded for the changes', defaultFieldManager)
    .addHelpText(
      'after',
      `
Examples:
  flotilla apply -f app.yaml
  flotilla apply -f k8s/ -R
  cat app.yaml | flotilla apply -f -
  flotilla apply -f app.yaml -n staging --dry-run=server
  flotilla apply -f app.yaml --server-side
  flotilla apply -f app.yaml --server-side --force-conflicts --field-manager=ci

Output: one line per object, "created", "configured", "unchanged" (client-side apply) or
"serverside-applied" (--server-side).`,
    )
    .action(
      async (
        opts: {
          filename: string[];
          recursive?: boolean;
          dryRun: string;
          output?: string;
          serverSide?: boolean;
          forceConflicts?: boolean;
          fieldManager?: string;
        },
        cmd: Command,
      ) => {
        if (!['none', 'client', 'server'].includes(opts.dryRun)) {
          throw usageError(`invalid --dry-run value "${opts.dryRun}": must be none, client or server`);
        }
        const applyOpts: ApplyOptions = {
          filename: opts.filename,
          dryRun: opts.dryRun as 'none' | 'client' | 'server',
        };
        if (opts.recursive === true) applyOpts.recursive = true;
        if (opts.output !== undefined) applyOpts.output = opts.output;
        if (opts.serverSide === true) applyOpts.serverSide = true;
        if (opts.forceConflicts === true) applyOpts.forceConflicts = true;
        if (opts.fieldManager !== undefined) applyOpts.fieldManager = opts.fieldManager;
        await runApply(session(cmd), applyOpts);
      },
    );
}
