// Matching helpers shared by plugins: label selectors (compiled once per pod), node selector terms
// (required/preferred node affinity), taints and tolerations. Inputs are loosely typed API objects;
// anything malformed simply does not match (validation rejects it long before the scheduler).

import { labelSelectorMatcher, type Labels } from '../../api/selectors.js';
import { asArr, asObj, asStr, objItems } from '../../api/validation/access.js';

export type LabelMatcher = (labels: Labels) => boolean;

const matchNothing: LabelMatcher = () => false;
const matchEverything: LabelMatcher = () => true;

/** A metav1.LabelSelector as a predicate; null/absent or invalid selects nothing, `{}` everything. */
export function compileLabelSelector(sel: unknown): LabelMatcher {
  const obj = asObj(sel);
  if (obj === undefined) return matchNothing;
  const ml = asObj(obj['matchLabels']);
  const me = asArr(obj['matchExpressions']);
  if ((ml === undefined || Object.keys(ml).length === 0) && me.length === 0) return matchEverything;
  try {
    return labelSelectorMatcher(obj);
  } catch {
    return matchNothing;
  }
}

/** Adds `key In (value)` for each of `keys` the pod carries (topology spread matchLabelKeys). */
export function withMatchLabelKeys(
  base: LabelMatcher,
  keys: readonly string[],
  podLabels: Readonly<Record<string, string>>,
): LabelMatcher {
  const extra: [string, string][] = [];
  for (const k of keys) {
    const v = podLabels[k];
    if (v !== undefined) extra.push([k, v]);
  }
  if (extra.length === 0) return base;
  return (labels) => base(labels) && extra.every(([k, v]) => labels?.[k] === v);
}

// ---------------------------------------------------------------------------------------------
// Node selector terms (spec.affinity.nodeAffinity)

interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values: string[];
}

/** One nodeSelectorTerm: all its expressions and fields must hold. */
export interface NodeSelectorTerm {
  expressions: NodeSelectorRequirement[];
  fields: NodeSelectorRequirement[];
}

function requirements(v: unknown): NodeSelectorRequirement[] {
  return objItems(v).map(([r]) => ({
    key: asStr(r['key']) ?? '',
    operator: asStr(r['operator']) ?? '',
    values: asArr(r['values']).filter((x): x is string => typeof x === 'string'),
  }));
}

export function compileNodeSelectorTerm(term: unknown): NodeSelectorTerm {
  const t = asObj(term) ?? {};
  return { expressions: requirements(t['matchExpressions']), fields: requirements(t['matchFields']) };
}

function intValue(s: string): bigint | undefined {
  return /^[+-]?\d+$/.test(s) ? BigInt(s) : undefined;
}

function labelRequirementMatches(
  r: NodeSelectorRequirement,
  labels: Readonly<Record<string, string>>,
): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const value = has ? labels[r.key] : undefined;
  switch (r.operator) {
    case 'In':
      return value !== undefined && r.values.includes(value);
    case 'NotIn':
      return value === undefined || !r.values.includes(value);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (value === undefined || r.values.length !== 1) return false;
      const lv = intValue(value);
      const rv = intValue(r.values[0] ?? '');
      if (lv === undefined || rv === undefined) return false;
      return r.operator === 'Gt' ? lv > rv : lv < rv;
    }
    default:
      return false;
  }
}

function fieldRequirementMatches(r: NodeSelectorRequirement, nodeName: string): boolean {
  // Only metadata.name is a supported field, with In / NotIn (upstream nodeaffinity helper).
  if (r.key !== 'metadata.name') return false;
  if (r.operator === 'In') return r.values.length === 1 && r.values[0] === nodeName;
  if (r.operator === 'NotIn') return !(r.values.length === 1 && r.values[0] === nodeName);
  return false;
}

/** An empty term (no expressions, no fields) matches no node. */
export function nodeSelectorTermMatches(
  term: NodeSelectorTerm,
  nodeName: string,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (term.expressions.length === 0 && term.fields.length === 0) return false;
  for (const r of term.expressions) if (!labelRequirementMatches(r, labels)) return false;
  for (const r of term.fields) if (!fieldRequirementMatches(r, nodeName)) return false;
  return true;
}

/** Terms are ORed; an empty list matches nothing. */
export function nodeSelectorTermsMatch(
  terms: readonly NodeSelectorTerm[],
  nodeName: string,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const t of terms) if (nodeSelectorTermMatches(t, nodeName, labels)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Taints and tolerations

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

export interface Taint {
  key: string;
  value: string;
  effect: string;
}

export interface Toleration {
  key: string;
  /** 'Equal' (default) or 'Exists' */
  operator: string;
  value: string;
  /** '' tolerates every effect */
  effect: string;
}

export function parseTaints(v: unknown): Taint[] {
  return objItems(v).map(([t]) => ({
    key: asStr(t['key']) ?? '',
    value: asStr(t['value']) ?? '',
    effect: asStr(t['effect']) ?? '',
  }));
}

export function parseTolerations(v: unknown): Toleration[] {
  return objItems(v).map(([t]) => ({
    key: asStr(t['key']) ?? '',
    operator: asStr(t['operator']) || 'Equal',
    value: asStr(t['value']) ?? '',
    effect: asStr(t['effect']) ?? '',
  }));
}

/** upstream v1.Toleration.ToleratesTaint */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect !== '' && t.effect !== taint.effect) return false;
  if (t.key !== '' && t.key !== taint.key) return false;
  switch (t.operator) {
    case 'Exists':
      return true;
    case 'Equal':
      return t.value === taint.value;
    default:
      return false;
  }
}

export function tolerated(tolerations: readonly Toleration[], taint: Taint): boolean {
  for (const t of tolerations) if (toleratesTaint(t, taint)) return true;
  return false;
}

/** The first NoSchedule/NoExecute taint the tolerations don't tolerate. */
export function firstUntoleratedHardTaint(
  taints: readonly Taint[],
  tolerations: readonly Toleration[],
): Taint | undefined {
  for (const taint of taints) {
    if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
    if (!tolerated(tolerations, taint)) return taint;
  }
  return undefined;
}
