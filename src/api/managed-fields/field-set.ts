// Sets of field paths, the data behind `metadata.managedFields[].fieldsV1`.
//
// A path is a list of tokens in the FieldsV1 spelling: `f:<field>` (a struct field or a map key),
// `k:{"name":"web"}` (an item of a list keyed by its key fields, the fields sorted by name),
// `v:"value"` (an item of a list of scalars used as a set) and `i:<n>` (an item by position, only for
// items that have no key). A set is a trie: every node may be a member itself and may have children;
// FieldsV1 writes a member that also has children with a `".": {}` entry.

import { isObject } from '../types.js';

export type PathToken = string;
export type FieldPath = readonly PathToken[];

export class FieldNode {
  member = false;
  readonly children = new Map<PathToken, FieldNode>();

  child(token: PathToken): FieldNode | undefined {
    return this.children.get(token);
  }

  isEmpty(): boolean {
    return !this.member && this.children.size === 0;
  }
}

/** Why a FieldsV1 value could not be read. */
export class FieldsV1Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FieldsV1Error';
  }
}

function validToken(token: string): boolean {
  if (token.length < 2 || token[1] !== ':') return false;
  const rest = token.slice(2);
  switch (token[0]) {
    case undefined:
      return false;
    case 'f':
      return true;
    case 'i':
      return /^\d+$/.test(rest);
    case 'k':
    case 'v': {
      try {
        const parsed = JSON.parse(rest) as unknown;
        return token[0] === 'v' || isObject(parsed);
      } catch {
        return false;
      }
    }
    default:
      return false;
  }
}

function cloneNode(n: FieldNode): FieldNode {
  const out = new FieldNode();
  out.member = n.member;
  for (const [t, c] of n.children) out.children.set(t, cloneNode(c));
  return out;
}

function unionInto(into: FieldNode, other: FieldNode): void {
  if (other.member) into.member = true;
  for (const [t, c] of other.children) {
    let mine = into.children.get(t);
    if (mine === undefined) {
      mine = new FieldNode();
      into.children.set(t, mine);
    }
    unionInto(mine, c);
  }
}

/** Members of `a` that are not members of `b` (b === undefined: all of a). */
function differenceOf(a: FieldNode, b: FieldNode | undefined): FieldNode {
  const out = new FieldNode();
  out.member = a.member && !(b?.member ?? false);
  for (const [t, c] of a.children) {
    const d = differenceOf(c, b?.child(t));
    if (!d.isEmpty()) out.children.set(t, d);
  }
  return out;
}

function intersectionOf(a: FieldNode, b: FieldNode): FieldNode {
  const out = new FieldNode();
  out.member = a.member && b.member;
  for (const [t, c] of a.children) {
    const other = b.child(t);
    if (other === undefined) continue;
    const i = intersectionOf(c, other);
    if (!i.isEmpty()) out.children.set(t, i);
  }
  return out;
}

/** Members of `a` that are not members of `b` and lie under no member of `b` (whole subtrees removed). */
function subtreeDifferenceOf(a: FieldNode, b: FieldNode | undefined): FieldNode | undefined {
  if (b?.member === true) return undefined;
  const out = new FieldNode();
  out.member = a.member;
  for (const [t, c] of a.children) {
    const d = subtreeDifferenceOf(c, b?.child(t));
    if (d !== undefined && !d.isEmpty()) out.children.set(t, d);
  }
  return out;
}

function nodesEqual(a: FieldNode, b: FieldNode): boolean {
  if (a.member !== b.member || a.children.size !== b.children.size) return false;
  for (const [t, c] of a.children) {
    const o = b.child(t);
    if (o === undefined || !nodesEqual(c, o)) return false;
  }
  return true;
}

/** Tokens in a stable order: field names, then keys, then values, then indexes, each sorted. */
function sortedTokens(n: FieldNode): PathToken[] {
  return [...n.children.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

export class FieldSet {
  readonly root: FieldNode;

  constructor(root: FieldNode = new FieldNode()) {
    this.root = root;
  }

  /** Reads a FieldsV1 object; throws FieldsV1Error when it is not one. */
  static fromFieldsV1(value: unknown): FieldSet {
    const read = (v: unknown, depth: number): FieldNode => {
      if (!isObject(v)) throw new FieldsV1Error('a FieldsV1 node must be an object');
      if (depth > 100) throw new FieldsV1Error('FieldsV1 is nested too deeply');
      const node = new FieldNode();
      const keys = Object.keys(v);
      if (keys.length === 0) node.member = true;
      for (const k of keys) {
        const child = v[k];
        if (k === '.') {
          if (!isObject(child) || Object.keys(child).length > 0)
            throw new FieldsV1Error('the "." entry of a FieldsV1 node must be {}');
          node.member = true;
          continue;
        }
        if (!validToken(k)) throw new FieldsV1Error(`invalid FieldsV1 path element ${JSON.stringify(k)}`);
        node.children.set(k, read(child, depth + 1));
      }
      return node;
    };
    const root = read(value, 0);
    // An empty object at the top is the empty set, not "the whole object".
    if (root.children.size === 0) root.member = false;
    return new FieldSet(root);
  }

  toFieldsV1(): Record<string, unknown> {
    const write = (n: FieldNode): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      if (n.member && n.children.size > 0) out['.'] = {};
      for (const t of sortedTokens(n)) {
        const c = n.children.get(t);
        if (c !== undefined && !c.isEmpty()) out[t] = write(c);
      }
      return out;
    };
    return write(this.root);
  }

  clone(): FieldSet {
    return new FieldSet(cloneNode(this.root));
  }

  insert(path: FieldPath): void {
    let n = this.root;
    for (const t of path) {
      let c = n.children.get(t);
      if (c === undefined) {
        c = new FieldNode();
        n.children.set(t, c);
      }
      n = c;
    }
    if (path.length > 0) n.member = true;
  }

  node(path: FieldPath): FieldNode | undefined {
    let n: FieldNode | undefined = this.root;
    for (const t of path) {
      n = n.child(t);
      if (n === undefined) return undefined;
    }
    return n;
  }

  /** Is `path` itself a member? */
  has(path: FieldPath): boolean {
    return this.node(path)?.member ?? false;
  }

  isEmpty(): boolean {
    return this.root.isEmpty();
  }

  union(other: FieldSet): FieldSet {
    const out = cloneNode(this.root);
    unionInto(out, other.root);
    return new FieldSet(out);
  }

  difference(other: FieldSet): FieldSet {
    return new FieldSet(differenceOf(this.root, other.root));
  }

  intersection(other: FieldSet): FieldSet {
    return new FieldSet(intersectionOf(this.root, other.root));
  }

  /** Without the members of `other` and everything below them. */
  withoutSubtrees(other: FieldSet): FieldSet {
    return new FieldSet(subtreeDifferenceOf(this.root, other.root) ?? new FieldNode());
  }

  equals(other: FieldSet): boolean {
    return nodesEqual(this.root, other.root);
  }

  /** Every member path, in FieldsV1 order (parents before their children). */
  paths(): FieldPath[] {
    const out: FieldPath[] = [];
    const visit = (n: FieldNode, prefix: PathToken[]): void => {
      if (n.member && prefix.length > 0) out.push([...prefix]);
      for (const t of sortedTokens(n)) {
        const c = n.children.get(t);
        if (c !== undefined) visit(c, [...prefix, t]);
      }
    };
    visit(this.root, []);
    return out;
  }
}

/** The FieldsV1 token of a struct field or map key. */
export function fieldToken(name: string): PathToken {
  return `f:${name}`;
}

/** The token of a keyed list item: its key fields as JSON, sorted by field name. */
export function keyToken(key: Readonly<Record<string, unknown>>): PathToken {
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(key).sort()) sorted[k] = key[k];
  return `k:${JSON.stringify(sorted)}`;
}

export function valueToken(value: unknown): PathToken {
  return `v:${JSON.stringify(value)}`;
}

export function indexToken(i: number): PathToken {
  return `i:${i}`;
}

function scalarString(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
}

/** A path as kube-apiserver prints it in conflicts: `.spec.template.spec.containers[name="web"].image`. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const t of path) {
    const rest = t.slice(2);
    switch (t[0]) {
      case undefined:
        break;
      case 'f':
        out += `.${rest}`;
        break;
      case 'k': {
        let key: Record<string, unknown> = {};
        try {
          const parsed = JSON.parse(rest) as unknown;
          if (isObject(parsed)) key = parsed;
        } catch {
          // keep it empty
        }
        out += `[${Object.entries(key)
          .map(([k, v]) => `${k}=${scalarString(v)}`)
          .join(',')}]`;
        break;
      }
      case 'v':
        out += `[=${rest}]`;
        break;
      case 'i':
        out += `[${rest}]`;
        break;
      default:
        out += t;
    }
  }
  return out;
}
