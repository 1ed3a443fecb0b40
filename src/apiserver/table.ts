// Server-side Tables (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): what `kubectl get` asks
// for. Cells come from the pure per-kind printers of src/api/table (the columns of upstream's
// pkg/printers/internalversion), computed here with the server's clock. Rows carry the object's metadata
// as a PartialObjectMetadata (`includeObject=Metadata`, the default), the whole object (`Object`) or
// nothing (`None`); kubectl adds NAMESPACE and LABELS columns from that metadata.
import { errors } from '../api/errors.js';
import type { ResourceInfo } from '../api/resources.js';
import { tablePrinterFor, type Cell, type ColumnDefinition } from '../api/table/columns.js';
import type { KubeObject, ObjectMeta } from '../api/types.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface TableOptions {
  /** `v1` or `v1beta1` of meta.k8s.io, as the client asked. */
  version: 'v1' | 'v1beta1';
  includeObject: IncludeObject;
}

export interface MediaRange {
  /** `application/json`, lower case. */
  type: string;
  /** Parameters with lower-case names (`as`, `v`, `g`, `q`). */
  params: Record<string, string>;
}

/** An Accept header split into media ranges, in the order the client sent them. */
export function parseAccept(header: string | string[] | undefined): MediaRange[] {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  const out: MediaRange[] = [];
  for (const part of text.split(',')) {
    const [type, ...rest] = part.split(';');
    const t = (type ?? '').trim().toLowerCase();
    if (t === '') continue;
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim().toLowerCase();
      const v = p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (k !== '') params[k] = v;
    }
    out.push({ type: t, params });
  }
  return out;
}

function isJsonRange(r: MediaRange): boolean {
  return r.type === 'application/json' || r.type === 'application/*' || r.type === '*/*';
}

/**
 * Whether the client asked for a Table: the first media range the server can produce decides
 * (kubectl lists Table v1, Table v1beta1, then plain JSON). Undefined means plain objects.
 */
export function tableOptionsOf(
  accept: string | string[] | undefined,
  query: URLSearchParams,
): TableOptions | undefined {
  for (const r of parseAccept(accept)) {
    if (!isJsonRange(r)) continue;
    const as = r.params['as'];
    if (as === undefined) return undefined;
    if (as !== 'Table' || r.params['g'] !== 'meta.k8s.io') continue;
    const v = r.params['v'];
    if (v !== 'v1' && v !== 'v1beta1') continue;
    return { version: v, includeObject: includeObjectOf(query) };
  }
  return undefined;
}

function includeObjectOf(query: URLSearchParams): IncludeObject {
  const v = query.get('includeObject');
  if (v === null || v === '' || v === 'Metadata') return 'Metadata';
  if (v === 'None' || v === 'Object') return v;
  throw errors.badRequest(
    `includeObject: Invalid value: ${JSON.stringify(v)}: must be 'Metadata', 'Object', or 'None'`,
  );
}

export interface TableRow {
  cells: Cell[];
  conditions?: { type: string; status: string; reason: string; message: string }[];
  object?: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: ColumnDefinition[];
  rows: TableRow[];
}

/** Pods that ran to completion carry a row condition, as upstream's printPod sets it. */
function rowConditions(obj: KubeObject): TableRow['conditions'] {
  if (obj.kind !== 'Pod') return undefined;
  const status = obj.status;
  const phase =
    typeof status === 'object' && status !== null ? (status as Record<string, unknown>)['phase'] : undefined;
  if (phase === 'Succeeded')
    return [
      {
        type: 'Completed',
        status: 'True',
        reason: 'Succeeded',
        message: 'The pod has completed successfully.',
      },
    ];
  if (phase === 'Failed')
    return [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];
  return undefined;
}

function partialObjectMetadata(metadata: ObjectMeta, version: TableOptions['version']): unknown {
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata };
}

/** One table row for `obj`, its cells computed at `now` (epoch milliseconds). */
export function tableRow(info: ResourceInfo, obj: KubeObject, opts: TableOptions, now: number): TableRow {
  const printer = tablePrinterFor(info.group, info.kind);
  const row: TableRow = { cells: printer.cells(obj, now) };
  const conditions = rowConditions(obj);
  if (conditions !== undefined) row.conditions = conditions;
  if (opts.includeObject === 'Metadata') row.object = partialObjectMetadata(obj.metadata, opts.version);
  else if (opts.includeObject === 'Object') row.object = obj;
  return row;
}

export interface TableMeta {
  resourceVersion?: string | undefined;
  continue?: string | undefined;
  remainingItemCount?: number | undefined;
}

/**
 * A Table of `objects`. `columns: false` leaves the column definitions out (watch events after the
 * first: kubectl keeps the ones it has).
 */
export function objectTable(
  info: ResourceInfo,
  objects: readonly KubeObject[],
  opts: TableOptions,
  now: number,
  meta: TableMeta = {},
  columns = true,
): Table {
  const metadata: Table['metadata'] = {};
  if (meta.resourceVersion !== undefined) metadata.resourceVersion = meta.resourceVersion;
  if (meta.continue !== undefined && meta.continue !== '') metadata.continue = meta.continue;
  if (meta.remainingItemCount !== undefined) metadata.remainingItemCount = meta.remainingItemCount;
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${opts.version}`,
    metadata,
    columnDefinitions: columns ? tablePrinterFor(info.group, info.kind).columns : [],
    rows: objects.map((o) => tableRow(info, o, opts, now)),
  };
}

/** The Table for a list response whose items are already serialized (registry.list). */
export function listTableJson(
  info: ResourceInfo,
  items: readonly string[],
  opts: TableOptions,
  now: number,
  meta: TableMeta,
): string {
  const objects = items.map((t) => JSON.parse(t) as KubeObject);
  return JSON.stringify(objectTable(info, objects, opts, now, meta));
}

/** The Table for a single object (GET of an item): its resourceVersion is the table's. */
export function itemTable(info: ResourceInfo, obj: KubeObject, opts: TableOptions, now: number): Table {
  return objectTable(info, [obj], opts, now, { resourceVersion: obj.metadata.resourceVersion });
}
