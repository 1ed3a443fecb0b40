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

/** The field manager of server-side apply (kubectl's is `kubectl`). */
export const defaultFieldManager = 'flotilla';
/**
 * The field manager of client-side apply (kubectl's is `kubectl-client-side-apply`): a different
 * name, so that a later server-side apply by `flotilla` is not in conflict with itself.
 */
export const clientSideFieldManager = 'flotilla-client-side-apply';

/** The field manager an apply uses: --field-manager, else the default of its kind of apply. */
export function fieldManagerFor(serverSide: boolean, flag: string | undefined): string {
  if (flag !== undefined) return flag;
  return serverSide ? defaultFieldManager : clientSideFieldManager;
}

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
  const fieldManager = fieldManagerFor(serverSide, opts.fieldManager);
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
        report(
          'serverside-applied',
          await serverSideApply(session, m, {
            fieldManager,
            force: opts.forceConflicts === true,
            dryRun: dryRun === 'server',
          }),
        );
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

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
  [key: string]: unknown;
}

function entriesOf(obj: KubeObject): ManagedFieldsEntry[] {
  return Array.isArray(obj.metadata.managedFields)
    ? (obj.metadata.managedFields as ManagedFieldsEntry[])
    : [];
}

/** Does the entry own the last-applied annotation (kubectl's lastAppliedAnnotationFieldPath)? */
function ownsLastApplied(e: ManagedFieldsEntry): boolean {
  const meta = e.fieldsV1?.['f:metadata'] as Record<string, unknown> | undefined;
  const annotations = meta?.['f:annotations'] as Record<string, unknown> | undefined;
  return annotations?.[`f:${lastAppliedAnnotation}`] !== undefined;
}

/** The client-side apply managers of an object: `Update` entries that own the last-applied annotation. */
export function clientSideManagers(obj: KubeObject): string[] {
  return [
    ...new Set(
      entriesOf(obj)
        .filter((e) => e.operation === 'Update' && (e.subresource ?? '') === '' && ownsLastApplied(e))
        .map((e) => e.manager ?? ''),
    ),
  ];
}

function unionFields(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const x = out[k];
    out[k] =
      typeof x === 'object' && x !== null && typeof v === 'object' && v !== null
        ? unionFields(x as Record<string, unknown>, v as Record<string, unknown>)
        : (x ?? v);
  }
  return out;
}

/**
 * kubectl's csaupgrade.UpgradeManagedFields: the `Update` entries of `csaManagers` folded into
 * `ssaManager`'s `Apply` entry (which the first of them becomes when it does not exist). Undefined
 * when there is nothing to move.
 */
export function upgradeManagedFields(
  managedFields: unknown,
  csaManagers: string[],
  ssaManager: string,
): ManagedFieldsEntry[] | undefined {
  if (!Array.isArray(managedFields)) return undefined;
  let out = (managedFields as ManagedFieldsEntry[]).map((e) => ({ ...e }));
  let changed = false;
  for (const name of csaManagers) {
    if (name === ssaManager) continue;
    const csa = out.find(
      (e) => e.manager === name && e.operation === 'Update' && (e.subresource ?? '') === '',
    );
    if (csa === undefined) continue;
    changed = true;
    const ssa = out.find(
      (e) => e.manager === ssaManager && e.operation === 'Apply' && (e.subresource ?? '') === '',
    );
    if (ssa === undefined) {
      csa.manager = ssaManager;
      csa.operation = 'Apply';
      continue;
    }
    ssa.fieldsV1 = unionFields(ssa.fieldsV1 ?? {}, csa.fieldsV1 ?? {});
    out = out.filter((e) => e !== csa);
  }
  return changed ? out : undefined;
}

/** Move the client-side managers' fields to `fieldManager` (a JSON patch guarded by the resourceVersion). */
async function migrateFields(
  session: Session,
  m: ManifestObject,
  live: KubeObject,
  csaManagers: string[],
  fieldManager: string,
): Promise<boolean> {
  const upgraded = upgradeManagedFields(live.metadata.managedFields, csaManagers, fieldManager);
  if (upgraded === undefined) return false;
  const client = await session.client();
  await client.patch(
    m.info,
    m.object.metadata.namespace,
    m.object.metadata.name ?? '',
    'json',
    [
      { op: 'test', path: '/metadata/resourceVersion', value: live.metadata.resourceVersion },
      { op: 'replace', path: '/metadata/managedFields', value: upgraded },
    ],
    {},
  );
  return true;
}

/** The managers a server-side apply conflict names. */
function conflictingManagers(err: unknown): string[] {
  if (!isApiError(err) || err.reason !== 'Conflict') return [];
  const texts = [err.message, ...(err.details?.causes ?? []).map((c) => c.message)];
  const names = new Set<string>();
  for (const t of texts) for (const mm of t.matchAll(/conflict with "([^"]+)"/g)) names.add(mm[1] ?? '');
  return [...names];
}

function warn(session: Session, m: ManifestObject, what: string, err: unknown): void {
  session.io.stderr.write(
    `Warning: ${what} of ${typeName(m.info)}/${m.object.metadata.name ?? ''} failed: ${err instanceof Error ? err.message : String(err)}\n`,
  );
}

/**
 * Server-side apply of one object. With the default manager (`flotilla`), objects that client-side
 * apply managed before get kubectl's care (apply.go): the last-applied annotation is given an apply
 * owner (`flotilla-last-applied`) so it is not dropped; the fields of the client-side apply managers
 * are moved to this manager and the configuration applied once more (so fields dropped from it go
 * away); and, because the API server keeps the annotation in step only for kubectl's manager, the
 * annotation is updated to this configuration so a later client-side apply computes the right patch.
 * A conflict whose only owners are the object's client-side apply managers is resolved by moving their
 * fields first (the hand-over kube-apiserver does for kubectl), except in a dry run.
 */
async function serverSideApply(
  session: Session,
  m: ManifestObject,
  opts: { fieldManager: string; force: boolean; dryRun: boolean },
): Promise<KubeObject> {
  const client = await session.client();
  const { info, object } = m;
  const ns = object.metadata.namespace;
  const name = object.metadata.name ?? '';
  const write = {
    fieldValidation: 'Strict' as const,
    fieldManager: opts.fieldManager,
    dryRun: opts.dryRun,
    force: opts.force,
  };
  const apply = (): Promise<KubeObject> => client.patch(info, ns, name, 'apply', object, write);
  const lastAppliedManager = `${opts.fieldManager}-last-applied`;
  const annotationPatch = (value: string): unknown => ({
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: {
      name,
      ...(info.namespaced ? { namespace: ns } : {}),
      annotations: { [lastAppliedAnnotation]: value },
    },
  });
  /**
   * kubectl's saveLastApplyAnnotationIfNecessary (for its default manager only): an apply owner for
   * the annotation, so that moving fields to this manager does not make the annotation a dropped field.
   */
  const keepAnnotation = async (obj: KubeObject): Promise<KubeObject> => {
    const annotation = obj.metadata.annotations?.[lastAppliedAnnotation];
    if (annotation === undefined || opts.fieldManager !== defaultFieldManager) return obj;
    if (entriesOf(obj).some((e) => e.operation === 'Apply' && ownsLastApplied(e))) return obj;
    return client.patch(info, ns, name, 'apply', annotationPatch(annotation), {
      fieldManager: lastAppliedManager,
    });
  };

  let applied: KubeObject;
  try {
    applied = await apply();
  } catch (err) {
    const owners = conflictingManagers(err);
    if (owners.length === 0 || opts.dryRun || opts.fieldManager !== defaultFieldManager) throw err;
    let live = await client.get(info, ns, name);
    const csa = clientSideManagers(live);
    if (!owners.every((o) => csa.includes(o))) throw err;
    live = await keepAnnotation(live);
    await migrateFields(session, m, live, csa, opts.fieldManager);
    applied = await apply();
  }
  if (opts.dryRun || opts.fieldManager !== defaultFieldManager) return applied;
  if (applied.metadata.annotations?.[lastAppliedAnnotation] === undefined) return applied;
  try {
    applied = await keepAnnotation(applied);
  } catch (err) {
    warn(session, m, 'keeping the last-applied-configuration annotation', err);
    return applied;
  }
  // kubectl's migrateToSSAIfNecessary, then the configuration once more.
  try {
    if (await migrateFields(session, m, applied, clientSideManagers(applied), opts.fieldManager))
      applied = await apply();
  } catch (err) {
    warn(session, m, 'moving fields from client-side to server-side apply', err);
  }
  const wanted = lastAppliedValue(object);
  if (applied.metadata.annotations?.[lastAppliedAnnotation] !== wanted) {
    try {
      applied = await client.patch(info, ns, name, 'apply', annotationPatch(wanted), {
        fieldManager: lastAppliedManager,
        force: true,
      });
    } catch (err) {
      warn(session, m, 'updating the last-applied-configuration annotation', err);
    }
  }
  return applied;
}

export function registerApply(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('apply')
    .description(
      'Create or update resources from files, directories or stdin (client-side or server-side apply)',
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
    .option(
      '--field-manager <name>',
      `the field manager recorded for the changes (default: "${defaultFieldManager}" with --server-side, "${clientSideFieldManager}" without)`,
    )
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
