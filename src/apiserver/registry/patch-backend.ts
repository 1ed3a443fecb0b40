// Bridge to the patch algorithms of src/api/patch: JSON patch, merge patch and strategic merge patch (with
// the kind's schema for list merge keys). Server-side apply arrives with the kubectl-compatibility work and
// answers 415 until then, which kubectl reports as "server-side apply not available".
import { applyPatch, patchContentTypes } from '../../api/patch/index.js';
import { apiVersionOf, type ResourceInfo } from '../../api/resources.js';
import { schemaFor } from '../../api/schema/index.js';
import type { PatchType } from './patch.js';

export function patchBackend(
  type: PatchType,
  target: unknown,
  body: unknown,
  info: Pick<ResourceInfo, 'group' | 'version' | 'kind'>,
): unknown {
  return applyPatch(patchContentTypes[type], target, body, schemaFor(apiVersionOf(info), info.kind));
}
