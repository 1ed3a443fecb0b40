// Bridge to the patch algorithms of src/api/patch. Strategic merge and server-side apply arrive with the
// kubectl-compatibility work; until then they answer 415 so kubectl reports it clearly.
import { errors } from '../../api/errors.js';
import { applyJsonPatch } from '../../api/patch/json-patch.js';
import { applyMergePatch } from '../../api/patch/merge-patch.js';
import type { ResourceInfo } from '../../api/resources.js';
import type { PatchType } from './patch.js';

export function patchBackend(
  type: PatchType,
  target: unknown,
  body: unknown,
  _info: Pick<ResourceInfo, 'group' | 'version' | 'kind'>,
): unknown {
  switch (type) {
    case 'merge':
      return applyMergePatch(target, body);
    case 'json':
      return applyJsonPatch(target, body);
    case 'strategic':
    case 'apply':
      throw errors.unsupportedMediaType(`application/${type === 'apply' ? 'apply-patch+yaml' : 'strategic-merge-patch+json'}`, [
        'application/merge-patch+json',
        'application/json-patch+json',
      ]);
  }
}
