// Temporary bridge until src/api/patch lands: merge and JSON patches only.
import { errors } from '../../api/errors.js';
import type { ResourceInfo } from '../../api/resources.js';
import type { PatchType } from './patch.js';

export function patchBackend(type: PatchType, target: unknown, _body: unknown, _info: Pick<ResourceInfo, 'group' | 'version' | 'kind'>): unknown {
  throw errors.unsupportedMediaType(type, []);
  return target;
}
