import { describe, expect, it } from 'vitest';
import { checkAgainstSchema, base64ErrorAt, strictDecodingError, validateEnums } from './check.js';
import { schemaFor } from './index.js';

const deploymentSchema = schemaFor('apps/v1', 'Deployment')!;
const podSchema = schemaFor('v1', 'Pod')!;

function deployment(spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec };
}

describe('checkAgainstSchema', () => {
  it('accepts a valid object unchanged', () => {
    const obj = deployment({
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'nginx',
              ports: [{ containerPort: 80 }],
              resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: 0.25 } },
              livenessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 5 },
            },
          ],
        },
      },
    });
    const r = checkAgainstSchema(obj, deploymentSchema, { unknownFields: 'Strict' });
    expect(r.causes).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.pruned).toEqual(obj);
  });

  it('names the field and expected type like kube-openapi', () => {
    const r = checkAgainstSchema(deployment({ replicas: 'three' }), deploymentSchema, {
      unknownFields: 'Strict',
    });
    expect(r.causes).toEqual([
      {
        reason: 'FieldValueTypeInvalid',
        field: 'spec.replicas',
        message: 'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
      },
    ]);
    expect(r.pruned).toEqual(deployment({}));
  });

  it('reports every problem, with full paths', () => {
    const obj = deployment({
      replicas: 1.5,
      paused: 'yes',
      foo: 1,
      selector: { matchLabels: { app: 7 } },
      strategy: { rollingUpdate: { maxSurge: true } },
      template: {
        spec: {
          containers: [
            {
              name: 'a',
              image: 'x',
              bogus: true,
              ports: [{ containerPort: '80' }],
              resources: { limits: { cpu: 'lots' } },
            },
          ],
          tolerations: {},
        },
      },
    });
    const r = checkAgainstSchema(obj, deploymentSchema, { unknownFields: 'Strict' });
    expect(r.causes.map((c) => [c.reason, c.field])).toEqual([
      ['FieldValueTypeInvalid', 'spec.replicas'],
      ['FieldValueTypeInvalid', 'spec.paused'],
      ['FieldValueNotFound', 'spec.foo'],
      ['FieldValueTypeInvalid', 'spec.selector.matchLabels[app]'],
      ['FieldValueTypeInvalid', 'spec.strategy.rollingUpdate.maxSurge'],
      ['FieldValueNotFound', 'spec.template.spec.containers[0].bogus'],
      ['FieldValueTypeInvalid', 'spec.template.spec.containers[0].ports[0].containerPort'],
      ['FieldValueInvalid', 'spec.template.spec.containers[0].resources.limits[cpu]'],
      ['FieldValueTypeInvalid', 'spec.template.spec.tolerations'],
    ]);
    expect(r.causes[2]?.message).toBe('unknown field "spec.foo"');
    expect(r.causes[7]?.message).toContain('quantities must match the regular expression');
  });

  it.each([
    ['Strict', 1, 0],
    ['Warn', 0, 1],
    ['Ignore', 0, 0],
  ] as const)(
    'unknown fields under %s: %d causes, %d warnings, always pruned',
    (policy, causes, warnings) => {
      const r = checkAgainstSchema(deployment({ foo: { bar: 1 }, replicas: 2 }), deploymentSchema, {
        unknownFields: policy,
      });
      expect(r.causes).toHaveLength(causes);
      expect(r.warnings).toEqual(warnings === 1 ? ['unknown field "spec.foo"'] : []);
      expect(r.pruned).toEqual(deployment({ replicas: 2 }));
    },
  );

  it('drops nulls (creationTimestamp: null from kubectl --dry-run output)', () => {
    const obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', creationTimestamp: null },
      spec: { containers: [] },
      status: {},
    };
    const r = checkAgainstSchema(obj, podSchema, { unknownFields: 'Strict' });
    expect(r.causes).toEqual([]);
    expect(r.pruned).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [] },
      status: {},
    });
  });

  it('keeps free-form fields (managedFields) as they are', () => {
    const mf = [{ manager: 'kubectl', fieldsV1: { 'f:spec': { 'f:replicas': {} } }, anything: [1, 'x'] }];
    const r = checkAgainstSchema(
      { ...deployment({}), metadata: { name: 'w', managedFields: mf } },
      deploymentSchema,
      {
        unknownFields: 'Strict',
      },
    );
    expect(r.causes).toEqual([]);
    expect((r.pruned['metadata'] as { managedFields: unknown }).managedFields).toEqual(mf);
  });

  it('checks int-or-string, date-time and base64 bytes', () => {
    const svc = schemaFor('v1', 'Service')!;
    const r1 = checkAgainstSchema({ spec: { ports: [{ port: 80, targetPort: 1.5 }] } }, svc, {
      unknownFields: 'Strict',
    });
    expect(r1.causes[0]?.message).toBe(
      'Invalid value: "number": spec.ports[0].targetPort in body must be of type integer or string: "number"',
    );
    const r2 = checkAgainstSchema({ metadata: { creationTimestamp: 'yesterday' } }, svc, {
      unknownFields: 'Strict',
    });
    expect(r2.causes[0]?.field).toBe('metadata.creationTimestamp');
    const secret = schemaFor('v1', 'Secret')!;
    const r3 = checkAgainstSchema({ data: { ok: 'aGVsbG8=', bad: 'not base64!' } }, secret, {
      unknownFields: 'Strict',
    });
    expect(r3.causes).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'data[bad]',
        message: 'Invalid value: "<bytes>": illegal base64 data at input byte 3',
      },
    ]);
  });

  it('rejects a non-object body', () => {
    expect(checkAgainstSchema([], podSchema, { unknownFields: 'Ignore' }).causes[0]?.message).toContain(
      'must be of type object',
    );
  });
});

describe('base64ErrorAt', () => {
  it.each([
    ['', -1],
    ['aGVsbG8=', -1],
    ['aGVsbA==', -1],
    ['aGVsbG8', 4],
    ['a$==', 1],
    ['aGVs=G8=', 4],
  ])('%j → %d', (s, at) => expect(base64ErrorAt(s)).toBe(at));
});

describe('validateEnums', () => {
  it('reports unsupported values with sorted supported values, treating "" as unset', () => {
    const pod = {
      spec: {
        restartPolicy: 'Sometimes',
        dnsPolicy: '',
        containers: [
          { name: 'a', imagePullPolicy: 'Maybe', ports: [{ containerPort: 80, protocol: 'tcp' }] },
        ],
      },
    };
    expect(validateEnums(pod, podSchema)).toEqual([
      {
        reason: 'FieldValueNotSupported',
        field: 'spec.containers[0].ports[0].protocol',
        message: 'Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"',
      },
      {
        reason: 'FieldValueNotSupported',
        field: 'spec.containers[0].imagePullPolicy',
        message: 'Unsupported value: "Maybe": supported values: "Always", "IfNotPresent", "Never"',
      },
      {
        reason: 'FieldValueNotSupported',
        field: 'spec.restartPolicy',
        message: 'Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"',
      },
    ]);
  });
});

describe('strictDecodingError', () => {
  it('is the 400 upstream returns', () => {
    const r = checkAgainstSchema(deployment({ foo: 1, bar: 2 }), deploymentSchema, {
      unknownFields: 'Strict',
    });
    const err = strictDecodingError(r.causes);
    expect(err.code).toBe(400);
    expect(err.message).toBe('strict decoding error: unknown field "spec.foo", unknown field "spec.bar"');
  });
});
