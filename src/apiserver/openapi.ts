// OpenAPI v3: `/openapi/v3` (the index kubectl reads first) and one JSON document per group-version,
// generated from the schemas that validate requests (src/api/schema). kubectl needs, for every kind it
// writes, a PATCH operation tagged `x-kubernetes-group-version-kind` that lists the `fieldValidation`
// query parameter (otherwise `apply`, `create -f` and `edit` fail with "failed to download openapi"
// unless --validate=false) and the strategic-merge-patch content type (then `apply` computes its patch
// from the schemas' x-kubernetes-patch-* extensions); `kubectl explain` walks the components.
//
// Documents are immutable for the life of the process, so each is served with its hash as ETag, the
// index links to `?hash=<etag>` and a request carrying the current hash may be cached for good.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from '../api/errors.js';
import { apiVersionOf, resources, type ResourceInfo, type Verb } from '../api/resources.js';
import { definitionName, openApiDocument, type OpenApiSchema } from '../api/schema/openapi.js';
import { groupVersions } from './discovery.js';
import { parseAccept } from './table.js';

const metaV1 = 'io.k8s.apimachinery.pkg.apis.meta.v1';

/** `api/v1`, `apis/apps/v1`: the index key (and URL suffix) of a group-version. */
export function groupVersionPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

function schemaRef(name: string): OpenApiSchema {
  return { $ref: `#/components/schemas/${name}` };
}

// ---------------------------------------------------------------------------------------------
// Parameters.

type Param = OpenApiSchema;

function query(name: string, type: 'string' | 'boolean' | 'integer', description: string): Param {
  return { name, in: 'query', description, schema: { type, uniqueItems: true } };
}

const p = {
  name: (what: string): Param => ({
    name: 'name',
    in: 'path',
    description: `name of the ${what}`,
    required: true,
    schema: { type: 'string', uniqueItems: true },
  }),
  namespace: {
    name: 'namespace',
    in: 'path',
    description: 'object name and auth scope, such as for teams and projects',
    required: true,
    schema: { type: 'string', uniqueItems: true },
  } as Param,
  pretty: query('pretty', 'string', "If 'true', then the output is pretty printed."),
  allowWatchBookmarks: query(
    'allowWatchBookmarks',
    'boolean',
    'allowWatchBookmarks requests watch events with type "BOOKMARK".',
  ),
  continue: query('continue', 'string', 'The continue option should be set when retrieving more results.'),
  fieldSelector: query(
    'fieldSelector',
    'string',
    'A selector to restrict the list of returned objects by their fields. Defaults to everything.',
  ),
  labelSelector: query(
    'labelSelector',
    'string',
    'A selector to restrict the list of returned objects by their labels. Defaults to everything.',
  ),
  limit: query('limit', 'integer', 'limit is a maximum number of responses to return for a list call.'),
  resourceVersion: query(
    'resourceVersion',
    'string',
    'resourceVersion sets a constraint on what resource versions a request may be served from.',
  ),
  resourceVersionMatch: query(
    'resourceVersionMatch',
    'string',
    'resourceVersionMatch determines how resourceVersion is applied to list calls.',
  ),
  sendInitialEvents: query(
    'sendInitialEvents',
    'boolean',
    'With sendInitialEvents=true a watch starts with synthetic events for the current state, then a bookmark annotated "k8s.io/initial-events-end".',
  ),
  timeoutSeconds: query('timeoutSeconds', 'integer', 'Timeout for the list/watch call.'),
  watch: query(
    'watch',
    'boolean',
    'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.',
  ),
  dryRun: query(
    'dryRun',
    'string',
    'When present, indicates that modifications should not be persisted. The only valid value is: All.',
  ),
  fieldManager: query(
    'fieldManager',
    'string',
    'fieldManager is a name associated with the actor or entity that is making these changes.',
  ),
  fieldValidation: query(
    'fieldValidation',
    'string',
    'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn (the default) and Strict (fail the request with a BadRequest naming the field).',
  ),
  force: query(
    'force',
    'boolean',
    'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people.',
  ),
  gracePeriodSeconds: query(
    'gracePeriodSeconds',
    'integer',
    'The duration in seconds before the object should be deleted.',
  ),
  orphanDependents: query(
    'orphanDependents',
    'boolean',
    'Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7.',
  ),
  propagationPolicy: query(
    'propagationPolicy',
    'string',
    "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'.",
  ),
};

const listParams = [
  p.allowWatchBookmarks,
  p.continue,
  p.fieldSelector,
  p.labelSelector,
  p.limit,
  p.resourceVersion,
  p.resourceVersionMatch,
  p.sendInitialEvents,
  p.timeoutSeconds,
  p.watch,
];
const writeParams = [p.dryRun, p.fieldManager, p.fieldValidation];
const deleteParams = [p.dryRun, p.gracePeriodSeconds, p.orphanDependents, p.propagationPolicy];

// ---------------------------------------------------------------------------------------------
// Operations.

const responseTypes = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];
const patchTypes = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
];

function content(types: readonly string[], schema: OpenApiSchema): OpenApiSchema {
  return Object.fromEntries(types.map((t) => [t, { schema }]));
}

function responses(codes: Record<string, string>, schema: OpenApiSchema): OpenApiSchema {
  const out: OpenApiSchema = {};
  for (const [code, description] of Object.entries(codes)) {
    out[code] = { description, content: content(responseTypes, schema) };
  }
  out['401'] = { description: 'Unauthorized' };
  return out;
}

interface Gvk {
  group: string;
  version: string;
  kind: string;
}

function camel(s: string): string {
  return s
    .split(/[.\-_]/)
    .filter((x) => x !== '')
    .map((x) => x[0]!.toUpperCase() + x.slice(1))
    .join('');
}

/** `CoreV1`, `AppsV1`, `DiscoveryV1` (upstream's operationId infix). */
function groupId(info: Pick<ResourceInfo, 'group' | 'version'>): string {
  const g = info.group === '' ? 'core' : info.group.replace(/\.k8s\.io$/, '');
  return `${camel(g)}${camel(info.version)}`;
}

function tag(info: Pick<ResourceInfo, 'group' | 'version'>): string {
  const g = info.group === '' ? 'core' : info.group.replace(/\.k8s\.io$/, '').replace(/\./g, '_');
  return `${g}_${info.version}`;
}

function op(
  info: ResourceInfo,
  action: string,
  operationId: string,
  description: string,
  gvk: Gvk,
  parameters: Param[],
  responseCodes: Record<string, string>,
  responseSchema: OpenApiSchema,
  requestBody?: OpenApiSchema,
): OpenApiSchema {
  return {
    tags: [tag(info)],
    description,
    operationId,
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody === undefined ? {} : { requestBody }),
    responses: responses(responseCodes, responseSchema),
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
  };
}

function has(info: ResourceInfo, verb: Verb): boolean {
  return info.verbs.includes(verb);
}

/** The paths of one resource: collection, all-namespaces list, item, status / scale, finalize. */
function resourcePaths(info: ResourceInfo): Record<string, OpenApiSchema> {
  const gv = apiVersionOf(info);
  const gvPath = `/${groupVersionPath(info.group, info.version)}`;
  const kindGvk: Gvk = { group: info.group, version: info.version, kind: info.kind };
  const kindRef = schemaRef(definitionName(gv, info.kind));
  const listRef = schemaRef(definitionName(gv, `${info.kind}List`));
  const statusRef = schemaRef(`${metaV1}.Status`);
  const id = groupId(info);
  const scope = info.namespaced ? 'Namespaced' : '';
  const base = info.namespaced
    ? `${gvPath}/namespaces/{namespace}/${info.resource}`
    : `${gvPath}/${info.resource}`;
  const nsParams = info.namespaced ? [p.namespace] : [];
  const kindBody = { content: { '*/*': { schema: kindRef } }, required: true };
  const paths: Record<string, OpenApiSchema> = {};

  // Collection.
  const collection: OpenApiSchema = { parameters: [...nsParams, p.pretty] };
  if (has(info, 'list')) {
    collection['get'] = op(
      info,
      'list',
      `list${id}${scope}${info.kind}`,
      `list or watch objects of kind ${info.kind}`,
      kindGvk,
      listParams,
      { '200': 'OK' },
      listRef,
    );
  }
  if (has(info, 'create')) {
    collection['post'] = op(
      info,
      'post',
      `create${id}${scope}${info.kind}`,
      `create ${article(info.kind)} ${info.kind}`,
      kindGvk,
      writeParams,
      { '200': 'OK', '201': 'Created', '202': 'Accepted' },
      kindRef,
      kindBody,
    );
  }
  if (has(info, 'deletecollection')) {
    collection['delete'] = op(
      info,
      'deletecollection',
      `deleteCollection${id}${scope}${info.kind}`,
      `delete collection of ${info.kind}`,
      kindGvk,
      [...listParams.filter((x) => x['name'] !== 'watch'), ...deleteParams],
      { '200': 'OK' },
      statusRef,
      { content: { '*/*': { schema: schemaRef(`${metaV1}.DeleteOptions`) } } },
    );
  }
  paths[base] = collection;

  // Across namespaces.
  if (info.namespaced && has(info, 'list')) {
    paths[`${gvPath}/${info.resource}`] = {
      parameters: [p.pretty],
      get: op(
        info,
        'list',
        `list${id}${info.kind}ForAllNamespaces`,
        `list or watch objects of kind ${info.kind}`,
        kindGvk,
        listParams,
        { '200': 'OK' },
        listRef,
      ),
    };
  }

  // Item.
  const item: OpenApiSchema = { parameters: [p.name(info.kind), ...nsParams, p.pretty] };
  if (has(info, 'get')) {
    item['get'] = op(
      info,
      'get',
      `read${id}${scope}${info.kind}`,
      `read the specified ${info.kind}`,
      kindGvk,
      [],
      { '200': 'OK' },
      kindRef,
    );
  }
  if (has(info, 'update')) {
    item['put'] = op(
      info,
      'put',
      `replace${id}${scope}${info.kind}`,
      `replace the specified ${info.kind}`,
      kindGvk,
      writeParams,
      { '200': 'OK', '201': 'Created' },
      kindRef,
      kindBody,
    );
  }
  if (has(info, 'patch')) {
    item['patch'] = patchOp(
      info,
      `patch${id}${scope}${info.kind}`,
      `partially update the specified ${info.kind}`,
      kindGvk,
      kindRef,
    );
  }
  if (has(info, 'delete')) {
    item['delete'] = op(
      info,
      'delete',
      `delete${id}${scope}${info.kind}`,
      `delete ${article(info.kind)} ${info.kind}`,
      kindGvk,
      deleteParams,
      { '200': 'OK', '202': 'Accepted' },
      statusRef,
      { content: { '*/*': { schema: schemaRef(`${metaV1}.DeleteOptions`) } } },
    );
  }
  paths[`${base}/{name}`] = item;

  // Subresources.
  for (const sub of info.subresources) {
    const subGvk: Gvk = { group: sub.group, version: sub.version, kind: sub.kind };
    const subRef = schemaRef(definitionName(apiVersionOf(sub), sub.kind));
    const title = sub.name === 'status' ? 'Status' : 'Scale';
    const what =
      sub.name === 'status' ? `status of the specified ${info.kind}` : `scale of the specified ${info.kind}`;
    paths[`${base}/{name}/${sub.name}`] = {
      parameters: [p.name(sub.kind), ...nsParams, p.pretty],
      get: op(
        info,
        'get',
        `read${id}${scope}${info.kind}${title}`,
        `read ${what}`,
        subGvk,
        [],
        { '200': 'OK' },
        subRef,
      ),
      put: op(
        info,
        'put',
        `replace${id}${scope}${info.kind}${title}`,
        `replace ${what}`,
        subGvk,
        writeParams,
        { '200': 'OK', '201': 'Created' },
        subRef,
        { content: { '*/*': { schema: subRef } }, required: true },
      ),
      patch: patchOp(
        info,
        `patch${id}${scope}${info.kind}${title}`,
        `partially update ${what}`,
        subGvk,
        subRef,
      ),
    };
  }
  // pods/binding and pods/eviction: POST only, the body is the subresource's own kind.
  for (const sub of info.actionSubresources) {
    const subGvk: Gvk = { group: sub.group, version: sub.version, kind: sub.kind };
    const subRef = schemaRef(definitionName(apiVersionOf(sub), sub.kind));
    paths[`${base}/{name}/${sub.name}`] = {
      parameters: [p.name(sub.kind), ...nsParams, p.pretty],
      post: op(
        info,
        'post',
        `create${id}${scope}${info.kind}${sub.kind}`,
        `create ${sub.kind.toLowerCase()} of ${article(info.kind)} ${info.kind}`,
        subGvk,
        writeParams,
        { '200': 'OK', '201': 'Created', '202': 'Accepted' },
        subRef,
        { content: { '*/*': { schema: subRef } }, required: true },
      ),
    };
  }
  if (info.kind === 'Namespace') {
    paths[`${gvPath}/namespaces/{name}/finalize`] = {
      parameters: [p.name('Namespace'), p.pretty],
      put: op(
        info,
        'put',
        'replaceCoreV1NamespaceFinalize',
        'replace finalize of the specified Namespace',
        kindGvk,
        writeParams,
        { '200': 'OK', '201': 'Created' },
        kindRef,
        kindBody,
      ),
    };
  }
  return paths;
}

function patchOp(
  info: ResourceInfo,
  operationId: string,
  description: string,
  gvk: Gvk,
  ref: OpenApiSchema,
): OpenApiSchema {
  return op(
    info,
    'patch',
    operationId,
    description,
    gvk,
    [...writeParams, p.force],
    { '200': 'OK', '201': 'Created' },
    ref,
    { content: content(patchTypes, schemaRef(`${metaV1}.Patch`)), required: true },
  );
}

function article(kind: string): string {
  return /^[AEIOU]/.test(kind) ? 'an' : 'a';
}

// ---------------------------------------------------------------------------------------------
// Documents.

const metaComponents: Record<string, OpenApiSchema> = {
  [`${metaV1}.Patch`]: {
    description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.',
    type: 'object',
  },
  [`${metaV1}.Preconditions`]: {
    description: 'Preconditions must be fulfilled before an operation (update, delete, etc.) is carried out.',
    type: 'object',
    properties: {
      resourceVersion: { description: 'Specifies the target ResourceVersion', type: 'string' },
      uid: { description: 'Specifies the target UID.', type: 'string' },
    },
  },
};

function deleteOptions(group: string, version: string): OpenApiSchema {
  return {
    description: 'DeleteOptions may be provided when deleting an API object.',
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      dryRun: { type: 'array', items: { type: 'string', default: '' }, 'x-kubernetes-list-type': 'atomic' },
      gracePeriodSeconds: { type: 'integer', format: 'int64' },
      kind: { type: 'string' },
      orphanDependents: { type: 'boolean' },
      preconditions: { allOf: [schemaRef(`${metaV1}.Preconditions`)] },
      propagationPolicy: { type: 'string' },
    },
    'x-kubernetes-group-version-kind': [
      { group, version, kind: 'DeleteOptions' },
      ...(group === '' ? [] : [{ group: '', version: 'v1', kind: 'DeleteOptions' }]),
    ],
  };
}

function listComponent(info: ResourceInfo): OpenApiSchema {
  return {
    description: `${info.kind}List is a list of ${info.kind} objects.`,
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: { type: 'string' },
      items: { type: 'array', items: schemaRef(definitionName(apiVersionOf(info), info.kind)) },
      kind: { type: 'string' },
      metadata: { allOf: [schemaRef(`${metaV1}.ListMeta`)], default: {} },
    },
    'x-kubernetes-group-version-kind': [
      { group: info.group, version: info.version, kind: `${info.kind}List` },
    ],
  };
}

/** The OpenAPI v3 document of one served group-version, or undefined. */
export function buildGroupVersionDocument(group: string, version: string): OpenApiSchema | undefined {
  const served = resources.filter((r) => r.group === group && r.version === version);
  if (served.length === 0) return undefined;
  const apiVersion = apiVersionOf({ group, version });
  // Status (every error and delete answer) and the kinds subresources take or return (autoscaling/v1
  // Scale, policy/v1 Eviction).
  const extra = new Set<string>(['v1/Status']);
  for (const r of served) {
    for (const sub of [...r.subresources, ...r.actionSubresources])
      extra.add(`${apiVersionOf(sub)}/${sub.kind}`);
  }
  const doc = openApiDocument(apiVersion, [...extra]);
  const components = (doc['components'] as { schemas: Record<string, OpenApiSchema> }).schemas;
  Object.assign(components, metaComponents);
  components[`${metaV1}.DeleteOptions`] = deleteOptions(group, version);
  for (const r of served) components[definitionName(apiVersion, `${r.kind}List`)] = listComponent(r);
  const paths: Record<string, OpenApiSchema> = {};
  for (const r of served) Object.assign(paths, resourcePaths(r));
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: `flotilla ${apiVersion}` },
    paths,
    components: { schemas: sortKeys(components) },
  };
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

interface Served {
  body: string;
  etag: string;
}

function served(doc: unknown): Served {
  const body = JSON.stringify(doc);
  return { body, etag: createHash('sha512').update(body).digest('hex').toUpperCase() };
}

let cache: { docs: Map<string, Served>; index: Served } | undefined;

/** Every group-version document (by `api/v1`, `apis/apps/v1`) and the index, built once. */
export function openApiV3(): { docs: Map<string, Served>; index: Served } {
  if (cache !== undefined) return cache;
  const docs = new Map<string, Served>();
  for (const gv of groupVersions()) {
    const doc = buildGroupVersionDocument(gv.group, gv.version);
    if (doc !== undefined) docs.set(groupVersionPath(gv.group, gv.version), served(doc));
  }
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [key, s] of docs) paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${s.etag}` };
  cache = { docs, index: served({ paths }) };
  return cache;
}

function acceptsJson(accept: string | string[] | undefined): boolean {
  const ranges = parseAccept(accept);
  return (
    ranges.length === 0 ||
    ranges.some((r) => r.type === 'application/json' || r.type === 'application/*' || r.type === '*/*')
  );
}

function send(req: IncomingMessage, res: ServerResponse, s: Served, immutable: boolean): void {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    ETag: `"${s.etag}"`,
    Vary: 'Accept',
    'Cache-Control': immutable ? 'public, immutable' : 'no-cache, private',
  };
  if (immutable) headers['Expires'] = new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString();
  const inm = req.headers['if-none-match'];
  if (inm !== undefined && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${s.etag}"`)) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Length': String(Buffer.byteLength(s.body)) });
  res.end(req.method === 'HEAD' ? undefined : s.body);
}

/**
 * Serve `/openapi/v3` and `/openapi/v3/<api/v1 | apis/g/v>`. Returns false for other paths.
 * A `hash` that is not the document's current one is redirected to the current URL, as upstream does.
 */
export function serveOpenApi(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  q: URLSearchParams,
): boolean {
  const clean = pathname.replace(/\/+$/, '');
  if (clean !== '/openapi/v3' && !clean.startsWith('/openapi/v3/')) return false;
  if (!acceptsJson(req.headers.accept)) {
    throw new ApiError(
      'NotAcceptable',
      `only application/json is served for ${clean}; the protobuf encoding of OpenAPI v3 is not supported`,
    );
  }
  const { docs, index } = openApiV3();
  if (clean === '/openapi/v3') {
    send(req, res, index, false);
    return true;
  }
  const key = clean.slice('/openapi/v3/'.length);
  const doc = docs.get(key);
  if (doc === undefined) {
    throw new ApiError(
      'NotFound',
      `the server could not find the requested resource (OpenAPI v3 document ${key})`,
    );
  }
  const hash = q.get('hash');
  if (hash !== null && hash !== doc.etag) {
    res.writeHead(301, { Location: `/openapi/v3/${key}?hash=${doc.etag}` }).end();
    return true;
  }
  send(req, res, doc, hash !== null);
  return true;
}
