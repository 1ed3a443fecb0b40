// Bearer-token authentication from a static token file, and a small group-based authorizer.
//
// `<dataDir>/tokens.csv` has one line per token, like kube-apiserver's --token-auth-file:
//   token,user,uid,"group1,group2"
// An admin token (group `system:masters`) is generated at first start. Members of `flotilla:viewers`
// may only read (get, list, watch); members of `system:nodes` (node agents) read everything and write nodes,
// leases, events, pod status and pod deletions.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface UserInfo {
  name: string;
  uid: string;
  groups: string[];
}

export interface TokenEntry extends UserInfo {
  token: string;
}

export const adminGroup = 'system:masters';
export const viewerGroup = 'flotilla:viewers';
/** Node agents (`system:node:<name>`): read everything, write what an agent owns. */
export const nodeGroup = 'system:nodes';

// deployments/scale and replicasets/scale: the activator wakes a workload scaled to zero (one replica).
const nodeWrites = new Set([
  'nodes',
  'nodes/status',
  'leases',
  'events',
  'pods/status',
  'pods',
  'deployments/scale',
  'replicasets/scale',
]);

export function parseTokenFile(text: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([^,]+),([^,]+),([^,]*)(?:,"?([^"]*)"?)?$/.exec(line);
    if (m === null) continue;
    entries.push({
      token: m[1] ?? '',
      name: m[2] ?? '',
      uid: m[3] ?? '',
      groups: (m[4] ?? '')
        .split(',')
        .map((g) => g.trim())
        .filter((g) => g !== ''),
    });
  }
  return entries;
}

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Read `<dataDir>/tokens.csv`, creating it with an admin token at first start. Returns the admin token. */
export function ensureTokens(dataDir: string): { file: string; entries: TokenEntry[]; adminToken: string } {
  const file = join(dataDir, 'tokens.csv');
  if (!existsSync(file)) {
    const token = newToken();
    writeFileSync(file, `${token},admin,admin,"${adminGroup}"\n`, { mode: 0o600 });
  }
  const entries = parseTokenFile(readFileSync(file, 'utf8'));
  const admin = entries.find((e) => e.groups.includes(adminGroup));
  if (admin === undefined) throw new Error(`${file} has no token in group ${adminGroup}`);
  return { file, entries, adminToken: admin.token };
}

export class TokenAuthenticator {
  private readonly entries: TokenEntry[];

  constructor(entries: TokenEntry[]) {
    this.entries = entries;
  }

  /** The user for an `Authorization` header value, or undefined. */
  authenticate(header: string | undefined): UserInfo | undefined {
    if (header === undefined) return undefined;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m === null) return undefined;
    const presented = Buffer.from(m[1] ?? '');
    for (const entry of this.entries) {
      const known = Buffer.from(entry.token);
      if (known.length === presented.length && timingSafeEqual(known, presented)) {
        return { name: entry.name, uid: entry.uid, groups: entry.groups };
      }
    }
    return undefined;
  }
}

const readVerbs = new Set(['get', 'list', 'watch']);

/** Returns undefined when allowed, otherwise the reason for a 403. */
export function authorize(
  user: UserInfo,
  verb: string,
  resource: string,
  namespace: string | undefined,
): string | undefined {
  if (user.groups.includes(adminGroup)) return undefined;
  if (user.groups.includes(viewerGroup) && readVerbs.has(verb)) return undefined;
  if (user.groups.includes(nodeGroup)) {
    if (readVerbs.has(verb)) return undefined;
    // Pods: an agent updates status and finishes graceful deletion; it never creates or edits specs.
    if (resource === 'pods' ? verb === 'delete' : nodeWrites.has(resource)) return undefined;
  }
  const where = namespace === undefined ? 'at the cluster scope' : `in the namespace "${namespace}"`;
  return `User "${user.name}" cannot ${verb} resource "${resource}" ${where}`;
}

/**
 * The token a local node agent uses (user `system:node:<name>`, group `system:nodes`), appended to
 * tokens.csv at first start of `flotilla up` so the agent talks to the API with its own credentials.
 */
export function ensureNodeToken(dataDir: string, nodeName: string): string {
  const file = join(dataDir, 'tokens.csv');
  const user = `system:node:${nodeName}`;
  const entries = existsSync(file) ? parseTokenFile(readFileSync(file, 'utf8')) : [];
  const found = entries.find((e) => e.name === user && e.groups.includes(nodeGroup));
  if (found !== undefined) return found.token;
  const token = newToken();
  appendFileSync(file, `${token},${user},${user},"${nodeGroup}"\n`, { mode: 0o600 });
  return token;
}
