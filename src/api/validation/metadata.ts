// ObjectMeta validation (upstream apimachinery ValidateObjectMeta / ValidateObjectMetaUpdate).

import type { StatusCause } from '../errors.js';
import { validateLabelMap } from '../selectors.js';
import { asArr, asNum, asObj, asStr, byteLength, objItems } from './access.js';
import { child, field, index } from './field.js';
import {
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidPathSegmentName,
} from './names.js';

/** Validates a name, or a generateName prefix when `prefix` is true. Returns messages. */
export type NameValidator = (name: string, prefix: boolean) => string[];

/** A generateName prefix may end in '-': check it as if it ended in a letter. */
function maskTrailingDash(name: string): string {
  return name.length > 1 && name.endsWith('-') ? `${name.slice(0, -1)}a` : name;
}

export const nameIsDNSSubdomain: NameValidator = (name, prefix) =>
  isDNS1123Subdomain(prefix ? maskTrailingDash(name) : name);
export const nameIsDNSLabel: NameValidator = (name, prefix) =>
  isDNS1123Label(prefix ? maskTrailingDash(name) : name);
export const nameIsDNS1035Label: NameValidator = (name, prefix) =>
  isDNS1035Label(prefix ? maskTrailingDash(name) : name);
export const nameIsPathSegment: NameValidator = (name) => isValidPathSegmentName(name);

export const totalAnnotationSizeLimitB = 256 * 1024;

export function validateLabels(labels: unknown, path: string): StatusCause[] {
  const m = asObj(labels);
  return m === undefined ? [] : validateLabelMap(m, path);
}

export function validateAnnotations(annotations: unknown, path: string): StatusCause[] {
  const m = asObj(annotations);
  if (m === undefined) return [];
  const causes: StatusCause[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(m)) {
    for (const msg of isQualifiedName(k.toLowerCase())) causes.push(field.invalid(path, k, msg));
    total += byteLength(k) + (typeof v === 'string' ? byteLength(v) : 0);
  }
  if (total > totalAnnotationSizeLimitB) causes.push(field.tooLong(path, totalAnnotationSizeLimitB));
  return causes;
}

const standardFinalizers = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

export function validateFinalizerName(name: string, path: string): StatusCause[] {
  const errs = isQualifiedName(name);
  if (errs.length > 0) return errs.map((m) => field.invalid(path, name, m));
  if (!standardFinalizers.has(name) && !name.includes('/')) {
    return [field.invalid(path, name, 'name is neither a standard finalizer name nor is it fully qualified')];
  }
  return [];
}

export function validateOwnerReferences(refs: unknown, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const controllers: string[] = [];
  for (const [ref, i] of objItems(refs)) {
    const p = index(path, i);
    const apiVersion = asStr(ref['apiVersion']) ?? '';
    if (apiVersion === '' || apiVersion.endsWith('/'))
      causes.push(field.invalid(child(p, 'apiVersion'), apiVersion, 'version must not be empty'));
    if ((asStr(ref['kind']) ?? '') === '')
      causes.push(field.invalid(child(p, 'kind'), ref['kind'] ?? '', 'kind must not be empty'));
    if ((asStr(ref['name']) ?? '') === '')
      causes.push(field.invalid(child(p, 'name'), ref['name'] ?? '', 'name must not be empty'));
    if ((asStr(ref['uid']) ?? '') === '')
      causes.push(field.invalid(child(p, 'uid'), ref['uid'] ?? '', 'uid must not be empty'));
    if (ref['controller'] === true) controllers.push(`${String(ref['kind'])}/${String(ref['name'])}`);
  }
  if (controllers.length > 1) {
    causes.push(
      field.invalid(
        path,
        refs,
        `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(' and ')}`,
      ),
    );
  }
  return causes;
}

export interface ObjectMetaOptions {
  namespaced: boolean;
  validateName: NameValidator;
}

/** Every problem in metadata: name/generateName, namespace, labels, annotations, owners, finalizers. */
export function validateObjectMeta(
  metadata: unknown,
  opts: ObjectMetaOptions,
  path = 'metadata',
): StatusCause[] {
  const meta = asObj(metadata);
  if (meta === undefined) return [field.required(path)];
  const causes: StatusCause[] = [];
  const name = asStr(meta['name']) ?? '';
  const generateName = asStr(meta['generateName']) ?? '';
  if (generateName !== '') {
    for (const msg of opts.validateName(generateName, true))
      causes.push(field.invalid(child(path, 'generateName'), generateName, msg));
  }
  if (name === '') {
    if (generateName === '')
      causes.push(field.required(child(path, 'name'), 'name or generateName is required'));
  } else {
    for (const msg of opts.validateName(name, false))
      causes.push(field.invalid(child(path, 'name'), name, msg));
  }
  const ns = asStr(meta['namespace']) ?? '';
  if (opts.namespaced) {
    if (ns === '') causes.push(field.required(child(path, 'namespace')));
    else for (const msg of isDNS1123Label(ns)) causes.push(field.invalid(child(path, 'namespace'), ns, msg));
  } else if (ns !== '') {
    causes.push(field.forbidden(child(path, 'namespace'), 'not allowed on this type'));
  }
  const generation = asNum(meta['generation']);
  if (generation !== undefined && generation < 0) {
    causes.push(field.invalid(child(path, 'generation'), generation, 'must be greater than or equal to 0'));
  }
  const grace = asNum(meta['deletionGracePeriodSeconds']);
  if (grace !== undefined && grace < 0) {
    causes.push(
      field.invalid(child(path, 'deletionGracePeriodSeconds'), grace, 'must be greater than or equal to 0'),
    );
  }
  causes.push(...validateLabels(meta['labels'], child(path, 'labels')));
  causes.push(...validateAnnotations(meta['annotations'], child(path, 'annotations')));
  causes.push(...validateOwnerReferences(meta['ownerReferences'], child(path, 'ownerReferences')));
  asArr(meta['finalizers']).forEach((f, i) => {
    if (typeof f === 'string') causes.push(...validateFinalizerName(f, index(child(path, 'finalizers'), i)));
  });
  return causes;
}

/** Fields that may not change on update: name, namespace, uid, creationTimestamp. */
export function validateObjectMetaUpdate(
  newMetadata: unknown,
  oldMetadata: unknown,
  path = 'metadata',
): StatusCause[] {
  const n = asObj(newMetadata) ?? {};
  const o = asObj(oldMetadata) ?? {};
  const causes: StatusCause[] = [];
  for (const k of ['name', 'namespace', 'uid', 'creationTimestamp'] as const) {
    const before = o[k] ?? '';
    const after = n[k] ?? '';
    if (before !== '' && before !== after) causes.push(field.immutable(child(path, k), after));
  }
  const og = asNum(o['generation']);
  const ng = asNum(n['generation']);
  if (og !== undefined && ng !== undefined && ng < og) {
    causes.push(field.invalid(child(path, 'generation'), ng, 'must not be decremented'));
  }
  if (o['deletionTimestamp'] !== undefined && n['deletionTimestamp'] !== o['deletionTimestamp']) {
    causes.push(field.immutable(child(path, 'deletionTimestamp'), n['deletionTimestamp']));
  }
  return causes;
}
