// JSON Patch (RFC 6902), `application/json-patch+json`, with JSON Pointers (RFC 6901).
// Malformed bodies are 400 BadRequest; operations that do not apply are 422 Invalid; more than
// 10,000 operations is 413, as the apiserver answers. The patch is all-or-nothing.

import { ApiError } from '../errors.js';
import { isObject } from '../types.js';
import { jsonClone, jsonEqual } from './json.js';

export type JsonPatchOp =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'move'; from: string; path: string }
  | { op: 'copy'; from: string; path: string }
  | { op: 'test'; path: string; value: unknown };

export type JsonPatchOpName = JsonPatchOp['op'];

export const maxJsonPatchOperations = 10_000;

const opNames: readonly JsonPatchOpName[] = ['add', 'remove', 'replace', 'move', 'copy', 'test'];

function isOpName(v: unknown): v is JsonPatchOpName {
  return typeof v === 'string' && (opNames as readonly string[]).includes(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Checks a decoded body is a well-formed JSON Patch; throws 400 / 413 with a clear message. */
export function parseJsonPatch(body: unknown): JsonPatchOp[] {
  if (!Array.isArray(body)) {
    throw new ApiError('BadRequest', `json patch must be an array of operations, got ${describe(body)}`);
  }
  if (body.length > maxJsonPatchOperations) {
    throw new ApiError(
      'RequestEntityTooLarge',
      `The allowed maximum operations in a JSON patch is ${maxJsonPatchOperations}, got ${body.length}`,
    );
  }
  return body.map((raw: unknown, i): JsonPatchOp => {
    if (!isObject(raw))
      throw new ApiError('BadRequest', `json patch operation ${i} must be an object, got ${describe(raw)}`);
    const op = raw['op'];
    if (op === undefined) throw new ApiError('BadRequest', `json patch operation ${i} is missing "op"`);
    if (!isOpName(op)) {
      throw new ApiError(
        'BadRequest',
        `json patch operation ${i} has unknown op ${JSON.stringify(op)} (expected one of ${opNames.join(', ')})`,
      );
    }
    const need = (name: 'path' | 'from'): string => {
      const v = raw[name];
      if (typeof v !== 'string') {
        throw new ApiError(
          'BadRequest',
          v === undefined
            ? `json patch operation ${i} (${op}) is missing "${name}"`
            : `json patch operation ${i} (${op}): "${name}" must be a string, got ${describe(v)}`,
        );
      }
      parsePointer(v, op, name);
      return v;
    };
    const value = (): unknown => {
      if (!('value' in raw))
        throw new ApiError('BadRequest', `json patch operation ${i} (${op}) is missing "value"`);
      return raw['value'];
    };
    switch (op) {
      case 'add':
        return { op, path: need('path'), value: value() };
      case 'remove':
        return { op, path: need('path') };
      case 'replace':
        return { op, path: need('path'), value: value() };
      case 'move':
        return { op, from: need('from'), path: need('path') };
      case 'copy':
        return { op, from: need('from'), path: need('path') };
      case 'test':
        return { op, path: need('path'), value: value() };
    }
  });
}

/** `/a/b~1c/~0d` → ['a', 'b/c', '~d']. Throws 400 for a pointer not starting with `/` or a bad escape. */
export function parsePointer(pointer: string, op = 'json patch', what = 'path'): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) {
    throw new ApiError(
      'BadRequest',
      `jsonpatch ${op} operation: ${what} ${JSON.stringify(pointer)} is not a JSON pointer (must start with "/")`,
    );
  }
  return pointer
    .slice(1)
    .split('/')
    .map((t) => {
      if (/~[^01]|~$/.test(t)) {
        throw new ApiError(
          'BadRequest',
          `jsonpatch ${op} operation: ${what} ${JSON.stringify(pointer)} has an invalid escape (only ~0 and ~1 are allowed)`,
        );
      }
      return t.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

export function formatPointer(tokens: readonly string[]): string {
  return tokens.map((t) => `/${t.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function invalid(message: string): ApiError {
  return new ApiError('Invalid', message);
}

function arrayIndex(token: string, length: number, allowEnd: boolean): number | undefined {
  if (allowEnd && token === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
  const n = Number(token);
  return n <= (allowEnd ? length : length - 1) ? n : undefined;
}

/** The container holding the last token, and that token; throws 422 naming the op when missing. */
function resolveParent(doc: unknown, tokens: readonly string[], op: string, pointer: string): unknown {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) {
      const i = arrayIndex(t, cur.length, false);
      if (i === undefined)
        throw invalid(
          `jsonpatch ${op} operation does not apply: doc is missing path: ${JSON.stringify(pointer)}`,
        );
      cur = cur[i];
    } else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, t)) {
      cur = cur[t];
    } else {
      throw invalid(
        `jsonpatch ${op} operation does not apply: doc is missing path: ${JSON.stringify(pointer)}`,
      );
    }
  }
  return cur;
}

function get(doc: unknown, pointer: string, op: string, what = 'path'): unknown {
  const tokens = parsePointer(pointer, op, what);
  if (tokens.length === 0) return doc;
  const parent = resolveParent(doc, tokens, op, pointer);
  const last = tokens[tokens.length - 1] ?? '';
  const missing = (): ApiError =>
    invalid(
      `jsonpatch ${op} operation does not apply: doc is missing ${what === 'from' ? 'from ' : ''}path: ${JSON.stringify(pointer)}`,
    );
  if (Array.isArray(parent)) {
    const i = arrayIndex(last, parent.length, false);
    if (i === undefined) throw missing();
    return parent[i];
  }
  if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, last)) return parent[last];
  throw missing();
}

/** Each op returns the (possibly new) document root. */
function add(doc: unknown, pointer: string, value: unknown, op: string): unknown {
  const tokens = parsePointer(pointer, op);
  if (tokens.length === 0) return value;
  const parent = resolveParent(doc, tokens, op, pointer);
  const last = tokens[tokens.length - 1] ?? '';
  if (Array.isArray(parent)) {
    const i = arrayIndex(last, parent.length, true);
    if (i === undefined) {
      throw invalid(
        `jsonpatch ${op} operation does not apply: index ${JSON.stringify(last)} is out of bounds for array of length ${parent.length} at path: ${JSON.stringify(pointer)}`,
      );
    }
    parent.splice(i, 0, value);
  } else if (isObject(parent)) {
    parent[last] = value;
  } else {
    throw invalid(
      `jsonpatch ${op} operation does not apply: doc is missing path: ${JSON.stringify(pointer)}`,
    );
  }
  return doc;
}

function remove(
  doc: unknown,
  pointer: string,
  op: string,
  what = 'path',
): { doc: unknown; removed: unknown } {
  const tokens = parsePointer(pointer, op, what);
  const missing = (): ApiError =>
    invalid(
      `jsonpatch ${op} operation does not apply: doc is missing ${what === 'from' ? 'from ' : ''}path: ${JSON.stringify(pointer)}`,
    );
  if (tokens.length === 0)
    throw invalid(`jsonpatch ${op} operation does not apply: cannot remove the document root`);
  const parent = resolveParent(doc, tokens, op, pointer);
  const last = tokens[tokens.length - 1] ?? '';
  if (Array.isArray(parent)) {
    const i = arrayIndex(last, parent.length, false);
    if (i === undefined) throw missing();
    const [removed] = parent.splice(i, 1);
    return { doc, removed };
  }
  if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, last)) {
    const removed = parent[last];
    delete parent[last];
    return { doc, removed };
  }
  throw missing();
}

function replace(doc: unknown, pointer: string, value: unknown, op: string): unknown {
  const tokens = parsePointer(pointer, op);
  if (tokens.length === 0) return value;
  const parent = resolveParent(doc, tokens, op, pointer);
  const last = tokens[tokens.length - 1] ?? '';
  if (Array.isArray(parent)) {
    const i = arrayIndex(last, parent.length, false);
    if (i === undefined)
      throw invalid(
        `jsonpatch ${op} operation does not apply: doc is missing path: ${JSON.stringify(pointer)}`,
      );
    parent[i] = value;
    return doc;
  }
  if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, last)) {
    parent[last] = value;
    return doc;
  }
  throw invalid(`jsonpatch ${op} operation does not apply: doc is missing path: ${JSON.stringify(pointer)}`);
}

/** Applies one operation to a document it may mutate; returns the new root. */
function applyOp(doc: unknown, o: JsonPatchOp): unknown {
  switch (o.op) {
    case 'add':
      return add(doc, o.path, jsonClone(o.value), o.op);
    case 'remove':
      return remove(doc, o.path, o.op).doc;
    case 'replace':
      return replace(doc, o.path, jsonClone(o.value), o.op);
    case 'move': {
      if (o.from === o.path) {
        get(doc, o.from, o.op, 'from');
        return doc;
      }
      if (o.path.startsWith(`${o.from}/`)) {
        throw invalid(
          `jsonpatch move operation does not apply: "from" ${JSON.stringify(o.from)} is a prefix of "path" ${JSON.stringify(o.path)}`,
        );
      }
      const { doc: after, removed } = remove(doc, o.from, o.op, 'from');
      return add(after, o.path, removed, o.op);
    }
    case 'copy':
      return add(doc, o.path, jsonClone(get(doc, o.from, o.op, 'from')), o.op);
    case 'test': {
      const actual = get(doc, o.path, o.op);
      if (!jsonEqual(actual, o.value)) {
        throw invalid(
          `jsonpatch test operation does not apply: is not equal to value at path: ${JSON.stringify(o.path)}: expected ${JSON.stringify(o.value)}, found ${JSON.stringify(actual)}`,
        );
      }
      return doc;
    }
  }
}

/**
 * Applies a JSON Patch. `ops` is the decoded request body (checked here). Returns the patched
 * document; `target` is not modified, and nothing is applied if any operation fails.
 */
export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  const parsed = parseJsonPatch(ops);
  let doc = jsonClone(target);
  for (const o of parsed) doc = applyOp(doc, o);
  return doc;
}
