// `flotilla delete`: by file or by type and name; waits until the objects are gone by default.
import { parseDuration } from '../duration.js';
import type { Command } from 'commander';
import type { ApiClient } from '../../api/client/client.js';
import { isApiError } from '../../api/errors.js';
import type { ResourceInfo } from '../../api/resources.js';
import type { DeletionPropagation } from '../../api/types.js';
import { alreadyReported, failed, usageError, type CliIO } from '../io.js';
import { formatProblem, loadManifests } from '../manifest.js';
import { typeName } from '../printers/output.js';
import { errorLine, isPerObjectError, parseResourceArgs, printError } from '../resource-args.js';
import type { Session } from '../session.js';
import { assignNamespaces } from './apply.js';
import { listAll } from './get.js';

export interface DeleteOptions {
  filename: string[];
  recursive?: boolean;
  cascade?: string | boolean;
  gracePeriod?: number;
  now?: boolean;
  wait?: boolean;
  timeout?: string;
  selector?: string;
  all?: boolean;
  ignoreNotFound?: boolean;
  allNamespaces?: boolean;
}

interface Target {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string;
  /** `-f`: the file, for error messages. */
  source?: string;
}

/** `--cascade` → propagationPolicy (kubectl also accepts true/false). */
export function cascadePolicy(value: string | boolean | undefined): DeletionPropagation {
  switch (value) {
    case undefined:
    case true:
    case 'true':
    case 'background':
      return 'Background';
    case 'foreground':
      return 'Foreground';
    case false:
    case 'false':
    case 'orphan':
      return 'Orphan';
    default:
      throw usageError(
        `invalid --cascade value "${String(value)}": must be background, foreground or orphan`,
      );
  }
}

async function waitGone(
  io: CliIO,
  client: ApiClient,
  t: Target,
  uid: string | undefined,
  deadline: number,
): Promise<boolean> {
  let delay = 100;
  for (;;) {
    try {
      const obj = await client.get(t.info, t.namespace, t.name);
      if (uid !== undefined && obj.metadata.uid !== uid) return true;
    } catch (err) {
      if (isApiError(err) && err.reason === 'NotFound') return true;
      if (!isApiError(err) || !err.transient) throw err;
    }
    if (io.signal.aborted) return false;
    if (deadline > 0 && io.now() >= deadline) return false;
    await io.sleep(delay);
    delay = Math.min(delay * 2, 1000);
  }
}

export async function runDelete(session: Session, args: string[], opts: DeleteOptions): Promise<void> {
  const io = session.io;
  const propagationPolicy = cascadePolicy(opts.cascade);
  const gracePeriod = opts.now === true ? 1 : opts.gracePeriod;
  if (gracePeriod !== undefined && (!Number.isInteger(gracePeriod) || gracePeriod < -1)) {
    throw usageError("--grace-period must be an integer (-1 = the object's default)");
  }
  const timeoutMs = parseDuration(opts.timeout ?? '0s');
  const targets: Target[] = [];
  const hasFiles = opts.filename.length > 0;
  if (hasFiles && args.length > 0) throw usageError('specify either -f or TYPE NAME arguments, not both');
  if (!hasFiles && args.length === 0) {
    throw usageError(
      'you must provide one or more resources by argument or filename (e.g. "flotilla delete pod web" or "flotilla delete -f app.yaml")',
    );
  }
  const namespace = await session.namespace();

  if (hasFiles) {
    const set = await loadManifests(opts.filename, {
      recursive: opts.recursive === true,
      cwd: io.cwd,
      readStdin: io.readStdin,
    });
    set.problems.push(...assignNamespaces(set.objects, session.explicitNamespace, namespace));
    if (set.problems.length > 0) {
      for (const p of set.problems) io.stderr.write(`error: ${formatProblem(p)}\n`);
      throw alreadyReported();
    }
    for (const m of set.objects) {
      targets.push({
        info: m.info,
        namespace: m.object.metadata.namespace,
        name: m.object.metadata.name ?? '',
        source: m.source,
      });
    }
  }

  const client = await session.client();
  if (!hasFiles) {
    const requests = parseResourceArgs(args, 'delete');
    const all = opts.allNamespaces === true;
    for (const req of requests) {
      const ns = req.info.namespaced ? (all ? undefined : namespace) : undefined;
      if (req.names.length > 0) {
        if (opts.all === true || opts.selector !== undefined)
          throw usageError('names cannot be given together with --all or -l');
        for (const name of req.names) targets.push({ info: req.info, namespace: ns, name });
        continue;
      }
      if (opts.all !== true && opts.selector === undefined) {
        throw usageError(
          `resource(s) were provided, but no name was specified; give names, -l SELECTOR or --all`,
        );
      }
      const list = await listAll(client, req.info, ns, { labelSelector: opts.selector });
      for (const obj of list.items) {
        targets.push({
          info: req.info,
          namespace: req.info.namespaced ? obj.metadata.namespace : undefined,
          name: obj.metadata.name ?? '',
        });
      }
    }
    if (targets.length === 0) {
      io.stderr.write(
        requests.every((r) => !r.info.namespaced) || all
          ? 'No resources found\n'
          : `No resources found in ${namespace} namespace.\n`,
      );
      return;
    }
  }

  let failures = 0;
  const deleted: { target: Target; uid: string | undefined }[] = [];
  // Namespaces go last: deleting one first would have its content removed underneath the deletes that follow.
  const ordered = [
    ...targets.filter((t) => t.info.kind !== 'Namespace'),
    ...targets.filter((t) => t.info.kind === 'Namespace'),
  ];
  for (const t of ordered) {
    try {
      const res = await client.delete(t.info, t.namespace, t.name, {
        propagationPolicy,
        gracePeriodSeconds: gracePeriod === undefined || gracePeriod < 0 ? undefined : gracePeriod,
      });
      const body = res as { kind?: string; details?: { uid?: string }; metadata?: { uid?: string } };
      const uid = body.kind === 'Status' ? body.details?.uid : body.metadata?.uid;
      io.stdout.write(`${typeName(t.info)} "${t.name}" deleted\n`);
      deleted.push({ target: t, uid });
    } catch (err) {
      if (isApiError(err) && err.reason === 'NotFound' && opts.ignoreNotFound === true) continue;
      if (!isPerObjectError(err)) throw err;
      failures++;
      if (t.source !== undefined) io.stderr.write(`${errorLine(err, `error when deleting "${t.source}"`)}\n`);
      else printError(io.stderr, err);
    }
  }

  if (opts.wait !== false && deleted.length > 0) {
    const deadline = timeoutMs > 0 ? io.now() + timeoutMs : 0;
    for (const d of deleted) {
      const gone = await waitGone(io, client, d.target, d.uid, deadline);
      if (!gone) {
        if (io.signal.aborted) break;
        throw failed(`timed out waiting for ${typeName(d.target.info)} "${d.target.name}" to be deleted`);
      }
    }
  }
  if (failures > 0) throw alreadyReported();
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseBool(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw usageError(`invalid boolean "${value}" (use true or false)`);
}

export function registerDelete(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('delete')
    .description('Delete resources by file, by type and name, or by label selector')
    .argument('[resources...]', 'TYPE NAME... or TYPE/NAME...')
    .option(
      '-f, --filename <path>',
      'file, directory or - with the manifests of the objects to delete; repeatable',
      collect,
      [],
    )
    .option('-R, --recursive', 'process directories given with -f recursively')
    .option(
      '--cascade [mode]',
      'background (default), foreground (wait for dependents) or orphan (keep dependents)',
    )
    .option('--grace-period <seconds>', "seconds a pod gets to stop; -1 uses the pod's own", (v) =>
      Number.parseInt(v, 10),
    )
    .option('--now', 'grace period of 1 second (stop immediately)')
    .option(
      '--wait [bool]',
      'wait until the objects are gone (default true; --wait=false to return at once)',
      parseBool,
    )
    .option('--timeout <duration>', 'give up waiting after this long (0 = no limit)', '0s')
    .option('-l, --selector <selector>', 'delete every object of the type matching this label selector')
    .option('--all', 'delete every object of the type in the namespace')
    .option('--ignore-not-found', 'treat "not found" as success')
    .option('-A, --all-namespaces', 'with -l or --all: across all namespaces')
    .addHelpText(
      'after',
      `
Examples:
  flotilla delete -f app.yaml
  flotilla delete deployment web
  flotilla delete deploy/web svc/web
  flotilla delete pods -l app=web --wait=false
  flotilla delete deploy web --cascade=orphan`,
    )
    .action(async (args: string[], opts: DeleteOptions & { wait?: boolean | string }, cmd: Command) => {
      if (typeof opts.wait === 'string') opts.wait = parseBool(opts.wait);
      await runDelete(session(cmd), args, opts);
    });
}

export { parseDuration };
