// Label and field selectors compiled into one predicate over stored objects.
import type { ResourceInfo } from '../../api/resources.js';
import { objectMatcher } from '../../api/selectors.js';
import type { KubeObject } from '../../api/types.js';

export type ObjectFilter = (obj: KubeObject) => boolean;

/** Undefined when nothing filters. Bad selector syntax or unsupported fields throw 400s. */
export function compileSelectors(
  info: ResourceInfo,
  labelSelector: string | undefined,
  fieldSelector: string | undefined,
): ObjectFilter | undefined {
  const label = labelSelector !== undefined && labelSelector.trim() !== '' ? labelSelector : undefined;
  const field = fieldSelector !== undefined && fieldSelector.trim() !== '' ? fieldSelector : undefined;
  if (label === undefined && field === undefined) return undefined;
  return objectMatcher(info.kind, { labelSelector: label, fieldSelector: field }, info.group);
}
