// Label and field selectors, following k8s.io/apimachinery/pkg/labels and pkg/fields: the same
// grammar, canonical string form and error texts. Parse errors throw ApiError BadRequest (400), as
// the apiserver answers a list with a bad `labelSelector` / `fieldSelector`.

import { ApiError, type StatusCause } from './errors.js';
import { resources } from './resources.js';
import { isObject, type KubeObject } from './types.js';
import { field, formatValue, index } from './validation/field.js';
import { isQualifiedName, isValidLabelValue } from './validation/names.js';

// ---------------------------------------------------------------------------------------------
// Label selectors

export type LabelOperator =
  | 'Equals'
  | 'DoubleEquals'
  | 'NotEquals'
  | 'In'
  | 'NotIn'
  | 'Exists'
  | 'DoesNotExist'
  | 'GreaterThan'
  | 'LessThan';

/** One parsed term of a label selector. `values` is sorted and de-duplicated. */
export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

/** The `metav1.LabelSelector` object of Deployment, ReplicaSet, Service-less selectors... */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: LabelSelectorOperator;
  values?: string[];
}

export type Labels = Readonly<Record<string, string>> | undefined;

type Token =
  | 'Identifier'
  | 'DoesNotExist'
  | 'NotEquals'
  | 'OpenPar'
  | 'ClosedPar'
  | 'Comma'
  | 'Equals'
  | 'DoubleEquals'
  | 'GreaterThan'
  | 'LessThan'
  | 'In'
  | 'NotIn'
  | 'EndOfString'
  | 'Error';

const symbols: ReadonlyArray<readonly [string, Token]> = [
  // longest first, so `!=` wins over `!` and `==` over `=`
  ['!=', 'NotEquals'],
  ['==', 'DoubleEquals'],
  ['!', 'DoesNotExist'],
  ['(', 'OpenPar'],
  [')', 'ClosedPar'],
  [',', 'Comma'],
  ['=', 'Equals'],
  ['>', 'GreaterThan'],
  ['<', 'LessThan'],
];
const specialChars = new Set(['=', '!', '(', ')', ',', '>', '<']);
const binaryOperators = 'in, notin, =, ==, !=, gt, lt';

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
}

interface Lexed {
  tok: Token;
  lit: string;
}

function lex(s: string): Lexed[] {
  const out: Lexed[] = [];
  let pos = 0;
  for (;;) {
    while (pos < s.length && isWhitespace(s[pos] ?? '')) pos++;
    if (pos >= s.length) {
      out.push({ tok: 'EndOfString', lit: '' });
      return out;
    }
    const ch = s[pos] ?? '';
    if (specialChars.has(ch)) {
      const hit = symbols.find(([sym]) => s.startsWith(sym, pos));
      if (hit === undefined) {
        out.push({ tok: 'Error', lit: ch });
        return out;
      }
      out.push({ tok: hit[1], lit: hit[0] });
      pos += hit[0].length;
      continue;
    }
    let end = pos;
    while (end < s.length && !isWhitespace(s[end] ?? '') && !specialChars.has(s[end] ?? '')) end++;
    const word = s.slice(pos, end);
    pos = end;
    out.push({ tok: word === 'in' ? 'In' : word === 'notin' ? 'NotIn' : 'Identifier', lit: word });
  }
}

type Context = 'KeyAndOperator' | 'Values';

class Parser {
  private pos = 0;
  constructor(private readonly items: Lexed[]) {}

  private at(ctx: Context, i: number): Lexed {
    const item = this.items[Math.min(i, this.items.length - 1)] ?? { tok: 'EndOfString', lit: '' };
    // In a value context the keywords are plain identifiers: `env in (in, notin)`.
    if (ctx === 'Values' && (item.tok === 'In' || item.tok === 'NotIn'))
      return { tok: 'Identifier', lit: item.lit };
    return item;
  }
  lookahead(ctx: Context): Lexed {
    return this.at(ctx, this.pos);
  }
  consume(ctx: Context): Lexed {
    const item = this.at(ctx, this.pos);
    if (this.pos < this.items.length - 1) this.pos++;
    return item;
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    for (;;) {
      const { tok, lit } = this.lookahead('Values');
      if (tok === 'EndOfString') return reqs;
      if (tok !== 'Identifier' && tok !== 'DoesNotExist') {
        throw new Error(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
      reqs.push(this.parseRequirementWrapped());
      const next = this.consume('Values');
      if (next.tok === 'EndOfString') return reqs;
      if (next.tok !== 'Comma') throw new Error(`found '${next.lit}', expected: ',' or 'end of string'`);
      const after = this.lookahead('Values');
      if (after.tok !== 'Identifier' && after.tok !== 'DoesNotExist') {
        throw new Error(`found '${after.lit}', expected: identifier after ','`);
      }
    }
  }

  private parseRequirementWrapped(): LabelRequirement {
    try {
      return this.parseRequirement();
    } catch (err) {
      throw new Error(`unable to parse requirement: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private parseRequirement(): LabelRequirement {
    let operator: LabelOperator | undefined;
    let { tok, lit } = this.consume('Values');
    if (tok === 'DoesNotExist') {
      operator = 'DoesNotExist';
      ({ tok, lit } = this.consume('Values'));
    }
    if (tok !== 'Identifier') throw new Error(`found '${lit}', expected: identifier`);
    const key = lit;
    const ahead = this.lookahead('Values').tok;
    if (ahead === 'EndOfString' || ahead === 'Comma') {
      return newRequirement(key, operator ?? 'Exists', []);
    }
    if (operator === 'DoesNotExist') {
      // `!key` takes no operator: whatever follows is a syntax error at the top level.
      return newRequirement(key, operator, []);
    }
    const op = this.consume('KeyAndOperator');
    const binary: Partial<Record<Token, LabelOperator>> = {
      In: 'In',
      NotIn: 'NotIn',
      Equals: 'Equals',
      DoubleEquals: 'DoubleEquals',
      NotEquals: 'NotEquals',
      GreaterThan: 'GreaterThan',
      LessThan: 'LessThan',
    };
    const operatorOf = binary[op.tok];
    if (operatorOf === undefined) throw new Error(`found '${op.lit}', expected: ${binaryOperators}`);
    return newRequirement(
      key,
      operatorOf,
      operatorOf === 'In' || operatorOf === 'NotIn' ? this.parseValues() : this.parseExactValue(),
    );
  }

  private parseValues(): string[] {
    const open = this.consume('Values');
    if (open.tok !== 'OpenPar') throw new Error(`found '${open.lit}' expected: '('`);
    const { tok, lit } = this.lookahead('Values');
    if (tok === 'ClosedPar') {
      this.consume('Values');
      return [''];
    }
    if (tok !== 'Identifier' && tok !== 'Comma')
      throw new Error(`found '${lit}', expected: ',', ')' or identifier`);
    const values = this.parseIdentifiersList();
    const close = this.consume('Values');
    if (close.tok !== 'ClosedPar') throw new Error(`found '${close.lit}', expected: ')'`);
    return values;
  }

  private parseIdentifiersList(): string[] {
    const values = new Set<string>();
    for (;;) {
      const { tok, lit } = this.consume('Values');
      if (tok === 'Identifier') {
        values.add(lit);
        const next = this.lookahead('Values');
        if (next.tok === 'Comma') continue;
        if (next.tok === 'ClosedPar') return [...values];
        throw new Error(`found '${next.lit}', expected: ',' or ')'`);
      }
      if (tok === 'Comma') {
        if (values.size === 0) values.add('');
        const next = this.lookahead('Values');
        if (next.tok === 'ClosedPar') {
          values.add('');
          return [...values];
        }
        if (next.tok === 'Comma') {
          this.consume('Values');
          values.add('');
        }
        continue;
      }
      throw new Error(`found '${lit}', expected: ',', or identifier`);
    }
  }

  private parseExactValue(): string[] {
    const ahead = this.lookahead('Values');
    if (ahead.tok === 'EndOfString' || ahead.tok === 'Comma') return [''];
    const { tok, lit } = this.consume('Values');
    if (tok === 'Identifier') return [lit];
    throw new Error(`found '${lit}', expected: identifier`);
  }
}

function keyErrors(key: string): string | undefined {
  const errs = isQualifiedName(key);
  return errs.length === 0 ? undefined : `key: Invalid value: ${formatValue(key)}: ${errs.join('; ')}`;
}

/** Builds a requirement, checking it as upstream's NewRequirement does. Throws Error on a bad one. */
function newRequirement(key: string, operator: LabelOperator, rawValues: string[]): LabelRequirement {
  const keyErr = keyErrors(key);
  if (keyErr !== undefined) throw new Error(keyErr);
  const values = [...new Set(rawValues)].sort();
  switch (operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0)
        throw new Error("values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty");
      break;
    case 'Equals':
    case 'DoubleEquals':
    case 'NotEquals':
      if (values.length !== 1)
        throw new Error(
          `values: Invalid value: ${formatValue(values)}: exact-match compatibility requires one single value`,
        );
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length !== 0)
        throw new Error(
          `values: Invalid value: ${formatValue(values)}: values set must be empty for exists and does not exist`,
        );
      break;
    case 'GreaterThan':
    case 'LessThan':
      if (values.length !== 1)
        throw new Error(
          `values: Invalid value: ${formatValue(values)}: for 'Gt', 'Lt' operators, exactly one value is required`,
        );
      for (const [i, v] of values.entries()) {
        if (!/^[+-]?\d+$/.test(v))
          throw new Error(
            `values[${i}]: Invalid value: ${formatValue(v)}: for 'Gt', 'Lt' operators, the value must be an integer`,
          );
      }
      break;
  }
  for (const [i, v] of values.entries()) {
    const errs = isValidLabelValue(v);
    if (errs.length > 0)
      throw new Error(`values[${i}][${key}]: Invalid value: ${formatValue(v)}: ${errs.join('; ')}`);
  }
  return { key, operator, values };
}

function byKey(a: LabelRequirement, b: LabelRequirement): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * Parses a label selector string (`app=web,tier in (fe,be),!legacy`). The empty string selects
 * everything. Throws ApiError BadRequest with upstream's message on bad syntax.
 */
export function parseLabelSelector(text: string): LabelRequirement[] {
  try {
    return new Parser(lex(text)).parse().sort(byKey);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError('BadRequest', err instanceof Error ? err.message : String(err));
  }
}

/** Does one requirement hold for these labels? */
export function requirementMatches(req: LabelRequirement, labels: Labels): boolean {
  const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, req.key);
  const value = has ? labels[req.key] : undefined;
  switch (req.operator) {
    case 'In':
    case 'Equals':
    case 'DoubleEquals':
      return value !== undefined && req.values.includes(value);
    case 'NotIn':
    case 'NotEquals':
      return value === undefined || !req.values.includes(value);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'GreaterThan':
    case 'LessThan': {
      if (value === undefined || !/^[+-]?\d+$/.test(value)) return false;
      const bound = req.values[0];
      if (bound === undefined) return false;
      const lv = BigInt(value);
      const rv = BigInt(bound);
      return req.operator === 'GreaterThan' ? lv > rv : lv < rv;
    }
  }
}

/** All requirements hold (an empty list matches everything). */
export function matchesLabels(reqs: readonly LabelRequirement[], labels: Labels): boolean {
  return reqs.every((r) => requirementMatches(r, labels));
}

export function requirementToString(req: LabelRequirement): string {
  const one = req.values[0] ?? '';
  switch (req.operator) {
    case 'Exists':
      return req.key;
    case 'DoesNotExist':
      return `!${req.key}`;
    case 'Equals':
      return `${req.key}=${one}`;
    case 'DoubleEquals':
      return `${req.key}==${one}`;
    case 'NotEquals':
      return `${req.key}!=${one}`;
    case 'GreaterThan':
      return `${req.key}>${one}`;
    case 'LessThan':
      return `${req.key}<${one}`;
    case 'In':
      return `${req.key} in (${req.values.join(',')})`;
    case 'NotIn':
      return `${req.key} notin (${req.values.join(',')})`;
  }
}

/** The canonical string form (requirements sorted by key), as upstream's Selector.String(). */
export function requirementsToString(reqs: readonly LabelRequirement[]): string {
  return [...reqs].sort(byKey).map(requirementToString).join(',');
}

/** Field errors in a LabelSelector object (upstream ValidateLabelSelector), for 422 causes. */
export function validateLabelSelector(sel: unknown, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (sel === undefined || sel === null) return causes;
  if (!isObject(sel)) return [field.typeInvalid(path, sel, 'must be an object')];
  const ml = sel['matchLabels'];
  if (ml !== undefined && ml !== null) {
    if (!isObject(ml)) causes.push(field.typeInvalid(`${path}.matchLabels`, ml, 'must be a map of strings'));
    else causes.push(...validateLabelMap(ml, `${path}.matchLabels`));
  }
  const me = sel['matchExpressions'];
  if (me !== undefined && me !== null) {
    if (!Array.isArray(me))
      causes.push(field.typeInvalid(`${path}.matchExpressions`, me, 'must be an array'));
    else
      me.forEach((expr: unknown, i) => {
        const p = index(`${path}.matchExpressions`, i);
        if (!isObject(expr)) {
          causes.push(field.typeInvalid(p, expr, 'must be an object'));
          return;
        }
        const k = expr['key'];
        const op = expr['operator'];
        const values = expr['values'];
        const count = Array.isArray(values) ? values.length : 0;
        if (typeof k !== 'string' || k === '') causes.push(field.required(`${p}.key`));
        else for (const msg of isQualifiedName(k)) causes.push(field.invalid(`${p}.key`, k, msg));
        switch (op) {
          case 'In':
          case 'NotIn':
            if (count === 0)
              causes.push(
                field.required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"),
              );
            break;
          case 'Exists':
          case 'DoesNotExist':
            if (count > 0)
              causes.push(
                field.forbidden(
                  `${p}.values`,
                  "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ),
              );
            break;
          default:
            causes.push(field.invalid(`${p}.operator`, op, 'not a valid selector operator'));
        }
        if (Array.isArray(values)) {
          values.forEach((v: unknown, j) => {
            if (typeof v !== 'string')
              causes.push(field.typeInvalid(index(`${p}.values`, j), v, 'must be a string'));
            else
              for (const msg of isValidLabelValue(v))
                causes.push(field.invalid(index(`${p}.values`, j), v, msg));
          });
        }
      });
  }
  return causes;
}

/** Label map syntax (keys qualified names, values label values) as upstream ValidateLabels. */
export function validateLabelMap(labels: Record<string, unknown>, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [k, v] of Object.entries(labels)) {
    for (const msg of isQualifiedName(k)) causes.push(field.invalid(path, k, msg));
    if (typeof v !== 'string') causes.push(field.typeInvalid(path, v, 'must be a string'));
    else for (const msg of isValidLabelValue(v)) causes.push(field.invalid(path, v, msg));
  }
  return causes;
}

/**
 * Converts a LabelSelector object to requirements (upstream LabelSelectorAsSelector).
 * Returns `undefined` for a null/absent selector, which selects nothing; `{}` selects everything.
 * Throws ApiError BadRequest for an invalid selector; call validateLabelSelector first for causes.
 */
export function labelSelectorRequirements(
  sel: LabelSelector | null | undefined,
): LabelRequirement[] | undefined {
  if (sel === null || sel === undefined) return undefined;
  const reqs: LabelRequirement[] = [];
  try {
    for (const [k, v] of Object.entries(sel.matchLabels ?? {})) reqs.push(newRequirement(k, 'Equals', [v]));
    for (const expr of sel.matchExpressions ?? []) {
      switch (expr.operator) {
        case 'In':
        case 'NotIn':
        case 'Exists':
        case 'DoesNotExist':
          reqs.push(newRequirement(expr.key, expr.operator, expr.values ?? []));
          break;
        default:
          throw new Error(`${formatValue(expr.operator)} is not a valid label selector operator`);
      }
    }
  } catch (err) {
    throw new ApiError('BadRequest', err instanceof Error ? err.message : String(err));
  }
  return reqs.sort(byKey);
}

/** A predicate over labels; a null/absent selector matches nothing, `{}` matches everything. */
export function labelSelectorMatcher(sel: LabelSelector | null | undefined): (labels: Labels) => boolean {
  const reqs = labelSelectorRequirements(sel);
  if (reqs === undefined) return () => false;
  return (labels) => matchesLabels(reqs, labels);
}

/** `{matchLabels:{app:'web'}, matchExpressions:[{key:'tier',operator:'In',values:['fe']}]}` → `app=web,tier in (fe)`. */
export function labelSelectorToString(sel: LabelSelector | null | undefined): string {
  const reqs = labelSelectorRequirements(sel);
  return reqs === undefined ? '' : requirementsToString(reqs);
}

/** Selector for a `matchLabels`-style map (Service spec.selector, nodeSelector). Empty matches everything. */
export function mapSelectorMatches(selector: Readonly<Record<string, string>>, labels: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => labels !== undefined && labels[k] === v);
}

// ---------------------------------------------------------------------------------------------
// Field selectors

export type FieldOperator = '=' | '==' | '!=';

export interface FieldRequirement {
  field: string;
  operator: FieldOperator;
  value: string;
}

/** A getter for selectable fields of one object: `undefined` means the field is not supported. */
export type FieldGetter = (field: string) => string | undefined;

function splitTerms(s: string): string[] {
  if (s === '') return [];
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (escaped) escaped = false;
    else if (ch === '\\') escaped = true;
    else if (ch === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

function splitTerm(term: string): [string, FieldOperator, string] | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '='] as const) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
  }
  return undefined;
}

function unescapeValue(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] ?? '';
    if (ch === '\\') {
      const next = s[i + 1];
      if (next !== '\\' && next !== ',' && next !== '=') {
        throw new ApiError(
          'BadRequest',
          `invalid field selector: invalid escape sequence: ${s.slice(i, i + 2)}`,
        );
      }
      out += next;
      i++;
    } else if (ch === ',' || ch === '=') {
      throw new ApiError('BadRequest', `invalid field selector: unescaped character in value: ${ch}`);
    } else out += ch;
  }
  return out;
}

function escapeValue(s: string): string {
  return s.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** Parses `metadata.name=web,status.phase!=Running`. Throws ApiError BadRequest on bad syntax. */
export function parseFieldSelector(text: string): FieldRequirement[] {
  const reqs: FieldRequirement[] = [];
  for (const part of splitTerms(text).sort()) {
    if (part === '') continue;
    const split = splitTerm(part);
    if (split === undefined)
      throw new ApiError('BadRequest', `invalid selector: '${text}'; can't understand '${part}'`);
    const [lhs, operator, rhs] = split;
    reqs.push({ field: lhs.trim(), operator, value: unescapeValue(rhs) });
  }
  return reqs;
}

export function fieldSelectorToString(reqs: readonly FieldRequirement[]): string {
  return reqs.map((r) => `${r.field}${r.operator === '!=' ? '!=' : '='}${escapeValue(r.value)}`).join(',');
}

export function fieldNotSupported(name: string): ApiError {
  return new ApiError('BadRequest', `field label not supported: ${name}`);
}

/** Matches with a caller-supplied getter; a getter answering `undefined` makes this throw 400. */
export function matchesFieldSelector(reqs: readonly FieldRequirement[], get: FieldGetter): boolean {
  for (const r of reqs) {
    const v = get(r.field);
    if (v === undefined) throw fieldNotSupported(r.field);
    if ((r.operator === '!=') === (v === r.value)) return false;
  }
  return true;
}

/** The selectable fields of a kind: metadata.name, metadata.namespace (namespaced kinds) and the table's fieldSelectors. */
export function selectableFields(kind: string, group?: string): string[] {
  const info = resources.find((x) => x.kind === kind && (group === undefined || x.group === group));
  if (info === undefined) return ['metadata.name', 'metadata.namespace'];
  return ['metadata.name', ...(info.namespaced ? ['metadata.namespace'] : []), ...info.fieldSelectors];
}

/** Throws 400 `field label not supported: x` if the selector names a field the kind doesn't offer. */
export function checkFieldSelector(reqs: readonly FieldRequirement[], kind: string, group?: string): void {
  const fields = new Set(selectableFields(kind, group));
  for (const r of reqs) if (!fields.has(r.field)) throw fieldNotSupported(r.field);
}

function lookup(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

function asFieldValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}

/**
 * Returns a factory of getters for a kind: `fieldGetterFor('Pod')(pod)('spec.nodeName')`.
 * Absent values read as '' (so `spec.nodeName=` finds unscheduled pods); Event `source` reads
 * source.component; Node `spec.unschedulable` reads "true"/"false". Unsupported fields → undefined.
 */
export function fieldGetterFor(kind: string, group?: string): (obj: KubeObject) => FieldGetter {
  const fields = new Set(selectableFields(kind, group));
  return (obj) => (name) => {
    if (!fields.has(name)) return undefined;
    if (kind === 'Event' && name === 'source') return asFieldValue(lookup(obj, 'source.component'));
    if (kind === 'Node' && name === 'spec.unschedulable')
      return lookup(obj, name) === true ? 'true' : 'false';
    if (kind === 'Pod' && name === 'spec.hostNetwork') return lookup(obj, name) === true ? 'true' : 'false';
    return asFieldValue(lookup(obj, name));
  };
}

/**
 * One predicate for a list or watch: parses both selectors (throwing 400 on bad syntax or an
 * unsupported field) and returns a matcher over objects of `kind`.
 */
export function objectMatcher(
  kind: string,
  selectors: { labelSelector?: string | undefined; fieldSelector?: string | undefined },
  group?: string,
): (obj: KubeObject) => boolean {
  const labels = parseLabelSelector(selectors.labelSelector ?? '');
  const fields = parseFieldSelector(selectors.fieldSelector ?? '');
  checkFieldSelector(fields, kind, group);
  const getter = fieldGetterFor(kind, group);
  return (obj) => matchesLabels(labels, obj.metadata.labels) && matchesFieldSelector(fields, getter(obj));
}
