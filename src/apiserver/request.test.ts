import { describe, expect, it } from 'vitest';
import { isApiError } from '../api/errors.js';
import { parseObjectBody } from './request.js';

// k8s\0 + Unknown{typeMeta{apiVersion "v1", kind "ConfigMap"}, raw: ConfigMap{metadata{name "cm"}, data{a: "1"}}}
const configMap = Buffer.from(
  '6b387300' + '0a0f' + '0a027631' + '1209436f6e6669674d6170' + '120e' + '0a040a02636d' + '12060a0161120131',
  'hex',
);

function code(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    if (isApiError(err)) return err.code;
    throw err;
  }
  return 0;
}

describe('parseObjectBody', () => {
  it('decodes Kubernetes protobuf into the JSON object', () => {
    expect(parseObjectBody(configMap, 'application/vnd.kubernetes.protobuf')).toEqual({
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name: 'cm', creationTimestamp: null },
      data: { a: '1' },
    });
  });

  it('answers 400 for malformed protobuf and 415 for unknown media types', () => {
    expect(code(() => parseObjectBody(Buffer.from('k8s'), 'application/vnd.kubernetes.protobuf'))).toBe(400);
    expect(
      code(() => parseObjectBody(Buffer.from('k8s\0\x0a\x09'), 'application/vnd.kubernetes.protobuf')),
    ).toBe(400);
    expect(code(() => parseObjectBody(Buffer.from('{}'), 'application/cbor'))).toBe(415);
  });

  it('still parses JSON and YAML', () => {
    expect(parseObjectBody(Buffer.from('{"a":1}'), 'application/json')).toEqual({ a: 1 });
    expect(parseObjectBody(Buffer.from('a: 1'), 'application/yaml')).toEqual({ a: 1 });
  });
});
