// Parse Kubernetes REST paths into their parts.
import { errors } from '../api/errors.js';
import { findByResource, type ResourceInfo } from '../api/resources.js';

export interface ResourcePath {
  info: ResourceInfo;
  group: string;
  version: string;
  /** Set for namespaced paths (`/namespaces/{ns}/...`); undefined for all-namespaces or cluster scope. */
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  /** Legacy `/api/v1/watch/...` form. */
  legacyWatch: boolean;
}

export type ParsedPath =
  | { kind: 'resource'; path: ResourcePath }
  | { kind: 'unknownResource'; group: string; version: string; resource: string }
  | { kind: 'other' };

/** Parsed paths by pathname: every request is parsed twice (metrics labels, then dispatch), most repeat. */
const memo = new Map<string, ParsedPath>();
const memoLimit = 1024;

/** The parts of a REST path. The result is frozen and shared between calls: do not modify it. */
export function parseResourcePath(pathname: string): ParsedPath {
  const known = memo.get(pathname);
  if (known !== undefined) return known;
  const parsed = parseUncached(pathname);
  if (parsed.kind === 'resource') Object.freeze(parsed.path);
  Object.freeze(parsed);
  if (memo.size >= memoLimit) memo.clear();
  memo.set(pathname, parsed);
  return parsed;
}

function parseUncached(pathname: string): ParsedPath {
  let parts: string[];
  try {
    parts = pathname
      .split('/')
      .filter((p) => p !== '')
      .map(decodeURIComponent);
  } catch {
    throw errors.badRequest(`malformed path ${JSON.stringify(pathname)}: bad percent-encoding`);
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    version = parts[1] ?? '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1] ?? '';
    version = parts[2] ?? '';
    rest = parts.slice(3);
  } else {
    return { kind: 'other' };
  }
  if (rest.length === 0) return { kind: 'other' };
  let legacyWatch = false;
  if (rest[0] === 'watch') {
    legacyWatch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  // /namespaces/{ns}/{resource}/... unless it is the namespace object's own path or subresource.
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const resource = rest[0] ?? '';
  const info = findByResource(group, version, resource);
  if (info === undefined) return { kind: 'unknownResource', group, version, resource };
  if (!info.namespaced && namespace !== undefined)
    return { kind: 'unknownResource', group, version, resource };
  return {
    kind: 'resource',
    path: {
      info,
      group,
      version,
      namespace,
      name: rest[1],
      subresource: rest[2],
      legacyWatch,
    },
  };
}
