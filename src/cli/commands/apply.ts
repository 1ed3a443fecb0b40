// `flotilla apply -f FILE|DIR|-`: create what is missing, patch what changed, leave the rest.
import type { Command } from 'commander';
import { isApiError } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { planApply, withLastApplied } from '../apply-patch.js';
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
}

const fieldManager = 'flotilla';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
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
    .addHelpText(
      'after',
      `
Examples:
  flotilla apply -f app.yaml
  flotilla apply -f k8s/ -R
  cat app.yaml | flotilla apply -f -
  flotilla apply -f app.yaml -n staging --dry-run=server`,
    )
    .action(
      async (
        opts: { filename: string[]; recursive?: boolean; dryRun: string; output?: string },
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
        await runApply(session(cmd), applyOpts);
      },
    );
}
