import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isApiError } from './errors.js';
import type { KubeObject } from './types.js';
import {
  checkFieldSelector,
  fieldGetterFor,
  fieldSelectorToString,
  labelSelectorMatcher,
  labelSelectorToString,
  matchesFieldSelector,
  matchesLabels,
  objectMatcher,
  parseFieldSelector,
  parseLabelSelector,
  requirementsToString,
  selectableFields,
  validateLabelSelector,
  type LabelSelector,
} from './selectors.js';

function badRequest(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isApiError(err) && err.reason === 'BadRequest' && err.code === 400) return err.message;
    throw err;
  }
  throw new Error('expected a BadRequest');
}

describe('parseLabelSelector', () => {
  it.each([
    ['', {}, true],
    ['app=web', { app: 'web' }, true],
    ['app==web', { app: 'web' }, true],
    ['app=web', { app: 'db' }, false],
    ['app!=web', { app: 'db' }, true],
    ['app!=web', {}, true],
    ['app!=web', { app: 'web' }, false],
    ['app in (web,db)', { app: 'db' }, true],
    ['app in (web, db)', { app: 'api' }, false],
    ['app notin (web,db)', { app: 'api' }, true],
    ['app notin (web,db)', {}, true],
    ['app notin (web,db)', { app: 'web' }, false],
    ['app', { app: '' }, true],
    ['app', {}, false],
    ['!app', {}, true],
    ['!app', { app: 'x' }, false],
    ['app=web,tier in (fe),!legacy', { app: 'web', tier: 'fe' }, true],
    ['app=web,tier in (fe),!legacy', { app: 'web', tier: 'fe', legacy: 'y' }, false],
    ['  app = web , tier  ', { app: 'web', tier: 'x' }, true],
    ['example.com/role=front', { 'example.com/role': 'front' }, true],
    ['env in (in,notin)', { env: 'notin' }, true],
    ['app=', { app: '' }, true],
    ['app in ()', { app: '' }, true],
    ['replicas>2', { replicas: '3' }, true],
    ['replicas>2', { replicas: '2' }, false],
    ['replicas<2', { replicas: 'x' }, false],
  ])('%j on %j → %s', (text, labels, expected) => {
    expect(matchesLabels(parseLabelSelector(text), labels)).toBe(expected);
  });

  it.each([
    ['app=web,tier in (fe)', 'app=web,tier in (fe)'],
    ['tier in (fe,be),app=web', 'app=web,tier in (be,fe)'],
    ['!a,b', '!a,b'],
    ['x notin (b,a,b)', 'x notin (a,b)'],
    ['x==y', 'x==y'],
  ])('canonical string of %j is %j', (text, canonical) => {
    expect(requirementsToString(parseLabelSelector(text))).toBe(canonical);
  });

  it.each([
    ['app=web,', "found '', expected: identifier after ','"],
    ['app=web x', "found 'x', expected: ',' or 'end of string'"],
    ['=web', "found '=', expected: !, identifier, or 'end of string'"],
    ['app in web', "unable to parse requirement: found 'web' expected: '('"],
    ['app in (web', "unable to parse requirement: found '', expected: ',' or ')'"],
    ['app (web)', "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"],
    ['app=(web)', "unable to parse requirement: found '(', expected: identifier"],
    ['!app=web', "found '=', expected: ',' or 'end of string'"],
    ['a b', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ['x>y', "for 'Gt', 'Lt' operators, the value must be an integer"],
  ])('rejects %j with %j', (text, message) => {
    expect(badRequest(() => parseLabelSelector(text))).toContain(message);
  });

  it('rejects invalid keys and values with the validation message', () => {
    expect(badRequest(() => parseLabelSelector('Bad_Key_!=x'))).toContain('key: Invalid value: "Bad_Key_"');
    expect(badRequest(() => parseLabelSelector('a=-x-'))).toContain(
      'values[0][a]: Invalid value: "-x-": a valid label must be an empty string',
    );
    expect(badRequest(() => parseLabelSelector(`a=${'x'.repeat(64)}`))).toContain(
      'must be no more than 63 characters',
    );
  });

  it('round-trips: the canonical form parses to the same requirements', () => {
    const key = fc.constantFrom('app', 'tier', 'example.com/x', 'k8s.io/name');
    const value = fc.constantFrom('a', 'b', 'web', 'x-1', '');
    const term = fc.oneof(
      fc.tuple(key, value).map(([k, v]) => `${k}=${v}`),
      fc.tuple(key, value).map(([k, v]) => `${k}!=${v}`),
      fc
        .tuple(
          key,
          fc.array(
            value.filter((v) => v !== ''),
            { minLength: 1, maxLength: 3 },
          ),
        )
        .map(([k, vs]) => `${k} in (${vs.join(',')})`),
      key,
      key.map((k) => `!${k}`),
    );
    fc.assert(
      fc.property(fc.array(term, { maxLength: 5 }), (terms) => {
        const reqs = parseLabelSelector(terms.join(','));
        expect(parseLabelSelector(requirementsToString(reqs))).toEqual(reqs);
      }),
    );
  });
});

describe('LabelSelector objects', () => {
  const sel: LabelSelector = {
    matchLabels: { app: 'web' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['fe'] },
      { key: 'legacy', operator: 'DoesNotExist' },
    ],
  };

  it('converts to the string form', () => {
    expect(labelSelectorToString(sel)).toBe('app=web,!legacy,tier in (fe)');
    expect(
      labelSelectorToString({
        matchLabels: { app: 'web' },
        matchExpressions: [{ key: 'tier', operator: 'In', values: ['fe'] }],
      }),
    ).toBe('app=web,tier in (fe)');
    expect(labelSelectorToString({})).toBe('');
  });

  it('matches', () => {
    const m = labelSelectorMatcher(sel);
    expect(m({ app: 'web', tier: 'fe' })).toBe(true);
    expect(m({ app: 'web', tier: 'be' })).toBe(false);
    expect(m({ app: 'web', tier: 'fe', legacy: '1' })).toBe(false);
    expect(m({ tier: 'fe' })).toBe(false);
  });

  it('null selects nothing, {} selects everything (upstream LabelSelectorAsSelector)', () => {
    expect(labelSelectorMatcher(undefined)({ a: 'b' })).toBe(false);
    expect(labelSelectorMatcher(null)({})).toBe(false);
    expect(labelSelectorMatcher({})({ a: 'b' })).toBe(true);
    expect(labelSelectorMatcher({})(undefined)).toBe(true);
  });

  it('reports every problem with a field path', () => {
    const causes = validateLabelSelector(
      {
        matchLabels: { 'bad key': 'x', ok: '-bad-' },
        matchExpressions: [
          { key: 'a', operator: 'In', values: [] },
          { key: 'b', operator: 'Exists', values: ['x'] },
          { key: 'c', operator: 'Equals', values: ['x'] },
        ],
      },
      'spec.selector',
    );
    const expected: Array<[string, string]> = [
      ['spec.selector.matchLabels', 'Invalid value: "bad key": name part must consist of'],
      ['spec.selector.matchLabels', 'Invalid value: "-bad-": a valid label must be an empty string'],
      [
        'spec.selector.matchExpressions[0].values',
        "Required value: must be specified when `operator` is 'In' or 'NotIn'",
      ],
      ['spec.selector.matchExpressions[1].values', 'Forbidden: may not be specified when `operator` is'],
      [
        'spec.selector.matchExpressions[2].operator',
        'Invalid value: "Equals": not a valid selector operator',
      ],
    ];
    expect(causes).toHaveLength(expected.length);
    expected.forEach(([f, msg], i) => {
      expect(causes[i]?.field).toBe(f);
      expect(causes[i]?.message.startsWith(msg)).toBe(true);
    });
  });
});

describe('field selectors', () => {
  it.each([
    ['metadata.name=web', [{ field: 'metadata.name', operator: '=', value: 'web' }]],
    ['metadata.name==web', [{ field: 'metadata.name', operator: '==', value: 'web' }]],
    [
      'status.phase!=Running,spec.nodeName=',
      [
        { field: 'spec.nodeName', operator: '=', value: '' },
        { field: 'status.phase', operator: '!=', value: 'Running' },
      ],
    ],
    ['a=x\\,y\\=z', [{ field: 'a', operator: '=', value: 'x,y=z' }]],
    ['', []],
  ])('parses %j', (text, expected) => {
    expect(parseFieldSelector(text)).toEqual(expected);
  });

  it('escapes in the string form', () => {
    expect(fieldSelectorToString(parseFieldSelector('a=x\\,y'))).toBe('a=x\\,y');
  });

  it.each([
    ['foo', "invalid selector: 'foo'; can't understand 'foo'"],
    ['a=b,c', "invalid selector: 'a=b,c'; can't understand 'c'"],
    ['a=b\\x', 'invalid field selector: invalid escape sequence: \\x'],
    ['a=b=c', 'invalid field selector: unescaped character in value: ='],
  ])('rejects %j', (text, message) => {
    expect(badRequest(() => parseFieldSelector(text))).toBe(message);
  });

  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'prod' },
    spec: { nodeName: 'n1', restartPolicy: 'Always' },
    status: { phase: 'Running', podIP: '10.0.0.5' },
  };

  it.each([
    ['spec.nodeName=n1', true],
    ['spec.nodeName=n2', false],
    ['spec.nodeName!=n2,status.phase=Running', true],
    ['metadata.name=web-1,metadata.namespace=prod', true],
    ['status.nominatedNodeName=', true],
    ['status.podIP==10.0.0.5', true],
  ])('pod %j → %s', (text, expected) => {
    const get = fieldGetterFor('Pod')(pod);
    expect(matchesFieldSelector(parseFieldSelector(text), get)).toBe(expected);
  });

  it('rejects unsupported fields with 400 `field label not supported`', () => {
    expect(badRequest(() => checkFieldSelector(parseFieldSelector('spec.foo=x'), 'Pod'))).toBe(
      'field label not supported: spec.foo',
    );
    expect(
      badRequest(() => matchesFieldSelector(parseFieldSelector('foo=x'), fieldGetterFor('Pod')(pod))),
    ).toBe('field label not supported: foo');
    // Cluster-scoped kinds have no metadata.namespace field.
    expect(badRequest(() => checkFieldSelector(parseFieldSelector('metadata.namespace=x'), 'Node'))).toBe(
      'field label not supported: metadata.namespace',
    );
  });

  it('knows the per-kind special fields', () => {
    const ev: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'e', namespace: 'd' },
      involvedObject: { kind: 'Pod', name: 'web-1', uid: 'u1' },
      reason: 'Started',
      type: 'Normal',
      source: { component: 'kubelet', host: 'n1' },
    };
    const get = fieldGetterFor('Event')(ev);
    expect(get('source')).toBe('kubelet');
    expect(get('involvedObject.name')).toBe('web-1');
    expect(get('involvedObject.fieldPath')).toBe('');
    expect(get('type')).toBe('Normal');

    const node: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, spec: {} };
    expect(fieldGetterFor('Node')(node)('spec.unschedulable')).toBe('false');
    expect(fieldGetterFor('Node')({ ...node, spec: { unschedulable: true } })('spec.unschedulable')).toBe(
      'true',
    );

    const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'Opaque' };
    expect(fieldGetterFor('Secret')(secret)('type')).toBe('Opaque');

    const ns: KubeObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'a' },
      status: { phase: 'Active' },
    };
    expect(fieldGetterFor('Namespace')(ns)('status.phase')).toBe('Active');
    expect(selectableFields('Namespace')).toEqual(['metadata.name', 'status.phase']);
  });

  it('objectMatcher combines label and field selectors', () => {
    const match = objectMatcher('Pod', { labelSelector: 'app=web', fieldSelector: 'status.phase=Running' });
    expect(match({ ...pod, metadata: { ...pod.metadata, labels: { app: 'web' } } })).toBe(true);
    expect(match(pod)).toBe(false);
    expect(badRequest(() => objectMatcher('Pod', { fieldSelector: 'spec.foo=1' }))).toBe(
      'field label not supported: spec.foo',
    );
  });
});
