import { describe, expect, it } from 'vitest';
import { isApiError, type StatusReason } from '../errors.js';
import { applyJsonPatch, formatPointer, parsePointer } from './json-patch.js';

function failure(fn: () => unknown): { reason: StatusReason; code: number; message: string } {
  try {
    fn();
  } catch (err) {
    if (isApiError(err)) return { reason: err.reason, code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('applyJsonPatch (RFC 6902 appendix A)', () => {
  it.each([
    [
      'add object member',
      { foo: 'bar' },
      [{ op: 'add', path: '/baz', value: 'qux' }],
      { baz: 'qux', foo: 'bar' },
    ],
    [
      'add array element',
      { foo: ['bar', 'baz'] },
      [{ op: 'add', path: '/foo/1', value: 'qux' }],
      { foo: ['bar', 'qux', 'baz'] },
    ],
    ['remove object member', { baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
    [
      'remove array element',
      { foo: ['bar', 'qux', 'baz'] },
      [{ op: 'remove', path: '/foo/1' }],
      { foo: ['bar', 'baz'] },
    ],
    [
      'replace',
      { baz: 'qux', foo: 'bar' },
      [{ op: 'replace', path: '/baz', value: 'boo' }],
      { baz: 'boo', foo: 'bar' },
    ],
    [
      'move',
      { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
      [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
    ],
    [
      'move array element',
      { foo: ['all', 'grass', 'cows', 'eat'] },
      [{ op: 'move', from: '/foo/1', path: '/foo/3' }],
      { foo: ['all', 'cows', 'eat', 'grass'] },
    ],
    [
      'test success',
      { baz: 'qux', foo: ['a', 2, 'c'] },
      [
        { op: 'test', path: '/baz', value: 'qux' },
        { op: 'test', path: '/foo/1', value: 2 },
      ],
      { baz: 'qux', foo: ['a', 2, 'c'] },
    ],
    [
      'add nested member',
      { foo: 'bar' },
      [{ op: 'add', path: '/child', value: { grandchild: {} } }],
      { foo: 'bar', child: { grandchild: {} } },
    ],
    [
      'ignores unknown members of an op',
      { foo: 'bar' },
      [{ op: 'add', path: '/baz', value: 'qux', xyz: 123 }],
      { foo: 'bar', baz: 'qux' },
    ],
    [
      'add to array with -',
      { foo: ['bar'] },
      [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }],
      { foo: ['bar', ['abc', 'def']] },
    ],
    [
      '~1 and ~0 escapes',
      { 'a/b': 1, 'm~n': 2 },
      [
        { op: 'replace', path: '/a~1b', value: 3 },
        { op: 'remove', path: '/m~0n' },
      ],
      { 'a/b': 3 },
    ],
    ['empty key', { '': 1 }, [{ op: 'replace', path: '/', value: 2 }], { '': 2 }],
    [
      'copy',
      { a: { b: [1] } },
      [
        { op: 'copy', from: '/a', path: '/c' },
        { op: 'add', path: '/c/b/-', value: 2 },
      ],
      { a: { b: [1] }, c: { b: [1, 2] } },
    ],
    ['replace root', { a: 1 }, [{ op: 'replace', path: '', value: { b: 2 } }], { b: 2 }],
    [
      'test deep equality ignores key order',
      { a: { x: 1, y: [1, { z: 2 }] } },
      [{ op: 'test', path: '/a', value: { y: [1, { z: 2 }], x: 1 } }],
      { a: { x: 1, y: [1, { z: 2 }] } },
    ],
    ['test value null', { a: null }, [{ op: 'test', path: '/a', value: null }], { a: null }],
    [
      'kubectl-style label add with escaped key',
      { metadata: { labels: { app: 'web' } } },
      [{ op: 'add', path: '/metadata/labels/example.com~1tier', value: 'fe' }],
      { metadata: { labels: { app: 'web', 'example.com/tier': 'fe' } } },
    ],
  ])('%s', (_name, doc, ops, expected) => {
    const before = JSON.stringify(doc);
    expect(applyJsonPatch(doc, ops)).toEqual(expected);
    expect(JSON.stringify(doc)).toBe(before);
  });

  it.each([
    [
      'remove missing',
      { metadata: { labels: {} } },
      [{ op: 'remove', path: '/metadata/labels/x' }],
      'jsonpatch remove operation does not apply: doc is missing path: "/metadata/labels/x"',
    ],
    [
      'add under missing parent',
      { a: 1 },
      [{ op: 'add', path: '/b/c', value: 1 }],
      'jsonpatch add operation does not apply: doc is missing path: "/b/c"',
    ],
    [
      'replace missing',
      { a: 1 },
      [{ op: 'replace', path: '/b', value: 1 }],
      'jsonpatch replace operation does not apply: doc is missing path: "/b"',
    ],
    [
      'add index out of bounds',
      { foo: ['bar', 'baz'] },
      [{ op: 'add', path: '/foo/3', value: 1 }],
      'jsonpatch add operation does not apply: index "3" is out of bounds for array of length 2 at path: "/foo/3"',
    ],
    [
      'leading zero index',
      { foo: ['bar', 'baz'] },
      [{ op: 'remove', path: '/foo/01' }],
      'jsonpatch remove operation does not apply: doc is missing path: "/foo/01"',
    ],
    [
      'remove -',
      { foo: ['bar'] },
      [{ op: 'remove', path: '/foo/-' }],
      'jsonpatch remove operation does not apply: doc is missing path: "/foo/-"',
    ],
    [
      'move missing from',
      { a: 1 },
      [{ op: 'move', from: '/b', path: '/c' }],
      'jsonpatch move operation does not apply: doc is missing from path: "/b"',
    ],
    [
      'copy missing from',
      { a: 1 },
      [{ op: 'copy', from: '/b', path: '/c' }],
      'jsonpatch copy operation does not apply: doc is missing from path: "/b"',
    ],
    [
      'move into own child',
      { a: { b: 1 } },
      [{ op: 'move', from: '/a', path: '/a/b/c' }],
      'jsonpatch move operation does not apply: "from" "/a" is a prefix of "path" "/a/b/c"',
    ],
    [
      'test failure',
      { baz: 'qux' },
      [{ op: 'test', path: '/baz', value: 'bar' }],
      'jsonpatch test operation does not apply: is not equal to value at path: "/baz": expected "bar", found "qux"',
    ],
    [
      'test 1 vs "1"',
      { a: 1 },
      [{ op: 'test', path: '/a', value: '1' }],
      'is not equal to value at path: "/a"',
    ],
    [
      'add into a scalar',
      { a: 1 },
      [{ op: 'add', path: '/a/b', value: 1 }],
      'jsonpatch add operation does not apply: doc is missing path: "/a/b"',
    ],
  ])('422 when %s', (_name, doc, ops, message) => {
    const f = failure(() => applyJsonPatch(doc, ops));
    expect(f.reason).toBe('Invalid');
    expect(f.code).toBe(422);
    expect(f.message).toContain(message);
  });

  it('is all-or-nothing: a failing later op leaves the target untouched', () => {
    const doc = { a: 1 };
    failure(() =>
      applyJsonPatch(doc, [
        { op: 'add', path: '/b', value: 2 },
        { op: 'remove', path: '/zzz' },
      ]),
    );
    expect(doc).toEqual({ a: 1 });
  });

  it.each([
    [
      'an object body',
      { op: 'add', path: '/a', value: 1 },
      'json patch must be an array of operations, got object',
    ],
    ['a null body', null, 'json patch must be an array of operations, got null'],
    ['a non-object op', [1], 'json patch operation 0 must be an object, got number'],
    ['a missing op', [{ path: '/a' }], 'json patch operation 0 is missing "op"'],
    [
      'an unknown op',
      [{ op: 'frob', path: '/a' }],
      'json patch operation 0 has unknown op "frob" (expected one of add, remove, replace, move, copy, test)',
    ],
    ['a missing path', [{ op: 'remove' }], 'json patch operation 0 (remove) is missing "path"'],
    [
      'a missing value',
      [
        { op: 'add', path: '/a' },
        { op: 'replace', path: '/b' },
      ],
      'json patch operation 0 (add) is missing "value"',
    ],
    [
      'a missing from',
      [
        { op: 'remove', path: '/a' },
        { op: 'move', path: '/b' },
      ],
      'json patch operation 1 (move) is missing "from"',
    ],
    [
      'a path without a leading slash',
      [{ op: 'remove', path: 'a' }],
      'jsonpatch remove operation: path "a" is not a JSON pointer (must start with "/")',
    ],
    [
      'a bad escape',
      [{ op: 'remove', path: '/a~2' }],
      'jsonpatch remove operation: path "/a~2" has an invalid escape (only ~0 and ~1 are allowed)',
    ],
    [
      'a numeric path',
      [{ op: 'remove', path: 5 }],
      'json patch operation 0 (remove): "path" must be a string, got number',
    ],
  ])('400 for %s', (_name, body, message) => {
    const f = failure(() => applyJsonPatch({ a: 1 }, body));
    expect(f).toEqual({ reason: 'BadRequest', code: 400, message });
  });

  it('413 beyond 10,000 operations', () => {
    const ops = Array.from({ length: 10_001 }, () => ({ op: 'test', path: '/a', value: 1 }));
    const f = failure(() => applyJsonPatch({ a: 1 }, ops));
    expect(f).toEqual({
      reason: 'RequestEntityTooLarge',
      code: 413,
      message: 'The allowed maximum operations in a JSON patch is 10000, got 10001',
    });
    expect(applyJsonPatch({ a: 1 }, ops.slice(0, 10_000))).toEqual({ a: 1 });
  });

  it('pointers round-trip', () => {
    for (const tokens of [[], ['a'], ['a/b', 'm~n', ''], ['~1']]) {
      expect(parsePointer(formatPointer(tokens))).toEqual(tokens);
    }
  });
});
