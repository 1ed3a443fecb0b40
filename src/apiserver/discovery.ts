// Discovery documents: the legacy per-group-version form (which client-node and older kubectl read), the
// aggregated form (apidiscovery.k8s.io/v2 and v2beta1, one response for /api and one for /apis, which
// kubectl >= 1.26 asks for first) and /version.
import { apiVersionOf, metricsResources, resources as stored, type ResourceInfo } from '../api/resources.js';
import { customMetricNames, customMetricsGroup, customMetricsVersion } from './metrics/custom.js';
import { parseAccept } from './table.js';

/** Everything discovery lists: the stored kinds and the metrics API (apiserver/metrics). */
const resources: readonly ResourceInfo[] = [...stored, ...metricsResources];

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

/**
 * custom.metrics.k8s.io/v1beta2 (apiserver/metrics/custom.ts) is listed as a Prometheus adapter lists it:
 * one `pods/<metric>` and `services/<metric>` entry per metric, kind MetricValueList, verb get.
 */
const custom = { group: customMetricsGroup, version: customMetricsVersion } as const;
const customParents = ['pods', 'services'] as const;

export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of resources) seen.set(apiVersionOf(r), { group: r.group, version: r.version });
  seen.set(`${custom.group}/${custom.version}`, { ...custom });
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
  const subs = [...r.subresources, ...r.actionSubresources, ...r.connectSubresources].map((s) => ({
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
  if (group === custom.group && version === custom.version)
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: `${group}/${version}`,
      resources: customParents.flatMap((parent) =>
        customMetricNames.map((m) => ({
          name: `${parent}/${m}`,
          singularName: '',
          namespaced: true,
          kind: 'MetricValueList',
          verbs: ['get'],
        })),
      ),
    };
  const list = resources.filter((r) => r.group === group && r.version === version);
  if (list.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group === '' ? version : `${group}/${version}`,
    resources: list.flatMap(resourceEntries),
  };
}

// ---------------------------------------------------------------------------------------------
// Aggregated discovery (KEP-3352).

export type AggregatedVersion = 'v2' | 'v2beta1';

/** The Content-Type of an aggregated discovery response; client-go decides by it. */
export function aggregatedContentType(version: AggregatedVersion): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}

/**
 * Which aggregated form the Accept header asks for, if any: the first media range the server can
 * produce wins (kubectl sends v2, v2beta1, then plain JSON).
 */
export function aggregatedVersionOf(accept: string | string[] | undefined): AggregatedVersion | undefined {
  for (const r of parseAccept(accept)) {
    if (r.type !== 'application/json' && r.type !== 'application/*' && r.type !== '*/*') continue;
    const as = r.params['as'];
    if (as === undefined) return undefined;
    if (as !== 'APIGroupDiscoveryList' || r.params['g'] !== 'apidiscovery.k8s.io') continue;
    const v = r.params['v'];
    if (v === 'v2' || v === 'v2beta1') return v;
  }
  return undefined;
}

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

function aggregatedResource(r: ResourceInfo): Record<string, unknown> {
  const subresources: Record<string, unknown>[] = [
    ...r.subresources,
    ...r.actionSubresources,
    ...r.connectSubresources,
  ].map((s) => ({
    subresource: s.name,
    responseKind: { group: s.group, version: s.version, kind: s.kind } satisfies GroupVersionKind,
    verbs: s.verbs,
  }));
  if (r.kind === 'Namespace') {
    subresources.push({
      subresource: 'finalize',
      responseKind: { group: '', version: 'v1', kind: 'Namespace' } satisfies GroupVersionKind,
      verbs: ['update'],
    });
  }
  return {
    resource: r.resource,
    responseKind: { group: r.group, version: r.version, kind: r.kind } satisfies GroupVersionKind,
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: r.verbs,
    ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
    ...(r.categories.length > 0 ? { categories: r.categories } : {}),
    ...(subresources.length > 0 ? { subresources } : {}),
  };
}

function aggregatedGroup(group: string): Record<string, unknown> {
  const versions = groupVersions()
    .filter((gv) => gv.group === group)
    .map((gv) => ({
      version: gv.version,
      resources:
        group === custom.group
          ? customParents.map((parent) => ({
              resource: parent,
              responseKind: { ...custom, kind: 'MetricValueList' } satisfies GroupVersionKind,
              scope: 'Namespaced',
              singularResource: '',
              verbs: [],
              subresources: customMetricNames.map((m) => ({
                subresource: m,
                responseKind: { ...custom, kind: 'MetricValueList' } satisfies GroupVersionKind,
                verbs: ['get'],
              })),
            }))
          : resources.filter((r) => r.group === group && r.version === gv.version).map(aggregatedResource),
      freshness: 'Current',
    }));
  const metadata = group === '' ? { creationTimestamp: null } : { name: group, creationTimestamp: null };
  return { metadata, versions };
}

/**
 * The aggregated discovery document of `/api` (`legacy`: the core group only) or `/apis` (every
 * named group), in the apidiscovery.k8s.io version asked for.
 */
export function aggregatedDiscoveryDoc(legacy: boolean, version: AggregatedVersion): unknown {
  const groups = legacy ? [''] : [...new Set(groupVersions().map((gv) => gv.group))].filter((g) => g !== '');
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: groups.map(aggregatedGroup),
  };
}
