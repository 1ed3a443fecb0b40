// kubectl's JSONPath dialect (k8s.io/client-go/util/jsonpath): templates such as
// `{.metadata.name}`, `{.items[*].metadata.name}{"\n"}`, `{range .items[*]}{.x}{"\n"}{end}`,
// `{.status.conditions[?(@.type=="Ready")].status}`, `{..image}`, `{.metadata.labels.app\.io/name}`.
// Used by `wait --for=jsonpath=...` and `get -o jsonpath=...`.

type Json = unknown;

export type Step =
  | { kind: 'field'; names: string[] }
  | { kind: 'wildcard' }
  | { kind: 'recursive' }
  | { kind: 'index'; index: number }
  | { kind: 'slice'; start: number | undefined; end: number | undefined; step: number | undefined }
  | { kind: 'filter'; filter: Filter };

type Operand = { kind: 'path'; root: '@' | '$'; steps: Step[] } | { kind: 'literal'; value: Json };

type Filter =
  | { kind: 'exists'; operand: Operand }
  | { kind: 'compare'; op: '==' | '!=' | '<' | '<=' | '>' | '>='; left: Operand; right: Operand }
  | { kind: 'and' | 'or'; left: Filter; right: Filter };

export type TemplateNode =
  | { kind: 'text'; text: string }
  | { kind: 'expr'; steps: Step[] }
  | { kind: 'range'; steps: Step[]; body: TemplateNode[] };

export class JsonPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonPathError';
  }
}

// ---------------------------------------------------------------------------------------------
// Expression parsing.

const fieldStop = new Set(['.', '[', ']', ' ', '\t', ',', ')', '(', '=', '!', '<', '>', '&', '|', '}']);

class ExprParser {
  pos = 0;
  constructor(private readonly text: string) {}

  private peek(n = 0): string {
    return this.text[this.pos + n] ?? '';
  }

  private fail(message: string): never {
    throw new JsonPathError(`${message} in "${this.text}" at position ${this.pos}`);
  }

  private skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  /** Steps of a path, stopping at anything that cannot continue it. */
  steps(): Step[] {
    const steps: Step[] = [];
    for (;;) {
      const c = this.peek();
      if (c === '.') {
        if (this.peek(1) === '.') {
          this.pos += 2;
          steps.push({ kind: 'recursive' });
          if (this.peek() === '[') continue;
          if (this.peek() === '*') {
            this.pos++;
            steps.push({ kind: 'wildcard' });
            continue;
          }
          steps.push({ kind: 'field', names: [this.fieldName()] });
          continue;
        }
        this.pos++;
        if (this.peek() === '*') {
          this.pos++;
          steps.push({ kind: 'wildcard' });
          continue;
        }
        if (this.atEnd() || fieldStop.has(this.peek())) continue; // `{.}`: the object itself
        steps.push({ kind: 'field', names: [this.fieldName()] });
        continue;
      }
      if (c === '[') {
        steps.push(this.bracket());
        continue;
      }
      return steps;
    }
  }

  private fieldName(): string {
    let name = '';
    while (!this.atEnd()) {
      const c = this.peek();
      if (c === '\\' && this.pos + 1 < this.text.length) {
        name += this.peek(1);
        this.pos += 2;
        continue;
      }
      if (fieldStop.has(c)) break;
      name += c;
      this.pos++;
    }
    if (name === '') this.fail('expected a field name');
    return name;
  }

  private quoted(): string {
    const quote = this.peek();
    this.pos++;
    let s = '';
    while (!this.atEnd() && this.peek() !== quote) {
      if (this.peek() === '\\' && this.pos + 1 < this.text.length) {
        const n = this.peek(1);
        s += n === 'n' ? '\n' : n === 't' ? '\t' : n;
        this.pos += 2;
        continue;
      }
      s += this.peek();
      this.pos++;
    }
    if (this.atEnd()) this.fail('unterminated string');
    this.pos++;
    return s;
  }

  private integer(): number | undefined {
    const m = /^-?\d+/.exec(this.text.slice(this.pos));
    if (m === null) return undefined;
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private bracket(): Step {
    this.pos++; // [
    this.skipSpaces();
    let step: Step;
    if (this.peek() === '*') {
      this.pos++;
      step = { kind: 'wildcard' };
    } else if (this.peek() === '?') {
      this.pos++;
      this.skipSpaces();
      if (this.peek() !== '(') this.fail('expected "(" after "?"');
      this.pos++;
      const filter = this.filter();
      this.skipSpaces();
      if (this.peek() !== ')') this.fail('expected ")"');
      this.pos++;
      step = { kind: 'filter', filter };
    } else if (this.peek() === "'" || this.peek() === '"') {
      const names = [this.quoted()];
      this.skipSpaces();
      while (this.peek() === ',') {
        this.pos++;
        this.skipSpaces();
        if (this.peek() !== "'" && this.peek() !== '"') this.fail('expected a quoted name');
        names.push(this.quoted());
        this.skipSpaces();
      }
      step = { kind: 'field', names };
    } else {
      const start = this.integer();
      this.skipSpaces();
      if (this.peek() === ':') {
        this.pos++;
        const end = this.integer();
        let stepN: number | undefined;
        if (this.peek() === ':') {
          this.pos++;
          stepN = this.integer();
        }
        step = { kind: 'slice', start, end, step: stepN };
      } else {
        if (start === undefined) this.fail('expected an index, a slice, *, a name or a filter');
        step = { kind: 'index', index: start };
      }
    }
    this.skipSpaces();
    if (this.peek() !== ']') this.fail('expected "]"');
    this.pos++;
    return step;
  }

  private operand(): Operand {
    this.skipSpaces();
    const c = this.peek();
    if (c === '@' || c === '$') {
      this.pos++;
      return { kind: 'path', root: c, steps: this.steps() };
    }
    if (c === "'" || c === '"') return { kind: 'literal', value: this.quoted() };
    const m = /^(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null)/.exec(this.text.slice(this.pos));
    if (m === null) this.fail('expected a value');
    this.pos += m[0].length;
    return { kind: 'literal', value: JSON.parse(m[0]) as Json };
  }

  private comparison(): Filter {
    const left = this.operand();
    this.skipSpaces();
    const m = /^(==|!=|<=|>=|<|>)/.exec(this.text.slice(this.pos));
    if (m === null) return { kind: 'exists', operand: left };
    this.pos += m[0].length;
    const right = this.operand();
    return { kind: 'compare', op: m[0] as '==' | '!=' | '<' | '<=' | '>' | '>=', left, right };
  }

  filter(): Filter {
    let left = this.comparison();
    for (;;) {
      this.skipSpaces();
      const two = this.text.slice(this.pos, this.pos + 2);
      if (two !== '&&' && two !== '||') return left;
      this.pos += 2;
      const right = this.comparison();
      left = { kind: two === '&&' ? 'and' : 'or', left, right };
    }
  }
}

/** Parse one expression (`.a.b[0]`, `$.a`, `{.a}` braces optional). */
export function parseExpression(text: string): Step[] {
  let t = text.trim();
  if (t.startsWith('{') && t.endsWith('}')) t = t.slice(1, -1).trim();
  if (t.startsWith('$')) t = t.slice(1);
  if (t !== '' && !t.startsWith('.') && !t.startsWith('[')) t = `.${t}`;
  const p = new ExprParser(t);
  const steps = p.steps();
  if (!p.atEnd()) throw new JsonPathError(`unexpected "${t.slice(p.pos)}" in "${text}"`);
  return steps;
}

/** Parse a whole template: literal text and `{...}` actions (expressions, `"strings"`, range/end). */
export function parseTemplate(template: string): TemplateNode[] {
  const root: TemplateNode[] = [];
  const stack: { body: TemplateNode[] }[] = [{ body: root }];
  const current = (): TemplateNode[] => stack[stack.length - 1]?.body ?? root;
  let i = 0;
  let text = '';
  while (i < template.length) {
    const c = template[i] ?? '';
    if (c !== '{') {
      text += c;
      i++;
      continue;
    }
    if (text !== '') current().push({ kind: 'text', text });
    text = '';
    // Find the matching `}` outside quotes.
    let j = i + 1;
    let quote = '';
    for (; j < template.length; j++) {
      const d = template[j];
      if (quote !== '') {
        if (d === '\\') j++;
        else if (d === quote) quote = '';
      } else if (d === '"' || d === "'") quote = d;
      else if (d === '}') break;
    }
    if (j >= template.length) throw new JsonPathError(`unclosed action in template "${template}"`);
    const action = template.slice(i + 1, j).trim();
    i = j + 1;
    if (action === 'end') {
      if (stack.length === 1) throw new JsonPathError('not in range, nothing to end');
      stack.pop();
      continue;
    }
    if (action.startsWith('range ') || action === 'range') {
      const node: TemplateNode = { kind: 'range', steps: parseExpression(action.slice(5)), body: [] };
      current().push(node);
      stack.push({ body: node.body });
      continue;
    }
    if (/^"(?:[^"\\]|\\.)*"$/.test(action) || /^'(?:[^'\\]|\\.)*'$/.test(action)) {
      current().push({
        kind: 'text',
        text: JSON.parse(`"${action.slice(1, -1).replace(/\\'/g, "'")}"`) as string,
      });
      continue;
    }
    current().push({ kind: 'expr', steps: parseExpression(action) });
  }
  if (text !== '') current().push({ kind: 'text', text });
  if (stack.length > 1) throw new JsonPathError('unclosed range');
  return root;
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function descendants(v: unknown, out: unknown[]): void {
  out.push(v);
  if (Array.isArray(v)) for (const x of v) descendants(x, out);
  else if (isMap(v)) for (const k of Object.keys(v).sort()) descendants(v[k], out);
}

function normalizeIndex(i: number, len: number): number {
  return i < 0 ? len + i : i;
}

function compare(op: string, a: unknown, b: unknown): boolean {
  if (op === '==' || op === '!=') {
    const eq =
      (typeof a === 'number' || typeof b === 'number') && a !== undefined && b !== undefined
        ? Number(a) === Number(b)
        : JSON.stringify(a) === JSON.stringify(b);
    return op === '==' ? eq : !eq;
  }
  if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string')) return false;
  const x = a;
  const y = b as number | string;
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    default:
      return x >= y;
  }
}

function operandValues(o: Operand, current: unknown, root: unknown): unknown[] {
  if (o.kind === 'literal') return [o.value];
  return evaluate(o.root === '@' ? current : root, o.steps, root);
}

function matches(f: Filter, current: unknown, root: unknown): boolean {
  switch (f.kind) {
    case 'exists':
      return operandValues(f.operand, current, root).some(
        (v) => v !== undefined && v !== null && v !== false,
      );
    case 'compare': {
      const left = operandValues(f.left, current, root);
      const right = operandValues(f.right, current, root);
      return left.some((l) => right.some((r) => compare(f.op, l, r)));
    }
    case 'and':
      return matches(f.left, current, root) && matches(f.right, current, root);
    case 'or':
      return matches(f.left, current, root) || matches(f.right, current, root);
  }
}

function applyStep(values: unknown[], step: Step, root: unknown): unknown[] {
  const out: unknown[] = [];
  for (const v of values) {
    switch (step.kind) {
      case 'field':
        if (isMap(v)) for (const n of step.names) if (n in v) out.push(v[n]);
        break;
      case 'wildcard':
        if (Array.isArray(v)) out.push(...v);
        else if (isMap(v)) for (const k of Object.keys(v).sort()) out.push(v[k]);
        break;
      case 'recursive':
        descendants(v, out);
        break;
      case 'index':
        if (Array.isArray(v)) {
          const i = normalizeIndex(step.index, v.length);
          if (i >= 0 && i < v.length) out.push(v[i]);
        }
        break;
      case 'slice':
        if (Array.isArray(v)) {
          const by = step.step ?? 1;
          if (by <= 0) break;
          const start = Math.max(0, normalizeIndex(step.start ?? 0, v.length));
          const end = Math.min(v.length, normalizeIndex(step.end ?? v.length, v.length));
          for (let i = start; i < end; i += by) out.push(v[i]);
        }
        break;
      case 'filter': {
        const items = Array.isArray(v) ? v : isMap(v) ? [v] : [];
        for (const item of items) if (matches(step.filter, item, root)) out.push(item);
        break;
      }
    }
  }
  return out;
}

/** The values a path selects below `value` (missing fields select nothing). */
export function evaluate(value: unknown, steps: Step[], root: unknown = value): unknown[] {
  let values: unknown[] = [value];
  for (const step of steps) {
    // `..field` looks for the field at every level: expand, then select.
    values = applyStep(values, step, root);
  }
  return values;
}

/** A value as kubectl prints it: strings as themselves, everything else as JSON. */
export function formatValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isMap(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
  return out;
}

function execute(nodes: TemplateNode[], value: unknown, root: unknown): string {
  let out = '';
  for (const n of nodes) {
    switch (n.kind) {
      case 'text':
        out += n.text;
        break;
      case 'expr':
        out += evaluate(value, n.steps, root).map(formatValue).join(' ');
        break;
      case 'range': {
        let items = evaluate(value, n.steps, root);
        if (items.length === 1 && Array.isArray(items[0])) items = items[0] as unknown[];
        for (const item of items) out += execute(n.body, item, root);
        break;
      }
    }
  }
  return out;
}

/** Run a template against an object (`kubectl get -o jsonpath=...`). */
export function executeTemplate(template: string, value: unknown): string {
  return execute(parseTemplate(template), value, value);
}
