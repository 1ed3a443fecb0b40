import { describe, expect, it } from 'vitest';
import {
  nameIsDNSLabel,
  nameIsDNSSubdomain,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from './metadata.js';

const lines = (cs: Array<{ field: string; message: string }>) => cs.map((c) => `${c.field}: ${c.message}`);

describe('validateObjectMeta', () => {
  const ns = { namespaced: true, validateName: nameIsDNSSubdomain };

  it('accepts ordinary metadata', () => {
    expect(
      validateObjectMeta(
        {
          name: 'web-1',
          namespace: 'default',
          labels: { app: 'web', 'app.kubernetes.io/part-of': 'shop' },
          annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
          finalizers: ['kubernetes', 'example.com/cleanup'],
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'u1', controller: true },
          ],
        },
        ns,
      ),
    ).toEqual([]);
  });

  it('accepts a generateName prefix ending in a dash', () => {
    expect(validateObjectMeta({ generateName: 'web-', namespace: 'default' }, ns)).toEqual([]);
  });

  it('reports every problem', () => {
    expect(
      lines(
        validateObjectMeta(
          {
            name: 'Web',
            labels: { 'bad/key/x': 'v', ok: 'a b' },
            annotations: { big: 'x'.repeat(256 * 1024) },
            finalizers: ['cleanup'],
            ownerReferences: [
              { apiVersion: 'v1', kind: 'A', name: 'a', uid: '1', controller: true },
              { apiVersion: '', kind: 'B', name: 'b', uid: '2', controller: true },
            ],
          },
          ns,
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^metadata\.name: Invalid value: "Web": a lowercase RFC 1123 subdomain/),
      'metadata.namespace: Required value',
      expect.stringMatching(
        /^metadata\.labels: Invalid value: "bad\/key\/x": a qualified name must consist of/,
      ),
      expect.stringMatching(/^metadata\.labels: Invalid value: "a b": a valid label must be an empty string/),
      'metadata.annotations: Too long: may not be more than 262144 bytes',
      'metadata.ownerReferences[1].apiVersion: Invalid value: "": version must not be empty',
      'metadata.ownerReferences: Invalid value: [{"apiVersion":"v1","kind":"A","name":"a","uid":"1","controller":true},{"apiVersion":"","kind":"B","name":"b","uid":"2","controller":true}]: Only one reference can have Controller set to true. Found "true" in references for A/a and B/b',
      'metadata.finalizers[0]: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified',
    ]);
  });

  it('requires a name or generateName, and no namespace on cluster-scoped kinds', () => {
    expect(
      lines(validateObjectMeta({ namespace: 'x' }, { namespaced: false, validateName: nameIsDNSLabel })),
    ).toEqual([
      'metadata.name: Required value: name or generateName is required',
      'metadata.namespace: Forbidden: not allowed on this type',
    ]);
  });

  it('checks the namespace name', () => {
    expect(lines(validateObjectMeta({ name: 'a', namespace: 'Bad.NS' }, ns))[0]).toMatch(
      /^metadata\.namespace: Invalid value: "Bad\.NS"/,
    );
  });
});

describe('validateObjectMetaUpdate', () => {
  it('keeps identity fields fixed', () => {
    const old = {
      name: 'a',
      namespace: 'd',
      uid: 'u',
      creationTimestamp: '2024-01-01T00:00:00Z',
      generation: 3,
    };
    expect(lines(validateObjectMetaUpdate({ ...old, labels: { x: 'y' }, generation: 4 }, old))).toEqual([]);
    expect(
      lines(
        validateObjectMetaUpdate(
          { name: 'b', namespace: 'd', uid: 'v', creationTimestamp: old.creationTimestamp, generation: 2 },
          old,
        ),
      ),
    ).toEqual([
      'metadata.name: Invalid value: "b": field is immutable',
      'metadata.uid: Invalid value: "v": field is immutable',
      'metadata.generation: Invalid value: 2: must not be decremented',
    ]);
  });
});
