// autoscaling/v2 HorizontalPodAutoscaler: defaults (minReplicas 1, CPU 80% when no metrics,
// behavior rules when behavior is given) and validation (ValidateHorizontalPodAutoscaler).

import type { StatusCause } from '../errors.js';
import { tryParseQuantity } from '../quantity.js';
import type { KubeObject } from '../types.js';
import {
  asArr,
  asNum,
  asObj,
  asStr,
  ensureObj,
  objItems,
  unset,
  unsetStr,
  type Obj,
} from '../validation/access.js';
import { child, field, index } from '../validation/field.js';
import { isDNS1123Label, isValidPathSegmentName } from '../validation/names.js';
import { defineKind } from './handler.js';

export const defaultCpuUtilization = 80;

function defaultRules(rules: Obj, up: boolean): void {
  if (unset(rules['stabilizationWindowSeconds'])) rules['stabilizationWindowSeconds'] = up ? 0 : 300;
  if (unsetStr(rules['selectPolicy'])) rules['selectPolicy'] = 'Max';
  if (unset(rules['policies'])) {
    rules['policies'] = up
      ? [
          { type: 'Pods', value: 4, periodSeconds: 15 },
          { type: 'Percent', value: 100, periodSeconds: 15 },
        ]
      : [{ type: 'Percent', value: 100, periodSeconds: 15 }];
  }
}

function defaultHpa(hpa: KubeObject): void {
  const spec = ensureObj(hpa, 'spec');
  if (unset(spec['minReplicas'])) spec['minReplicas'] = 1;
  if (asArr(spec['metrics']).length === 0) {
    spec['metrics'] = [
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: defaultCpuUtilization } },
      },
    ];
  }
  const behavior = asObj(spec['behavior']);
  if (behavior !== undefined) {
    defaultRules(ensureObj(behavior, 'scaleUp'), true);
    defaultRules(ensureObj(behavior, 'scaleDown'), false);
  }
}

const sources = {
  Object: 'object',
  Pods: 'pods',
  Resource: 'resource',
  ContainerResource: 'containerResource',
  External: 'external',
} as const;

function sign(q: unknown): number | undefined {
  const parsed = tryParseQuantity(q);
  if (parsed === undefined) return undefined;
  return parsed.nanos > 0n ? 1 : parsed.nanos < 0n ? -1 : 0;
}

function validateTarget(target: Obj | undefined, path: string): StatusCause[] {
  if (target === undefined) return [field.required(path)];
  const causes: StatusCause[] = [];
  const type = asStr(target['type']) ?? '';
  if (type === '') causes.push(field.required(child(path, 'type'), 'must specify a metric target type'));
  if (type === 'Utilization' && unset(target['averageUtilization'])) {
    causes.push(
      field.required(
        child(path, 'averageUtilization'),
        'must set either a target raw value or a target utilization',
      ),
    );
  }
  const au = asNum(target['averageUtilization']);
  if (au !== undefined && au < 1)
    causes.push(field.invalid(child(path, 'averageUtilization'), au, 'must be greater than 0'));
  if (type === 'Value' && unset(target['value'])) {
    causes.push(
      field.required(child(path, 'value'), 'must set either a target value for metric or a per-pod target'),
    );
  }
  if (!unset(target['value']) && sign(target['value']) !== undefined && sign(target['value']) !== 1) {
    causes.push(field.invalid(child(path, 'value'), target['value'], 'must be positive'));
  }
  if (type === 'AverageValue' && unset(target['averageValue'])) {
    causes.push(
      field.required(
        child(path, 'averageValue'),
        'must set either a target value for metric or a per-pod target',
      ),
    );
  }
  if (
    !unset(target['averageValue']) &&
    sign(target['averageValue']) !== undefined &&
    sign(target['averageValue']) !== 1
  ) {
    causes.push(field.invalid(child(path, 'averageValue'), target['averageValue'], 'must be positive'));
  }
  return causes;
}

function validateMetricIdentifier(metric: Obj | undefined, path: string): StatusCause[] {
  if (metric === undefined) return [field.required(path)];
  const name = asStr(metric['name']) ?? '';
  if (name === '') return [field.required(child(path, 'name'), 'must specify a metric name')];
  return isValidPathSegmentName(name).map((m) => field.invalid(child(path, 'name'), name, m));
}

function validateMetric(metric: Obj, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const type = asStr(metric['type']) ?? '';
  if (type === '') return [field.required(child(path, 'type'), 'must specify a metric source type')];
  const expected = (sources as Record<string, string>)[type];
  if (expected === undefined) return causes; // enum check reports it
  for (const s of Object.values(sources)) {
    if (s !== expected && !unset(metric[s]))
      causes.push(field.forbidden(child(path, s), 'must populate the given metric source only'));
  }
  const src = asObj(metric[expected]);
  const sp = child(path, expected);
  if (src === undefined)
    return [...causes, field.required(sp, 'must populate information for the given metric source')];
  const target = asObj(src['target']);
  const tp = child(sp, 'target');
  switch (expected) {
    case 'resource':
    case 'containerResource': {
      if ((asStr(src['name']) ?? '') === '')
        causes.push(field.required(child(sp, 'name'), 'must specify a resource name'));
      if (expected === 'containerResource') {
        const c = asStr(src['container']) ?? '';
        if (c === '') causes.push(field.required(child(sp, 'container'), 'must specify a container'));
        else for (const m of isDNS1123Label(c)) causes.push(field.invalid(child(sp, 'container'), c, m));
      }
      causes.push(...validateTarget(target, tp));
      if (target !== undefined) {
        if (
          unset(target['averageUtilization']) &&
          unset(target['averageValue']) &&
          target['type'] !== 'Utilization' &&
          target['type'] !== 'AverageValue'
        ) {
          causes.push(
            field.required(
              child(tp, 'averageUtilization'),
              'must set either a target raw value or a target utilization',
            ),
          );
        }
        if (!unset(target['averageUtilization']) && !unset(target['averageValue'])) {
          causes.push(
            field.forbidden(
              child(tp, 'averageValue'),
              'may not set both a target raw value and a target utilization',
            ),
          );
        }
      }
      break;
    }
    case 'pods':
      causes.push(...validateMetricIdentifier(asObj(src['metric']), child(sp, 'metric')));
      causes.push(...validateTarget(target, tp));
      if (target !== undefined && unset(target['averageValue'])) {
        causes.push(field.required(child(tp, 'averageValue'), 'must specify a positive target averageValue'));
      }
      break;
    case 'object': {
      const ref = asObj(src['describedObject']);
      if (ref === undefined) causes.push(field.required(child(sp, 'describedObject')));
      else causes.push(...validateObjectRef(ref, child(sp, 'describedObject')));
      causes.push(...validateMetricIdentifier(asObj(src['metric']), child(sp, 'metric')));
      causes.push(...validateTarget(target, tp));
      if (target !== undefined && unset(target['value']) && unset(target['averageValue'])) {
        causes.push(
          field.required(child(tp, 'averageValue'), 'must set either a target value or averageValue'),
        );
      }
      break;
    }
    case 'external':
      causes.push(...validateMetricIdentifier(asObj(src['metric']), child(sp, 'metric')));
      causes.push(...validateTarget(target, tp));
      if (target !== undefined && unset(target['value']) && unset(target['averageValue'])) {
        causes.push(
          field.required(child(tp, 'value'), 'must set either a target value for metric or a per-pod target'),
        );
      }
      break;
  }
  return causes;
}

function validateObjectRef(ref: Obj, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const f of ['kind', 'name'] as const) {
    const v = asStr(ref[f]) ?? '';
    if (v === '') causes.push(field.required(child(path, f)));
    else for (const m of isValidPathSegmentName(v)) causes.push(field.invalid(child(path, f), v, m));
  }
  return causes;
}

function validateRules(rules: Obj | undefined, path: string): StatusCause[] {
  if (rules === undefined) return [];
  const causes: StatusCause[] = [];
  const sw = asNum(rules['stabilizationWindowSeconds']);
  if (sw !== undefined && sw < 0)
    causes.push(
      field.invalid(child(path, 'stabilizationWindowSeconds'), sw, 'must be greater than or equal to zero'),
    );
  if (sw !== undefined && sw > 3600)
    causes.push(
      field.invalid(child(path, 'stabilizationWindowSeconds'), sw, 'must be less than or equal to 3600'),
    );
  const policies = objItems(rules['policies']);
  if (policies.length === 0 && rules['selectPolicy'] !== 'Disabled') {
    causes.push(field.required(child(path, 'policies'), 'must specify at least one Policy'));
  }
  for (const [p, i] of policies) {
    const pp = index(child(path, 'policies'), i);
    const v = asNum(p['value']);
    if (v !== undefined && v <= 0)
      causes.push(field.invalid(child(pp, 'value'), v, 'must be greater than zero'));
    const ps = asNum(p['periodSeconds']);
    if (ps !== undefined && ps <= 0)
      causes.push(field.invalid(child(pp, 'periodSeconds'), ps, 'must be greater than zero'));
    if (ps !== undefined && ps > 1800)
      causes.push(field.invalid(child(pp, 'periodSeconds'), ps, 'must be less than or equal to 1800'));
  }
  return causes;
}

/** The annotation that opts an HPA into `minReplicas: 0` (upstream keeps it behind the HPAScaleToZero gate). */
export const scaleToZeroAnnotation = 'flotilla.dev/scale-to-zero';

/**
 * The Service whose traffic wakes a target scaled to zero: the first Object metric describing a v1 Service
 * (the activator holds that Service's new connections). Undefined when there is none.
 */
export function activationServiceOf(spec: Record<string, unknown>): string | undefined {
  for (const [m] of objItems(spec['metrics'])) {
    if (m['type'] !== 'Object') continue;
    const d = asObj(asObj(m['object'])?.['describedObject']);
    const apiVersion = asStr(d?.['apiVersion']) ?? 'v1';
    if (
      d?.['kind'] === 'Service' &&
      (apiVersion === 'v1' || apiVersion === '') &&
      asStr(d['name']) !== undefined
    )
      return asStr(d['name']);
  }
  return undefined;
}

/** minReplicas 0: opted in by annotation, and an Object metric on a Service to wake it up. */
function validateScaleToZero(hpa: KubeObject, spec: Record<string, unknown>): StatusCause[] {
  if (hpa.metadata.annotations?.[scaleToZeroAnnotation] !== 'true')
    return [
      field.invalid(
        'spec.minReplicas',
        0,
        `must be greater than or equal to 1 (scale to zero is opt-in: set the annotation ${scaleToZeroAnnotation}: "true")`,
      ),
    ];
  if (activationServiceOf(spec) === undefined)
    return [
      field.invalid(
        'spec.minReplicas',
        0,
        'scale to zero needs an Object metric describing a v1 Service (for example requests-per-second of the Service in front of the target): its traffic wakes the target up',
      ),
    ];
  return [];
}

function validateHpa(hpa: KubeObject): StatusCause[] {
  const spec = asObj(hpa.spec);
  if (spec === undefined) return [field.required('spec')];
  const causes: StatusCause[] = [];
  const ref = asObj(spec['scaleTargetRef']);
  if (ref === undefined) causes.push(field.required('spec.scaleTargetRef'));
  else causes.push(...validateObjectRef(ref, 'spec.scaleTargetRef'));
  const min = asNum(spec['minReplicas']);
  const max = asNum(spec['maxReplicas']);
  if (min !== undefined && min < 0)
    causes.push(field.invalid('spec.minReplicas', min, 'must be greater than or equal to 0'));
  else if (min === 0) causes.push(...validateScaleToZero(hpa, spec));
  if (max === undefined) causes.push(field.required('spec.maxReplicas'));
  else if (max < 1) causes.push(field.invalid('spec.maxReplicas', max, 'must be greater than 0'));
  else if (min !== undefined && max < min)
    causes.push(field.invalid('spec.maxReplicas', max, 'must be greater than or equal to `minReplicas`'));
  for (const [m, i] of objItems(spec['metrics'])) causes.push(...validateMetric(m, index('spec.metrics', i)));
  const behavior = asObj(spec['behavior']);
  if (behavior !== undefined) {
    causes.push(...validateRules(asObj(behavior['scaleUp']), 'spec.behavior.scaleUp'));
    causes.push(...validateRules(asObj(behavior['scaleDown']), 'spec.behavior.scaleDown'));
  }
  return causes;
}

export const horizontalPodAutoscalerHandler = defineKind({
  apiVersion: 'autoscaling/v2',
  kind: 'HorizontalPodAutoscaler',
  defaults: defaultHpa,
  validate: validateHpa,
});
