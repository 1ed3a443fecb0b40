// apps/v1 Deployment.

import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import { asNum, asObj, ensureObj, unset, unsetStr } from '../validation/access.js';
import { nonNegative, percentOf, positive, validateIntOrPercent } from '../validation/common.js';
import { field } from '../validation/field.js';
import { defineKind } from './handler.js';
import { defaultTemplate, validateSelectorUpdate, validateWorkloadSpec } from './workload.js';

function defaultDeployment(d: KubeObject): void {
  const spec = ensureObj(d, 'spec');
  if (unset(spec['replicas'])) spec['replicas'] = 1;
  const strategy = ensureObj(spec, 'strategy');
  if (unsetStr(strategy['type'])) strategy['type'] = 'RollingUpdate';
  if (strategy['type'] === 'RollingUpdate') {
    const ru = ensureObj(strategy, 'rollingUpdate');
    if (unset(ru['maxUnavailable'])) ru['maxUnavailable'] = '25%';
    if (unset(ru['maxSurge'])) ru['maxSurge'] = '25%';
  }
  if (unset(spec['revisionHistoryLimit'])) spec['revisionHistoryLimit'] = 10;
  if (unset(spec['progressDeadlineSeconds'])) spec['progressDeadlineSeconds'] = 600;
  defaultTemplate(spec);
}

function validateDeployment(d: KubeObject): StatusCause[] {
  const causes = validateWorkloadSpec(d);
  const spec = asObj(d.spec);
  if (spec === undefined) return causes;
  const strategy = asObj(spec['strategy']) ?? {};
  const type = strategy['type'];
  if (unsetStr(type)) causes.push(field.required('spec.strategy.type'));
  const ru = asObj(strategy['rollingUpdate']);
  if (type === 'Recreate' && ru !== undefined) {
    causes.push(
      field.forbidden(
        'spec.strategy.rollingUpdate',
        "may not be specified when strategy `type` is 'Recreate'",
      ),
    );
  }
  if (type === 'RollingUpdate' && ru !== undefined) {
    const mu = ru['maxUnavailable'];
    const ms = ru['maxSurge'];
    causes.push(...validateIntOrPercent(mu, 'spec.strategy.rollingUpdate.maxUnavailable'));
    causes.push(...validateIntOrPercent(ms, 'spec.strategy.rollingUpdate.maxSurge'));
    const muPct = percentOf(mu);
    if (muPct !== undefined && muPct > 100) {
      causes.push(
        field.invalid('spec.strategy.rollingUpdate.maxUnavailable', mu, 'must not be greater than 100%'),
      );
    }
    const zero = (v: unknown): boolean => v === 0 || v === '0%';
    if (zero(mu) && zero(ms)) {
      causes.push(
        field.invalid('spec.strategy.rollingUpdate.maxUnavailable', mu, 'may not be 0 when `maxSurge` is 0'),
      );
    }
  }
  causes.push(...nonNegative(spec['revisionHistoryLimit'], 'spec.revisionHistoryLimit'));
  const pds = asNum(spec['progressDeadlineSeconds']);
  if (pds !== undefined) {
    causes.push(...positive(pds, 'spec.progressDeadlineSeconds', 'must be greater than 0'));
    const mrs = asNum(spec['minReadySeconds']) ?? 0;
    if (pds > 0 && pds <= mrs)
      causes.push(field.invalid('spec.progressDeadlineSeconds', pds, 'must be greater than minReadySeconds'));
  }
  return causes;
}

export const deploymentHandler = defineKind({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  defaults: defaultDeployment,
  validate: validateDeployment,
  validateUpdate: validateSelectorUpdate,
});
