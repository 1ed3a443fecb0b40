import { describe, expect, it } from 'vitest';
import { configMapHandler } from './configmap.js';
import { decodeBase64, encodeBase64, secretHandler } from './secret.js';
import { create, obj, update } from './testing.js';

describe('ConfigMap', () => {
  it('accepts valid keys', () => {
    expect(
      create(
        configMapHandler,
        obj('v1', 'ConfigMap', {
          data: { 'app.properties': 'a=1', KEY_2: 'x' },
          binaryData: { 'logo.png': 'iVBORw0KGgo=' },
        }),
      ),
    ).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    [
      'bad keys',
      { data: { 'a b': '1', '..x': '2' } },
      [
        "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        'data[..x]: Invalid value: "..x": must not start with \'..\'',
      ],
    ],
    [
      'a key in data and binaryData',
      { data: { k: 'v' }, binaryData: { k: 'dg==' } },
      ['data[k]: Invalid value: "k": duplicate of key present in binaryData'],
    ],
    [
      'more than 1 MiB',
      { data: { big: 'x'.repeat(1024 * 1024) } },
      ['data: Too long: may not be more than 1048576 bytes'],
    ],
  ])('rejects %s', (_n, fields, expected) => {
    expect(create(configMapHandler, obj('v1', 'ConfigMap', fields))).toEqual(expected);
  });

  it('immutable ConfigMaps keep their data and their immutability', () => {
    const cm = obj('v1', 'ConfigMap', { data: { a: '1' }, immutable: true });
    expect(update(configMapHandler, cm, (c) => (c['data'] = { a: '2' }))).toEqual([
      'data: Forbidden: field is immutable when `immutable` is set',
    ]);
    expect(update(configMapHandler, cm, (c) => delete c['immutable'])).toEqual([
      'immutable: Forbidden: field is immutable when `immutable` is set',
    ]);
    expect(update(configMapHandler, cm, (c) => (c.metadata.labels = { a: 'b' }))).toEqual([]);
    expect(
      update(configMapHandler, obj('v1', 'ConfigMap', { data: { a: '1' } }), (c) => (c['data'] = { a: '2' })),
    ).toEqual([]);
  });
});

describe('Secret', () => {
  it('defaults type Opaque and folds stringData into base64 data', () => {
    const s = obj('v1', 'Secret', { data: { a: 'YQ==', b: 'b2xk' }, stringData: { b: 'new', c: 'héllo' } });
    secretHandler.defaults(s);
    expect(s).toMatchObject({ type: 'Opaque', data: { a: 'YQ==', b: 'bmV3', c: 'aMOpbGxv' } });
    expect(s['stringData']).toBeUndefined();
    expect(decodeBase64(encodeBase64('héllo ✓'))).toBe('héllo ✓');
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    [
      'a TLS secret without its keys',
      { type: 'kubernetes.io/tls', data: { 'tls.crt': 'YQ==' } },
      ['data[tls.key]: Required value'],
    ],
    [
      'a docker config secret without its key',
      { type: 'kubernetes.io/dockerconfigjson' },
      ['data[.dockerconfigjson]: Required value'],
    ],
    [
      'basic-auth without user or password',
      { type: 'kubernetes.io/basic-auth', data: {} },
      ['data[username]: Required value', 'data[password]: Required value'],
    ],
    [
      'a service account token without its annotation',
      { type: 'kubernetes.io/service-account-token' },
      ['metadata.annotations[kubernetes.io/service-account.name]: Required value'],
    ],
    [
      'a bad key',
      { data: { 'a/b': 'YQ==' } },
      [expect.stringMatching(/^data\[a\/b\]: Invalid value: "a\/b": a valid config key/)],
    ],
  ])('rejects %s', (_n, fields, expected) => {
    expect(create(secretHandler, obj('v1', 'Secret', fields))).toEqual(expected);
  });

  it('keeps type and (when immutable) data fixed', () => {
    const s = obj('v1', 'Secret', { data: { a: 'YQ==' }, immutable: true });
    expect(update(secretHandler, s, (x) => (x['type'] = 'example.com/custom'))).toEqual([
      'type: Invalid value: "example.com/custom": field is immutable',
    ]);
    expect(update(secretHandler, s, (x) => (x['data'] = {}))).toEqual([
      'data: Forbidden: field is immutable when `immutable` is set',
    ]);
  });
});
