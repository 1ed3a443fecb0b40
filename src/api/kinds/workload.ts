// What Deployments and ReplicaSets share: a selector that is non-empty, matches the template's
// labels and never changes; a pod template whose restartPolicy is Always.

import type { StatusCause } from '../errors.js';
import { jsonEqual } from '../patch/json.js';
import { labelSelectorMatcher, validateLabelSelector } from '../selectors.js';
import type { KubeObject } from '../types.js';
import { asObj, asStrMap, ensureObj } from '../validation/access.js';
import { nonNegative } from '../validation/common.js';
import { field } from '../validation/field.js';
import { defaultPodSpec, validatePodTemplateSpec } from './pod.js';

export function defaultTemplate(spec: Record<string, unknown>): void {
  const template = asObj(spec['template']);
  if (template === undefined) return;
  defaultPodSpec(ensureObj(template, 'spec'));
}

/** spec.replicas, spec.selector, spec.template and minReadySeconds of a Deployment or ReplicaSet. */
export function validateWorkloadSpec(obj: KubeObject): StatusCause[] {
  const spec = asObj(obj.spec);
  if (spec === undefined) return [field.required('spec')];
  const causes: StatusCause[] = [];
  causes.push(...nonNegative(spec['replicas'], 'spec.replicas'));
  causes.push(...nonNegative(spec['minReadySeconds'], 'spec.minReadySeconds'));
  const selector = asObj(spec['selector']);
  const template = asObj(spec['template']);
  if (selector === undefined) causes.push(field.required('spec.selector'));
  else {
    const selCauses = validateLabelSelector(selector, 'spec.selector');
    causes.push(...selCauses);
    const empty =
      Object.keys(asObj(selector['matchLabels']) ?? {}).length === 0 &&
      (!Array.isArray(selector['matchExpressions']) || selector['matchExpressions'].length === 0);
    if (empty) {
      causes.push(field.invalid('spec.selector', selector, 'empty selector is invalid for deployment'));
    } else if (selCauses.length === 0 && template !== undefined) {
      const labels = asStrMap(asObj(template['metadata'])?.['labels']);
      if (!labelSelectorMatcher(selector)(labels)) {
        causes.push(
          field.invalid(
            'spec.template.metadata.labels',
            labels,
            '`selector` does not match template `labels`',
          ),
        );
      }
    }
  }
  if (template === undefined) causes.push(field.required('spec.template'));
  else {
    causes.push(...validatePodTemplateSpec(template, 'spec.template'));
    const podSpec = asObj(template['spec']) ?? {};
    const rp = podSpec['restartPolicy'];
    if (rp === 'Never' || rp === 'OnFailure')
      causes.push(field.notSupported('spec.template.spec.restartPolicy', rp, ['Always']));
    if (podSpec['activeDeadlineSeconds'] !== undefined && podSpec['activeDeadlineSeconds'] !== null) {
      causes.push(
        field.forbidden(
          'spec.template.spec.activeDeadlineSeconds',
          'activeDeadlineSeconds in ReplicaSet is not Supported',
        ),
      );
    }
  }
  return causes;
}

/** apps/v1 selectors are immutable. */
export function validateSelectorUpdate(n: KubeObject, o: KubeObject): StatusCause[] {
  const ns = asObj(n.spec)?.['selector'];
  const os = asObj(o.spec)?.['selector'];
  return jsonEqual(ns ?? null, os ?? null) ? [] : [field.immutable('spec.selector', ns ?? null)];
}
