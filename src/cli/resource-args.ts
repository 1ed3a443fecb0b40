// Resource arguments as kubectl takes them: `pods`, `po web`, `deploy/web svc/web`, `pods,svc`, `all`.
import { isApiError } from '../api/errors.js';
import { isServerError } from '../api/client/client.js';
import { findByAlias, resources, type ResourceInfo } from '../api/resources.js';
import { usageError, failed, type Output } from './io.js';

export interface ResourceRequest {
  info: ResourceInfo;
  /** Empty: the whole collection. */
  names: string[];
}

/** The resource type for a name the user typed, or an error like kubectl's. */
export function resolveType(alias: string): ResourceInfo[] {
  if (alias.toLowerCase() === 'all') return resources.filter((r) => r.categories.includes('all'));
  const info = findByAlias(alias);
  if (info === undefined) throw failed(`the server doesn't have a resource type "${alias}"`);
  return [info];
}

/** Parse `TYPE[,TYPE] [NAME...]` or `TYPE/NAME...` into requests, one per type. */
export function parseResourceArgs(args: string[], command: string): ResourceRequest[] {
  const first = args[0];
  if (first === undefined || first === '') {
    throw usageError(
      `you must specify the type of resource to ${command}. Use "flotilla ${command} TYPE[/NAME]", e.g. "flotilla ${command} pods"`,
    );
  }
  if (args.some((a) => a.includes('/'))) {
    const byType = new Map<ResourceInfo, string[]>();
    for (const a of args) {
      const slash = a.indexOf('/');
      if (slash <= 0 || slash === a.length - 1) {
        throw usageError(
          `there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'flotilla ${command} resource/<resource_name>' instead of 'flotilla ${command} resource resource/<resource_name>')`,
        );
      }
      const types = resolveType(a.slice(0, slash));
      const info = types[0];
      if (types.length !== 1 || info === undefined)
        throw usageError(`"${a.slice(0, slash)}" cannot be used with a name`);
      const names = byType.get(info) ?? [];
      names.push(a.slice(slash + 1));
      byType.set(info, names);
    }
    return [...byType].map(([info, names]) => ({ info, names }));
  }
  const types = first
    .split(',')
    .filter((t) => t !== '')
    .flatMap((t) => resolveType(t));
  const unique = [...new Set(types)];
  const names = args.slice(1);
  if (names.length > 0 && unique.length > 1) {
    throw usageError(`names cannot be given with several resource types; use TYPE/NAME arguments instead`);
  }
  return unique.map((info) => ({ info, names }));
}

/** `Error from server (NotFound): pods "x" not found` for server errors, `error: ...` otherwise. */
export function errorLine(err: unknown, context?: string): string {
  const prefix = context === undefined ? '' : `${context}: `;
  if (isApiError(err)) {
    return isServerError(err)
      ? `Error from server (${err.reason}): ${prefix}${err.message}`
      : `error: ${prefix}${err.message}`;
  }
  return `error: ${prefix}${err instanceof Error ? err.message : String(err)}`;
}

export function printError(out: Output, err: unknown, context?: string): void {
  out.write(`${errorLine(err, context)}\n`);
}

/** Errors from the server are per object; anything else (unreachable server, bad kubeconfig) stops the command. */
export function isPerObjectError(err: unknown): boolean {
  return isApiError(err) && isServerError(err) && err.reason !== 'Unauthorized';
}
