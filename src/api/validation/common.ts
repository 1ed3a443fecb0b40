// Small validators shared by kinds: numbers, ports, quantities, resource requirements.

import type { StatusCause } from '../errors.js';
import { compareQuantities, formatQuantity, tryParseQuantity, quantityErrors } from '../quantity.js';
import { asObj } from './access.js';
import { child, field, key } from './field.js';
import { isQualifiedName, isValidPortName, isValidPortNum } from './names.js';

export function nonNegative(v: unknown, path: string): StatusCause[] {
  return typeof v === 'number' && v < 0 ? [field.invalid(path, v, 'must be greater than or equal to 0')] : [];
}

export function positive(v: unknown, path: string, msg = 'must be greater than 0'): StatusCause[] {
  return typeof v === 'number' && v <= 0 ? [field.invalid(path, v, msg)] : [];
}

export function inRange(v: unknown, path: string, lo: number, hi: number): StatusCause[] {
  return typeof v === 'number' && (v < lo || v > hi)
    ? [field.invalid(path, v, `must be between ${lo} and ${hi}, inclusive`)]
    : [];
}

/** A required port number 1–65535. */
export function validatePortNum(v: unknown, path: string): StatusCause[] {
  if (v === undefined || v === null) return [field.required(path)];
  if (typeof v !== 'number') return [];
  return isValidPortNum(v).map((m) => field.invalid(path, v, m));
}

/** An int-or-string port: a number 1–65535 or an IANA service name. */
export function validatePortNumOrName(v: unknown, path: string): StatusCause[] {
  if (typeof v === 'number') return isValidPortNum(v).map((m) => field.invalid(path, v, m));
  if (typeof v === 'string') {
    if (v === '') return [field.required(path)];
    // A numeric string is a number in intstr's eyes only when typed as such; treat digits as a name error.
    return isValidPortName(v).map((m) => field.invalid(path, v, m));
  }
  return [];
}

export function validateQuantityValue(v: unknown, path: string, allowNegative = false): StatusCause[] {
  if (v === undefined || v === null) return [];
  const errs = quantityErrors(v);
  if (errs.length > 0) return []; // the structural check reports the syntax
  const q = tryParseQuantity(v);
  if (q !== undefined && !allowNegative && q.nanos < 0n)
    return [field.invalid(path, v, 'must be greater than or equal to 0')];
  return [];
}

const standardContainerResources = new Set(['cpu', 'memory', 'ephemeral-storage']);

export function isStandardContainerResource(name: string): boolean {
  return standardContainerResources.has(name) || name.startsWith('hugepages-');
}

/** Resource names in limits/requests: standard, hugepages-*, or a domain-qualified extended resource. */
export function validateResourceName(name: string, path: string): StatusCause[] {
  const errs = isQualifiedName(name);
  if (errs.length > 0) return errs.map((m) => field.invalid(path, name, m));
  if (!isStandardContainerResource(name) && !name.includes('/')) {
    return [field.invalid(path, name, 'must be a standard resource for containers')];
  }
  return [];
}

/** limits / requests: names, quantities ≥ 0, and every request ≤ its limit. */
export function validateResourceRequirements(resources: unknown, path: string): StatusCause[] {
  const r = asObj(resources);
  if (r === undefined) return [];
  const causes: StatusCause[] = [];
  const limits = asObj(r['limits']) ?? {};
  const requests = asObj(r['requests']) ?? {};
  for (const [which, list] of [
    ['limits', limits],
    ['requests', requests],
  ] as const) {
    for (const [name, q] of Object.entries(list)) {
      const p = key(child(path, which), name);
      causes.push(...validateResourceName(name, p));
      causes.push(...validateQuantityValue(q, p));
    }
  }
  for (const [name, req] of Object.entries(requests)) {
    const lim = limits[name];
    const rq = tryParseQuantity(req);
    const lq = tryParseQuantity(lim);
    if (rq === undefined || lq === undefined) continue;
    if (compareQuantities(rq, lq) > 0) {
      causes.push(
        field.invalid(
          key(child(path, 'requests'), name),
          formatQuantity(rq),
          `must be less than or equal to ${name} limit of ${formatQuantity(lq)}`,
        ),
      );
    }
    if (name.startsWith('hugepages-') && compareQuantities(rq, lq) !== 0) {
      causes.push(
        field.invalid(
          key(child(path, 'requests'), name),
          formatQuantity(rq),
          `must be equal to ${name} limit of ${formatQuantity(lq)}`,
        ),
      );
    }
  }
  return causes;
}

/** `25%`-style strings and non-negative integers (maxSurge / maxUnavailable). */
export function validateIntOrPercent(v: unknown, path: string): StatusCause[] {
  if (typeof v === 'number') return nonNegative(v, path);
  if (typeof v === 'string') {
    if (!/^[0-9]+%$/.test(v)) {
      return [
        field.invalid(
          path,
          v,
          "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        ),
      ];
    }
  }
  return [];
}

/** The percentage of a `N%` string, or undefined for integers. */
export function percentOf(v: unknown): number | undefined {
  return typeof v === 'string' && /^[0-9]+%$/.test(v) ? Number(v.slice(0, -1)) : undefined;
}
