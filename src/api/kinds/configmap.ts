// v1 ConfigMap: keys, size limit, immutability.

import type { StatusCause } from '../errors.js';
import { jsonEqual } from '../patch/json.js';
import type { KubeObject } from '../types.js';
import { asObj, byteLength } from '../validation/access.js';
import { field, key } from '../validation/field.js';
import { isConfigMapKey } from '../validation/names.js';
import { defineKind } from './handler.js';

/** ConfigMaps and Secrets may hold at most 1 MiB. */
export const maxDataSize = 1024 * 1024;

export function validateDataKeys(data: unknown, path: string): StatusCause[] {
  const m = asObj(data);
  if (m === undefined) return [];
  const causes: StatusCause[] = [];
  for (const k of Object.keys(m))
    for (const msg of isConfigMapKey(k)) causes.push(field.invalid(key(path, k), k, msg));
  return causes;
}

/** Decoded size of base64 text. */
export function base64DecodedLength(s: string): number {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((s.length * 3) / 4) - pad);
}

function validateConfigMap(cm: KubeObject): StatusCause[] {
  const causes = [
    ...validateDataKeys(cm['data'], 'data'),
    ...validateDataKeys(cm['binaryData'], 'binaryData'),
  ];
  const data = asObj(cm['data']) ?? {};
  const binary = asObj(cm['binaryData']) ?? {};
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    if (k in binary) causes.push(field.invalid(key('data', k), k, 'duplicate of key present in binaryData'));
    total += byteLength(k) + (typeof v === 'string' ? byteLength(v) : 0);
  }
  for (const [k, v] of Object.entries(binary))
    total += byteLength(k) + (typeof v === 'string' ? base64DecodedLength(v) : 0);
  if (total > maxDataSize) causes.push(field.tooLong('data', maxDataSize));
  return causes;
}

/** An immutable ConfigMap/Secret keeps its data and stays immutable. */
export function validateImmutableData(
  newObj: KubeObject,
  oldObj: KubeObject,
  fields: readonly string[],
): StatusCause[] {
  if (oldObj['immutable'] !== true) return [];
  const causes: StatusCause[] = [];
  if (newObj['immutable'] !== true)
    causes.push(field.forbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const f of fields) {
    if (!jsonEqual(newObj[f] ?? {}, oldObj[f] ?? {})) {
      causes.push(field.forbidden(f, 'field is immutable when `immutable` is set'));
    }
  }
  return causes;
}

export const configMapHandler = defineKind({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  validate: validateConfigMap,
  validateUpdate: (n, o) => validateImmutableData(n, o, ['data', 'binaryData']),
});
