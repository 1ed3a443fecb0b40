// `flotilla api-resources` and `flotilla api-versions`: what the server serves, from its discovery
// documents (`/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`), printed like kubectl's.
import type { Command } from 'commander';
import type { ApiClient } from '../../api/client/client.js';
import { isObject } from '../../api/types.js';
import { usageError } from '../io.js';
import { formatTable } from '../printers/table.js';
import type { Session } from '../session.js';
import { parseBool } from './common.js';

export interface DiscoveredResource {
  name: string;
  shortNames: string[];
  group: string;
  version: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  categories: string[];
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

interface GroupVersions {
  group: string;
  versions: string[];
  preferred: string;
}

/** Every group and its versions, core first (from `/api` and `/apis`). */
export async function discoverGroups(client: ApiClient): Promise<GroupVersions[]> {
  const groups: GroupVersions[] = [];
  const api = await client.request('GET', '/api');
  const coreVersions = isObject(api) ? strings(api['versions']) : [];
  if (coreVersions.length > 0)
    groups.push({ group: '', versions: coreVersions, preferred: coreVersions[0] ?? 'v1' });
  const apis = await client.request('GET', '/apis');
  for (const g of isObject(apis) && Array.isArray(apis['groups']) ? apis['groups'] : []) {
    if (!isObject(g) || typeof g['name'] !== 'string') continue;
    const versions = (Array.isArray(g['versions']) ? g['versions'] : [])
      .map((v) => (isObject(v) && typeof v['version'] === 'string' ? v['version'] : ''))
      .filter((v) => v !== '');
    const pref = isObject(g['preferredVersion']) ? g['preferredVersion']['version'] : undefined;
    groups.push({
      group: g['name'],
      versions,
      preferred: typeof pref === 'string' ? pref : (versions[0] ?? ''),
    });
  }
  return groups;
}

/** The resources of the preferred version of every group (subresources left out). */
export async function discoverResources(client: ApiClient): Promise<DiscoveredResource[]> {
  const out: DiscoveredResource[] = [];
  for (const g of await discoverGroups(client)) {
    if (g.preferred === '') continue;
    const path = g.group === '' ? `/api/${g.preferred}` : `/apis/${g.group}/${g.preferred}`;
    const list = await client.request('GET', path);
    for (const r of isObject(list) && Array.isArray(list['resources']) ? list['resources'] : []) {
      if (!isObject(r) || typeof r['name'] !== 'string' || r['name'].includes('/')) continue;
      out.push({
        name: r['name'],
        shortNames: strings(r['shortNames']),
        group: g.group,
        version: g.preferred,
        namespaced: r['namespaced'] === true,
        kind: typeof r['kind'] === 'string' ? r['kind'] : '',
        verbs: strings(r['verbs']),
        categories: strings(r['categories']),
      });
    }
  }
  return out;
}

export interface ApiResourcesOptions {
  namespaced?: string;
  output?: string;
  apiGroup?: string;
  verbs?: string;
  categories?: string;
  sortBy?: string;
  headers?: boolean;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export async function runApiResources(session: Session, opts: ApiResourcesOptions): Promise<void> {
  const io = session.io;
  const output = opts.output ?? '';
  if (!['', 'wide', 'name'].includes(output))
    throw usageError(`--output ${output} is not available; use wide or name`);
  const namespaced = opts.namespaced === undefined ? undefined : parseBool(opts.namespaced);
  if (opts.sortBy !== undefined && opts.sortBy !== 'name' && opts.sortBy !== 'kind')
    throw usageError(`--sort-by accepts only name or kind`);
  const wantVerbs = (opts.verbs ?? '').split(',').filter((v) => v !== '');
  const wantCategories = (opts.categories ?? '').split(',').filter((v) => v !== '');
  const client = await session.client();
  let resources = await discoverResources(client);
  resources = resources.filter(
    (r) =>
      (namespaced === undefined || r.namespaced === namespaced) &&
      (opts.apiGroup === undefined || r.group === opts.apiGroup) &&
      wantVerbs.every((v) => r.verbs.includes(v)) &&
      wantCategories.every((c) => r.categories.includes(c)),
  );
  // kubectl's order: by group, then by the --sort-by key (name by default).
  const key = (r: DiscoveredResource): string => (opts.sortBy === 'kind' ? r.kind : r.name);
  resources.sort((a, b) =>
    opts.sortBy === undefined ? cmp(a.group, b.group) || cmp(a.name, b.name) : cmp(key(a), key(b)),
  );
  if (output === 'name') {
    for (const r of resources) io.stdout.write(`${r.group === '' ? r.name : `${r.name}.${r.group}`}\n`);
    return;
  }
  const rows = resources.map((r) => {
    const row = [
      r.name,
      r.shortNames.join(','),
      r.group === '' ? r.version : `${r.group}/${r.version}`,
      String(r.namespaced),
      r.kind,
    ];
    if (output === 'wide') row.push([...r.verbs].sort().join(','), r.categories.join(','));
    return row;
  });
  if (opts.headers !== false) {
    const header = ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND'];
    if (output === 'wide') header.push('VERBS', 'CATEGORIES');
    rows.unshift(header);
  }
  if (rows.length > 0) io.stdout.write(formatTable(rows));
}

export async function runApiVersions(session: Session): Promise<void> {
  const client = await session.client();
  const versions: string[] = [];
  for (const g of await discoverGroups(client))
    for (const v of g.versions) versions.push(g.group === '' ? v : `${g.group}/${v}`);
  versions.sort(cmp);
  session.io.stdout.write(versions.map((v) => `${v}\n`).join(''));
}

export function registerApiResources(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('api-resources')
    .description('List the resource types the server serves')
    .option('--namespaced <bool>', 'true: only namespaced types; false: only cluster-scoped ones')
    .option('-o, --output <format>', 'wide (adds VERBS and CATEGORIES) or name')
    .option('--api-group <group>', 'only this API group ("" for the core group)')
    .option('--verbs <verbs>', 'only types supporting all these verbs, e.g. list,watch')
    .option('--categories <names>', 'only types in all these categories, e.g. all')
    .option('--sort-by <field>', 'name or kind')
    .option('--no-headers', 'omit the header row')
    .addHelpText(
      'after',
      `
Examples:
  flotilla api-resources
  flotilla api-resources --namespaced=false
  flotilla api-resources -o wide
  flotilla api-resources --api-group=apps -o name
  flotilla api-resources --verbs=list,watch --categories=all

The list comes from the server's discovery documents, so it shows what that server serves.`,
    )
    .action(async (opts: ApiResourcesOptions, cmd: Command) => {
      await runApiResources(session(cmd), opts);
    });
  program
    .command('api-versions')
    .description('List the API versions the server serves, as group/version')
    .addHelpText(
      'after',
      `
Example:
  flotilla api-versions`,
    )
    .action(async (_opts: unknown, cmd: Command) => {
      await runApiVersions(session(cmd));
    });
}
