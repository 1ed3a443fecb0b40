// Discovery documents (legacy per-group-version form, which both kubectl and client-node read) and /version.
import { apiVersionOf, resources, type ResourceInfo } from '../api/resources.js';

export const flotillaVersion = '0.1.0';
/** The Kubernetes API level Flotilla speaks. */
export const kubeMinor = '34';

export function versionInfo(): Record<string, string> {
  return {
    major: '1',
    minor: kubeMinor,
    gitVersion: `v1.${kubeMinor}.0+flotilla-${flotillaVersion}`,
    gitCommit: 'flotilla',
    gitTreeState: 'clean',
    buildDate: '2026-11-26T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'tsc',
    platform: `${process.platform === 'win32' ? 'windows' : process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of resources) seen.set(apiVersionOf(r), { group: r.group, version: r.version });
  return [...seen.values()];
}

export function apiVersionsDoc(): unknown {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '' }],
  };
}

export function apiGroupListDoc(): unknown {
  const groups = groupVersions().filter((gv) => gv.group !== '');
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groups.map((gv) => apiGroupDoc(gv.group)),
  };
}

export function apiGroupDoc(group: string): Record<string, unknown> {
  const versions = groupVersions()
    .filter((gv) => gv.group === group)
    .map((gv) => ({ groupVersion: `${gv.group}/${gv.version}`, version: gv.version }));
  return {
    kind: 'APIGroup',
    apiVersion: 'v1',
    name: group,
    versions,
    preferredVersion: versions[0],
  };
}

function resourceEntries(r: ResourceInfo): unknown[] {
  const main = {
    name: r.resource,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: r.verbs,
    ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
    ...(r.categories.length > 0 ? { categories: r.categories } : {}),
    storageVersionHash: '',
  };
  const subs = r.subresources.map((s) => ({
    name: `${r.resource}/${s.name}`,
    singularName: '',
    namespaced: r.namespaced,
    ...(s.group === r.group && s.version === r.version ? {} : { group: s.group, version: s.version }),
    kind: s.kind,
    verbs: s.verbs,
  }));
  const extra =
    r.kind === 'Namespace'
      ? [
          {
            name: 'namespaces/finalize',
            singularName: '',
            namespaced: false,
            kind: 'Namespace',
            verbs: ['update'],
          },
        ]
      : [];
  return [main, ...subs, ...extra];
}

export function apiResourceListDoc(group: string, version: string): unknown {
  const list = resources.filter((r) => r.group === group && r.version === version);
  if (list.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group === '' ? version : `${group}/${version}`,
    resources: list.flatMap(resourceEntries),
  };
}
