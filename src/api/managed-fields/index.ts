// Managed fields (`metadata.managedFields`) and server-side apply. Pure functions over JSON objects and
// schemas; the API server decides when to call them (see docs/design/apiserver.md).

import { FieldSet } from './field-set.js';
import { ignoredFields } from './fields.js';

export {
  FieldSet,
  FieldNode,
  FieldsV1Error,
  formatPath,
  fieldToken,
  keyToken,
  valueToken,
  indexToken,
} from './field-set.js';
export type { FieldPath, PathToken } from './field-set.js';
export { fieldSetOf, compareValues, ignoredFields } from './fields.js';
export type { Comparison } from './fields.js';
export {
  ancientChangesManager,
  beforeFirstApplyManager,
  capUpdateManagers,
  decodeManagedFields,
  encodeManagedFields,
  fieldManagerMaxLength,
  isResetRequest,
  managerName,
  maxUpdateManagers,
  sameManager,
  sortEntries,
  validateManagedFields,
} from './managers.js';
export type { ManagedFieldsOperation, ManagerEntry, ManagerId } from './managers.js';
export {
  applyConfiguration,
  applyConflictError,
  describeManager,
  kubectlManager,
  lastAppliedAnnotation,
  mergeApplied,
  stampApplier,
} from './apply.js';
export type { ApplyRequest, ApplyResult, FieldConflict } from './apply.js';
export { recordUpdate } from './update.js';
export type { UpdateRequest, UpdateResult } from './update.js';

/** Identity and bookkeeping metadata that no manager owns (upstream strips the same fields). */
const identityFields: readonly (readonly string[])[] = [
  ['apiVersion'],
  ['kind'],
  ['metadata', 'name'],
  ['metadata', 'namespace'],
  ['metadata', 'uid'],
  ['metadata', 'resourceVersion'],
  ['metadata', 'generation'],
  ['metadata', 'creationTimestamp'],
  ['metadata', 'deletionTimestamp'],
  ['metadata', 'deletionGracePeriodSeconds'],
  ['metadata', 'selfLink'],
  ['metadata', 'managedFields'],
];

/**
 * What managed fields leave out for a write: identity metadata always, and `status` on the main
 * resource of a kind with a status subresource (the main resource does not change it).
 */
export function untrackedFields(opts: {
  statusIsSubresource: boolean;
  subresource?: string | undefined;
}): FieldSet {
  const paths = [...identityFields];
  if (opts.statusIsSubresource && opts.subresource !== 'status') paths.push(['status']);
  return ignoredFields(paths);
}
