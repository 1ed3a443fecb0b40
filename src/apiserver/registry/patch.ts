// PATCH content types and their application; the patch algorithms live in src/api/patch.
import { errors } from '../../api/errors.js';
import type { ResourceInfo } from '../../api/resources.js';
import { patchBackend } from './patch-backend.js';

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const mediaTypes: Record<string, PatchType> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

export function patchTypeOf(contentType: string): PatchType {
  const t = mediaTypes[contentType];
  if (t === undefined) throw errors.unsupportedMediaType(contentType, Object.keys(mediaTypes));
  return t;
}

/** The patched object (a new value; `target` is not modified). */
export function applyPatchBody(
  type: PatchType,
  target: unknown,
  body: unknown,
  info: Pick<ResourceInfo, 'group' | 'version' | 'kind'>,
): unknown {
  return patchBackend(type, structuredClone(target), body, info);
}
