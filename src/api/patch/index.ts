// One entry point for PATCH bodies: pick the format by Content-Type.

import { errors } from '../errors.js';
import type { Schema } from '../schema/dsl.js';
import { applyJsonPatch } from './json-patch.js';
import { applyMergePatch } from './merge-patch.js';
import { applyStrategicMergePatch } from './strategic-merge.js';

export {
  applyJsonPatch,
  parseJsonPatch,
  parsePointer,
  formatPointer,
  maxJsonPatchOperations,
} from './json-patch.js';
export type { JsonPatchOp, JsonPatchOpName } from './json-patch.js';
export { applyMergePatch, createMergePatch } from './merge-patch.js';
export { applyStrategicMergePatch } from './strategic-merge.js';
export { jsonClone, jsonEqual } from './json.js';

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export const patchContentTypes: Readonly<Record<PatchType, string>> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

/** `application/merge-patch+json; charset=utf-8` → 'merge'; unknown → undefined. */
export function patchTypeOf(contentType: string): PatchType | undefined {
  const base = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  for (const [type, ct] of Object.entries(patchContentTypes) as Array<[PatchType, string]>) {
    if (ct === base) return type;
  }
  return undefined;
}

/** The Content-Types applyPatch accepts for a kind with (or without) a schema. */
export function supportedPatchTypes(hasSchema: boolean): string[] {
  return hasSchema
    ? [patchContentTypes.json, patchContentTypes.merge, patchContentTypes.strategic]
    : [patchContentTypes.json, patchContentTypes.merge];
}

/**
 * Applies a decoded PATCH body to `target` and returns the new object (inputs are not modified).
 * JSON patch and merge patch work for any object; strategic merge needs the kind's schema.
 * Server-side apply is not implemented yet. Throws ApiError: 415 for an unsupported type, 400 for
 * a malformed body, 422 when a JSON patch operation does not apply, 413 for > 10,000 operations.
 */
export function applyPatch(
  contentType: string,
  target: unknown,
  patchBody: unknown,
  schema?: Schema,
): unknown {
  const type = patchTypeOf(contentType);
  const supported = supportedPatchTypes(schema !== undefined);
  switch (type) {
    case 'json':
      return applyJsonPatch(target, patchBody);
    case 'merge':
      return applyMergePatch(target, patchBody);
    case 'strategic':
      if (schema === undefined) throw errors.unsupportedMediaType(contentType, supported);
      return applyStrategicMergePatch(target, patchBody, schema);
    case 'apply':
    case undefined:
      throw errors.unsupportedMediaType(contentType, supported);
  }
}
