// The objects a verb acts on, chosen the way kubectl's resource builder chooses them:
// `TYPE NAME...`, `TYPE/NAME...`, `TYPE -l SELECTOR`, `TYPE --all`, or `-f FILE|DIR|-`.
import type { ResourceInfo } from '../api/resources.js';
import type { KubeObject } from '../api/types.js';
import { assignNamespaces } from './commands/apply.js';
import { listAll } from './commands/get.js';
import { alreadyReported, usageError } from './io.js';
import { formatProblem, loadManifests } from './manifest.js';
import { parseResourceArgs } from './resource-args.js';
import type { Session } from './session.js';

export interface Target {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string;
  /** The file it came from (`-f`), for messages. */
  source?: string;
  /** The object as the file describes it (`-f`). */
  manifest?: KubeObject;
  /** The object as the server had it when it was listed (`-l`, `--all`). */
  live?: KubeObject;
}

export interface TargetOptions {
  filename?: string[] | undefined;
  recursive?: boolean | undefined;
  selector?: string | undefined;
  fieldSelector?: string | undefined;
  all?: boolean | undefined;
  allNamespaces?: boolean | undefined;
}

/**
 * Resolve the targets of `command`. Collections (`-l`, `--all`, `--field-selector`) are listed now;
 * named objects are not fetched (the verb does that, and reports NotFound per object).
 */
export async function resolveTargets(
  session: Session,
  args: string[],
  opts: TargetOptions,
  command: string,
): Promise<Target[]> {
  const io = session.io;
  const namespace = await session.namespace();
  const files = opts.filename ?? [];
  if (files.length > 0) {
    if (args.length > 0) throw usageError('specify either -f or TYPE NAME arguments, not both');
    const set = await loadManifests(files, {
      recursive: opts.recursive === true,
      cwd: io.cwd,
      readStdin: io.readStdin,
    });
    set.problems.push(...assignNamespaces(set.objects, session.explicitNamespace, namespace));
    if (set.problems.length > 0) {
      for (const p of set.problems) io.stderr.write(`error: ${formatProblem(p)}\n`);
      throw alreadyReported();
    }
    return set.objects.map((m) => ({
      info: m.info,
      namespace: m.object.metadata.namespace,
      name: m.object.metadata.name ?? '',
      source: m.source,
      manifest: m.object,
    }));
  }
  if (args.length === 0) {
    throw usageError(
      `you must specify the type of resource to ${command}. Use "flotilla ${command} TYPE[/NAME]", e.g. "flotilla ${command} deployment/web"`,
    );
  }
  const requests = parseResourceArgs(args, command);
  const all = opts.allNamespaces === true;
  const byCollection = opts.all === true || opts.selector !== undefined || opts.fieldSelector !== undefined;
  const targets: Target[] = [];
  for (const req of requests) {
    const ns = req.info.namespaced ? (all ? undefined : namespace) : undefined;
    if (req.names.length > 0) {
      if (byCollection) throw usageError('names cannot be given together with --all, -l or --field-selector');
      if (all) throw usageError('a resource cannot be retrieved by name across all namespaces');
      for (const name of req.names) targets.push({ info: req.info, namespace: ns, name });
      continue;
    }
    if (!byCollection) {
      throw usageError(
        'resource(s) were provided, but no name was specified; give names, -l SELECTOR or --all',
      );
    }
    const client = await session.client();
    const list = await listAll(client, req.info, ns, {
      labelSelector: opts.selector,
      fieldSelector: opts.fieldSelector,
    });
    for (const obj of list.items) {
      targets.push({
        info: req.info,
        namespace: req.info.namespaced ? obj.metadata.namespace : undefined,
        name: obj.metadata.name ?? '',
        live: obj,
      });
    }
  }
  return targets;
}

/** kubectl's `GetResourcesAndPairs`: resource arguments first, then `key=value` / `key-` pairs. */
export function splitResourcesAndPairs(
  args: string[],
  pairType: string,
): { resources: string[]; pairs: string[] } {
  const resources: string[] = [];
  const pairs: string[] = [];
  let foundPair = false;
  for (const s of args) {
    const isPair = (s.includes('=') && !s.startsWith('=')) || (s.endsWith('-') && s !== '-');
    if (isPair) {
      foundPair = true;
      pairs.push(s);
    } else if (foundPair) {
      throw usageError(`all resources must be specified before ${pairType} changes: ${s}`);
    } else {
      resources.push(s);
    }
  }
  return { resources, pairs };
}
