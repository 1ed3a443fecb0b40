import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isApiError } from '../errors.js';
import { base64, decodeKubernetesProtobuf, protobufMagic, type JsonObject } from './decode.js';

// ---- a tiny test-only encoder --------------------------------------------------------------------

type Bytes = Uint8Array;

function varintBytes(v: number | bigint): number[] {
  let n = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n !== 0n) b |= 0x80;
    out.push(b);
  } while (n !== 0n);
  return out;
}

function cat(...parts: (Bytes | number[])[]): Bytes {
  const flat = parts.flatMap((p) => [...p]);
  return Uint8Array.from(flat);
}

const tag = (no: number, wire: number): number[] => varintBytes((BigInt(no) << 3n) | BigInt(wire));
const utf8 = new TextEncoder();

const pb = {
  varint: (no: number, v: number | bigint | boolean): Bytes =>
    cat(tag(no, 0), varintBytes(typeof v === 'boolean' ? (v ? 1 : 0) : v)),
  bytes: (no: number, data: Bytes | number[]): Bytes => cat(tag(no, 2), varintBytes(data.length), data),
  string: (no: number, s: string): Bytes => pb.bytes(no, utf8.encode(s)),
  message: (no: number, ...parts: Bytes[]): Bytes => pb.bytes(no, cat(...parts)),
  fixed32: (no: number): Bytes => cat(tag(no, 5), [1, 2, 3, 4]),
  fixed64: (no: number): Bytes => cat(tag(no, 1), [1, 2, 3, 4, 5, 6, 7, 8]),
  /** A map<string, V> entry: key = 1, value = 2. */
  entry: (no: number, key: string, value: Bytes): Bytes => pb.message(no, pb.string(1, key), value),
  intOrString: (no: number, v: number | string): Bytes =>
    typeof v === 'number'
      ? pb.message(no, pb.varint(1, 0), pb.varint(2, v), pb.string(3, ''))
      : pb.message(no, pb.varint(1, 1), pb.varint(2, 0), pb.string(3, v)),
  quantity: (no: number, s: string): Bytes => pb.message(no, pb.string(1, s)),
  time: (no: number, seconds: number | bigint, nanos = 0): Bytes =>
    pb.message(no, pb.varint(1, seconds), pb.varint(2, nanos)),
};

function envelope(apiVersion: string, kind: string, ...raw: Bytes[]): Bytes {
  return cat(
    protobufMagic,
    pb.message(1, pb.string(1, apiVersion), pb.string(2, kind)),
    pb.bytes(2, cat(...raw)),
    pb.string(3, ''),
    pb.string(4, ''),
  );
}

const decode = (body: Bytes): JsonObject => decodeKubernetesProtobuf(body).object;

function apiError(fn: () => unknown): { code: number; reason: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isApiError(err)) return { code: err.code, reason: err.reason, message: err.message };
    throw err;
  }
  throw new Error('expected an ApiError');
}

// ---- real kubectl bodies -------------------------------------------------------------------------

interface Capture {
  name: string;
  command: string;
  protobuf: string;
  json: unknown;
}
const { captures } = JSON.parse(
  readFileSync(new URL('./testdata/kubectl-captures.json', import.meta.url), 'utf8'),
) as { captures: Capture[] };

describe('bodies captured from kubectl 1.35', () => {
  it.each(captures.map((c) => [c.command, c] as const))(
    '%s decodes to what kubectl 1.31 sent as JSON',
    (_cmd, c) => {
      const got = decode(Uint8Array.from(Buffer.from(c.protobuf, 'base64')));
      expect(got).toEqual(c.json);
      // Same keys in the same order as encoding/json wrote them.
      expect(JSON.stringify(got)).toBe(JSON.stringify(c.json));
    },
  );

  it('names the kind and apiVersion of the envelope', () => {
    const c = captures.find((x) => x.name === 'deployment');
    const d = decodeKubernetesProtobuf(Uint8Array.from(Buffer.from(c?.protobuf ?? '', 'base64')));
    expect([d.apiVersion, d.kind]).toEqual(['apps/v1', 'Deployment']);
  });
});

// ---- hand-built messages -------------------------------------------------------------------------

describe('messages', () => {
  it('decodes a ConfigMap: maps sorted, binary data in base64, a present false kept', () => {
    const got = decode(
      envelope(
        'v1',
        'ConfigMap',
        pb.message(1, pb.string(1, 'cm'), pb.string(3, 'default')),
        pb.entry(2, 'b', pb.string(2, '2')),
        pb.entry(2, 'a', pb.string(2, '1')),
        pb.entry(3, 'bin', pb.bytes(2, [0xff, 0x00, 0x10])),
        pb.varint(4, false),
      ),
    );
    expect(JSON.stringify(got)).toBe(
      JSON.stringify({
        kind: 'ConfigMap',
        apiVersion: 'v1',
        metadata: { name: 'cm', namespace: 'default', creationTimestamp: null },
        immutable: false,
        data: { a: '1', b: '2' },
        binaryData: { bin: '/wAQ' },
      }),
    );
  });

  it('writes plain structs even when absent, as encoding/json does', () => {
    expect(decode(envelope('v1', 'Namespace'))).toEqual({
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: { creationTimestamp: null },
      spec: {},
      status: {},
    });
    const dep = decode(envelope('apps/v1', 'Deployment'));
    expect(dep.spec).toEqual({
      selector: null,
      template: { metadata: { creationTimestamp: null }, spec: { containers: null } },
      strategy: {},
    });
  });

  it('keeps a present zero of an optional field and drops zero values of plain ones', () => {
    const withZero = decode(
      envelope(
        'apps/v1',
        'Deployment',
        pb.message(1, pb.string(1, 'd'), pb.varint(7, 0)),
        pb.message(2, pb.varint(1, 0), pb.varint(5, 0), pb.varint(7, false)),
      ),
    );
    expect(withZero.spec).toMatchObject({ replicas: 0 });
    expect(withZero.spec).not.toHaveProperty('minReadySeconds');
    expect(withZero.spec).not.toHaveProperty('paused');
    expect(withZero.metadata).toEqual({ name: 'd', creationTimestamp: null });
    const without = decode(envelope('apps/v1', 'Deployment', pb.message(2)));
    expect(without.spec).not.toHaveProperty('replicas');
  });

  it('decodes IntOrString both ways, in pointers and in plain fields', () => {
    const dep = decode(
      envelope(
        'apps/v1',
        'Deployment',
        pb.message(
          2,
          pb.message(
            4,
            pb.string(1, 'RollingUpdate'),
            pb.message(2, pb.intOrString(1, 0), pb.intOrString(2, '25%')),
          ),
        ),
      ),
    );
    expect((dep.spec as JsonObject).strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' },
    });
    const svc = decode(
      envelope(
        'v1',
        'Service',
        pb.message(
          2,
          pb.message(1, pb.string(2, 'TCP'), pb.varint(3, 80), pb.intOrString(4, 'http')),
          pb.message(1, pb.varint(3, 0)),
        ),
      ),
    );
    expect((svc.spec as JsonObject).ports).toEqual([
      { protocol: 'TCP', port: 80, targetPort: 'http' },
      // port has no omitempty; an absent targetPort is IntOrString's zero value.
      { port: 0, targetPort: 0 },
    ]);
  });

  it('decodes a Pod with containers, probes, env sources, resources and security contexts', () => {
    const container = pb.message(
      2,
      pb.string(1, 'app'),
      pb.string(2, 'busybox:1.36'),
      pb.string(3, 'sh'),
      pb.string(3, '-c'),
      pb.message(6, pb.string(1, 'http'), pb.varint(3, 8080), pb.string(4, 'TCP')),
      pb.message(6, pb.varint(2, -1)),
      pb.message(
        7,
        pb.string(1, 'FROM_CM'),
        pb.message(
          3,
          pb.message(3, pb.message(1, pb.string(1, 'cfg')), pb.string(2, 'k'), pb.varint(3, true)),
        ),
      ),
      pb.message(7, pb.string(1, 'PLAIN'), pb.string(2, 'v')),
      pb.message(
        8,
        pb.entry(1, 'memory', pb.quantity(2, '128Mi')),
        pb.entry(1, 'cpu', pb.quantity(2, '500m')),
        pb.entry(2, 'cpu', pb.message(2)),
      ),
      pb.message(9, pb.string(1, 'data'), pb.string(3, '/data')),
      pb.message(
        10,
        pb.message(1, pb.message(2, pb.string(1, '/healthz'), pb.intOrString(2, 'http'))),
        pb.varint(4, 5),
      ),
      pb.message(11, pb.message(1, pb.message(1, pb.string(1, 'true')))),
      pb.message(15, pb.varint(5, true), pb.message(1, pb.string(2, 'ALL'))),
      pb.varint(18, true),
    );
    const pod = decode(
      envelope(
        'v1',
        'Pod',
        pb.message(1, pb.string(1, 'p'), pb.entry(11, 'app', pb.string(2, 'web'))),
        pb.message(
          2,
          pb.message(1, pb.string(1, 'data'), pb.message(2, pb.message(2, pb.string(1, 'Memory')))),
          container,
          pb.string(3, 'Always'),
          pb.varint(4, 0),
          pb.message(
            14,
            pb.varint(4, 1000),
            pb.bytes(4, [0xd0, 0x0f, 0xb8, 0x17]), // packed 2000, 3000
            pb.varint(5, 2000),
          ),
          pb.message(
            22,
            pb.string(1, 'dedicated'),
            pb.string(2, 'Equal'),
            pb.string(3, 'x'),
            pb.string(4, 'NoSchedule'),
          ),
          pb.message(34, pb.message(1, pb.string(1, 'debug'), pb.string(2, 'busybox')), pb.string(2, 'app')),
        ),
      ),
    );
    expect(pod).toEqual({
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name: 'p', creationTimestamp: null, labels: { app: 'web' } },
      spec: {
        volumes: [{ name: 'data', emptyDir: { medium: 'Memory' } }],
        containers: [
          {
            name: 'app',
            image: 'busybox:1.36',
            command: ['sh', '-c'],
            ports: [
              { name: 'http', containerPort: 8080, protocol: 'TCP' },
              { hostPort: -1, containerPort: 0 },
            ],
            env: [
              { name: 'FROM_CM', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k', optional: true } } },
              { name: 'PLAIN', value: 'v' },
            ],
            resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '0' } },
            volumeMounts: [{ name: 'data', mountPath: '/data' }],
            livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
            readinessProbe: { exec: { command: ['true'] } },
            securityContext: { capabilities: { drop: ['ALL'] }, runAsNonRoot: true },
            tty: true,
          },
        ],
        ephemeralContainers: [{ name: 'debug', image: 'busybox', resources: {}, targetContainerName: 'app' }],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 0,
        securityContext: { supplementalGroups: [1000, 2000, 3000], fsGroup: 2000 },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'x', effect: 'NoSchedule' }],
      },
      status: {},
    });
  });

  it('decodes times, managed fields and large or negative integers', () => {
    const cm = decode(
      envelope(
        'v1',
        'ConfigMap',
        pb.message(
          1,
          pb.varint(7, 2n ** 40n),
          pb.time(8, 1700000000, 999_999_999),
          pb.message(9),
          pb.varint(10, -5),
          pb.message(
            17,
            pb.string(1, 'kubectl'),
            pb.string(2, 'Update'),
            pb.time(4, -1),
            pb.string(6, 'FieldsV1'),
            pb.message(7, pb.string(1, '{"f:data":{".":{}}}')),
          ),
        ),
      ),
    );
    expect(cm.metadata).toEqual({
      generation: 2 ** 40,
      // metav1.Time keeps whole seconds.
      creationTimestamp: '2023-11-14T22:13:20Z',
      deletionTimestamp: null,
      deletionGracePeriodSeconds: -5,
      managedFields: [
        {
          manager: 'kubectl',
          operation: 'Update',
          time: '1969-12-31T23:59:59Z',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:data': { '.': {} } },
        },
      ],
    });
  });

  it('skips fields it has no table entry for, at every level', () => {
    const got = decode(
      cat(
        protobufMagic,
        pb.varint(9, 1),
        pb.message(1, pb.string(1, 'v1'), pb.string(2, 'ConfigMap'), pb.fixed32(7)),
        pb.bytes(
          2,
          cat(
            pb.message(1, pb.string(1, 'cm'), pb.varint(99, 5), pb.fixed64(15)),
            pb.bytes(100, [0xff, 0xff, 0xff]), // not even valid protobuf inside
            pb.fixed32(101),
            pb.fixed64(102),
          ),
        ),
      ),
    );
    expect(got).toEqual({
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name: 'cm', creationTimestamp: null },
    });
  });

  it('merges repeated occurrences of a message, last scalar and last map key winning', () => {
    const got = decode(
      envelope(
        'v1',
        'ConfigMap',
        pb.message(1, pb.string(1, 'first'), pb.entry(11, 'a', pb.string(2, '1'))),
        pb.message(1, pb.string(1, 'second'), pb.entry(11, 'b', pb.string(2, '2'))),
        pb.entry(2, 'k', pb.string(2, 'old')),
        pb.entry(2, 'k', pb.string(2, 'new')),
      ),
    );
    expect(got.metadata).toEqual({ name: 'second', creationTimestamp: null, labels: { a: '1', b: '2' } });
    expect(got.data).toEqual({ k: 'new' });
  });

  it('decodes a packed list of half a million elements (no argument-spread limits)', () => {
    const groups = new Uint8Array(500_000).fill(0x01);
    const pod = decode(envelope('v1', 'Pod', pb.message(2, pb.message(14, pb.bytes(4, groups)))));
    const sc = (pod.spec as JsonObject).securityContext as { supplementalGroups: number[] };
    expect(sc.supplementalGroups).toHaveLength(500_000);
  });

  it('keeps a "__proto__" map key as an ordinary key, as JSON.parse does', () => {
    const got = decode(envelope('v1', 'ConfigMap', pb.entry(2, '__proto__', pb.string(2, 'x'))));
    expect(Object.keys(got.data as object)).toEqual(['__proto__']);
    expect(JSON.stringify(got.data)).toBe('{"__proto__":"x"}');
  });

  it('decodes Secret data as base64 and replaces invalid UTF-8 in strings', () => {
    const got = decode(
      envelope(
        'v1',
        'Secret',
        pb.message(1, pb.bytes(1, [0x61, 0xff, 0x62])),
        pb.entry(2, 'bin', pb.bytes(2, [0, 1, 2, 253, 254, 255])),
        pb.entry(2, 'empty', pb.bytes(2, [])),
        pb.entry(4, 'plain', pb.string(2, 'text')),
        pb.string(3, 'Opaque'),
      ),
    );
    expect(got).toEqual({
      kind: 'Secret',
      apiVersion: 'v1',
      metadata: { name: 'a\ufffdb', creationTimestamp: null },
      data: { bin: 'AAEC/f7/', empty: '' },
      stringData: { plain: 'text' },
      type: 'Opaque',
    });
  });

  it('decodes an autoscaling/v2 HPA with its null currentMetrics', () => {
    const got = decode(
      envelope(
        'autoscaling/v2',
        'HorizontalPodAutoscaler',
        pb.message(1, pb.string(1, 'web')),
        pb.message(
          2,
          pb.message(1, pb.string(1, 'Deployment'), pb.string(2, 'web'), pb.string(3, 'apps/v1')),
          pb.varint(3, 5),
          pb.message(
            4,
            pb.string(1, 'Resource'),
            pb.message(
              4,
              pb.string(1, 'memory'),
              pb.message(2, pb.string(1, 'AverageValue'), pb.quantity(3, '1Gi')),
            ),
          ),
        ),
        pb.message(3, pb.varint(4, 0)),
      ),
    );
    expect(got.spec).toEqual({
      scaleTargetRef: { kind: 'Deployment', name: 'web', apiVersion: 'apps/v1' },
      maxReplicas: 5,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '1Gi' } },
        },
      ],
    });
    expect(got.status).toEqual({ desiredReplicas: 0, currentMetrics: null });
  });

  it('decodes a PriorityClass (kubectl create priorityclass), a negative value and a zero one kept', () => {
    const got = decode(
      envelope(
        'scheduling.k8s.io/v1',
        'PriorityClass',
        pb.message(1, pb.string(1, 'batch')),
        pb.varint(2, -10),
        pb.varint(3, true),
        pb.string(4, 'batch jobs'),
        pb.string(5, 'Never'),
      ),
    );
    expect(got).toEqual({
      kind: 'PriorityClass',
      apiVersion: 'scheduling.k8s.io/v1',
      metadata: { name: 'batch', creationTimestamp: null },
      value: -10,
      globalDefault: true,
      description: 'batch jobs',
      preemptionPolicy: 'Never',
    });
    const zero = decode(envelope('scheduling.k8s.io/v1', 'PriorityClass', pb.message(1, pb.string(1, 'z'))));
    expect(zero['value']).toBe(0);
    expect(zero['globalDefault']).toBeUndefined();
  });

  it('decodes a Binding and an Eviction with its deleteOptions (typed clients of the subresources)', () => {
    const binding = decode(
      envelope(
        'v1',
        'Binding',
        pb.message(1, pb.string(1, 'web-1'), pb.string(3, 'default')),
        pb.message(2, pb.string(1, 'Node'), pb.string(3, 'node-a')),
      ),
    );
    expect(binding['target']).toEqual({ kind: 'Node', name: 'node-a' });
    for (const apiVersion of ['policy/v1', 'policy/v1beta1']) {
      const eviction = decode(
        envelope(
          apiVersion,
          'Eviction',
          pb.message(1, pb.string(1, 'web-1')),
          pb.message(2, pb.varint(1, 0), pb.message(2, pb.string(1, 'uid-1')), pb.string(5, 'All')),
        ),
      );
      expect(eviction['deleteOptions']).toEqual({
        gracePeriodSeconds: 0,
        preconditions: { uid: 'uid-1' },
        dryRun: ['All'],
      });
    }
  });

  it('encodes base64 like encoding/json', () => {
    const enc = (s: string): string => base64(utf8.encode(s));
    expect(['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar'].map(enc)).toEqual([
      '',
      'Zg==',
      'Zm8=',
      'Zm9v',
      'Zm9vYg==',
      'Zm9vYmE=',
      'Zm9vYmFy',
    ]);
  });
});

// ---- errors --------------------------------------------------------------------------------------

describe('malformed bodies are 400 BadRequest naming the problem', () => {
  it.each<[string, Bytes, string]>([
    ['an empty body', new Uint8Array(0), 'does not start with the 4-byte magic'],
    ['a JSON body', utf8.encode('{"kind":"ConfigMap"}'), 'does not start with the 4-byte magic'],
    ['a short magic', utf8.encode('k8s'), 'does not start with the 4-byte magic'],
    [
      'a truncated envelope',
      cat(protobufMagic, [0x0a, 0x05, 0x0a]),
      'runs past the end of its message (1 left) at byte 5',
    ],
    [
      'a truncated varint in the object',
      envelope('v1', 'ConfigMap', Uint8Array.from([0x20, 0x80])),
      'truncated varint',
    ],
    [
      'a length past the end in the object',
      envelope('v1', 'ConfigMap', Uint8Array.from([0x0a, 0x10, 0x01])),
      'length-delimited field of 16 bytes runs past the end of its message (1 left)',
    ],
    [
      'a string sent as a varint',
      envelope('v1', 'ConfigMap', pb.message(1, pb.varint(1, 5))),
      'ConfigMap.metadata.name: field 1 has wire type 0 (varint), expected 2 (length-delimited)',
    ],
    [
      'a number sent as bytes',
      envelope('apps/v1', 'Deployment', pb.message(2, pb.string(1, '3'))),
      'Deployment.spec.replicas: field 1 has wire type 2 (length-delimited), expected 0 (varint)',
    ],
    [
      'a message sent as fixed32',
      envelope('apps/v1', 'Deployment', pb.message(2, pb.fixed32(3))),
      'Deployment.spec.template: field 3 has wire type 5 (fixed32), expected 2 (length-delimited)',
    ],
    [
      'a map value with the wrong wire type',
      envelope('v1', 'ConfigMap', pb.message(2, pb.string(1, 'k'), pb.varint(2, 1))),
      'ConfigMap.data["k"]: field 2 has wire type 0 (varint)',
    ],
    [
      'a list element with the wrong wire type',
      envelope('v1', 'Pod', pb.message(2, pb.varint(2, 1))),
      'Pod.spec.containers[0]: field 2 has wire type 0 (varint)',
    ],
    [
      'a typeMeta sent as a varint',
      cat(protobufMagic, pb.varint(1, 1)),
      'envelope.typeMeta: field 1 has wire type 0 (varint)',
    ],
    [
      'a group',
      envelope('v1', 'ConfigMap', Uint8Array.from([0x0b, 0x0c])),
      'wire type 3 (start-group), which is not supported',
    ],
    ['wire type 7', envelope('v1', 'ConfigMap', Uint8Array.from([0x0f])), 'invalid wire type 7'],
    [
      'an IntOrString of an unknown type',
      envelope('v1', 'Service', pb.message(2, pb.message(1, pb.message(4, pb.varint(1, 2))))),
      'Service.spec.ports[0].targetPort: IntOrString has type 2',
    ],
    [
      'a timestamp beyond year 9999',
      envelope('v1', 'ConfigMap', pb.message(1, pb.time(8, 10n ** 12n))),
      'ConfigMap.metadata.creationTimestamp: timestamp of 1000000000000 seconds is outside the years 0000-9999',
    ],
    [
      'managed fields that are not JSON',
      envelope('v1', 'ConfigMap', pb.message(1, pb.message(17, pb.message(7, pb.string(1, '{nope'))))),
      'ConfigMap.metadata.managedFields[0].fieldsV1: the raw field is not valid JSON',
    ],
  ])('%s', (_what, body, message) => {
    const err = apiError(() => decodeKubernetesProtobuf(body));
    expect(err).toMatchObject({ code: 400, reason: 'BadRequest' });
    expect(err.message).toContain(message);
  });

  it('says where in the body the problem is', () => {
    const body = envelope('v1', 'ConfigMap', pb.message(1, pb.varint(1, 5)));
    const at = body.length - 2 - 2 - 2; // the varint tag: before it 2 bytes + the trailing fields 3 and 4
    expect(apiError(() => decodeKubernetesProtobuf(body)).message).toMatch(
      new RegExp(`^the protobuf request body is malformed: .* at byte ${at}$`),
    );
  });
});

describe('envelopes of kinds without a table are 415 with a hint to send JSON', () => {
  it.each<[string, Bytes, string]>([
    [
      'an apps/v1 StatefulSet',
      envelope('apps/v1', 'StatefulSet'),
      'this request carries StatefulSet (apps/v1)',
    ],
    ['a Deployment of another version', envelope('apps/v1beta1', 'Deployment'), 'Deployment (apps/v1beta1)'],
    ['a batch/v1 Job', envelope('batch/v1', 'Job'), 'Job (batch/v1)'],
    ['an envelope with no kind', cat(protobufMagic), 'an envelope that names no kind'],
  ])('%s', (_what, body, message) => {
    const err = apiError(() => decodeKubernetesProtobuf(body));
    expect(err).toMatchObject({ code: 415, reason: 'UnsupportedMediaType' });
    expect(err.message).toContain(message);
    expect(err.message).toContain('kubectl create -f');
    expect(err.message).toContain('kubectl 1.31 or older');
  });

  it('rejects encoded or non-protobuf payloads in the envelope', () => {
    const gz = cat(
      protobufMagic,
      pb.message(1, pb.string(1, 'v1'), pb.string(2, 'ConfigMap')),
      pb.string(3, 'gzip'),
    );
    expect(apiError(() => decodeKubernetesProtobuf(gz))).toMatchObject({ code: 415 });
    const json = cat(
      protobufMagic,
      pb.message(1, pb.string(1, 'v1'), pb.string(2, 'ConfigMap')),
      pb.string(4, 'application/json'),
    );
    expect(apiError(() => decodeKubernetesProtobuf(json)).message).toContain('"application/json"');
  });
});

// ---- fuzz ----------------------------------------------------------------------------------------

/** Decoding either succeeds with a JSON-serialisable object or throws an ApiError with one of `codes`. */
function decodesOrRejects(body: Bytes, codes: number[]): void {
  try {
    const d = decodeKubernetesProtobuf(body);
    expect(() => JSON.stringify(d.object)).not.toThrow();
  } catch (err) {
    if (!isApiError(err)) throw err;
    expect(codes).toContain(err.code);
  }
}

/** Well-formed protobuf of random shape: random field numbers, wire types and nesting. */
const randomMessage: fc.Arbitrary<Bytes> = fc.letrec<{ msg: Bytes; field: Bytes }>((tie) => ({
  field: fc.oneof(
    { depthSize: 'small' },
    fc
      .tuple(fc.integer({ min: 1, max: 40 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }))
      .map(([no, v]) => pb.varint(no, v)),
    fc
      .tuple(fc.integer({ min: 1, max: 40 }), fc.uint8Array({ maxLength: 12 }))
      .map(([no, b]) => pb.bytes(no, b)),
    fc.tuple(fc.integer({ min: 1, max: 40 }), fc.string({ maxLength: 8 })).map(([no, s]) => pb.string(no, s)),
    fc.integer({ min: 1, max: 40 }).map((no) => pb.fixed32(no)),
    fc.integer({ min: 1, max: 40 }).map((no) => pb.fixed64(no)),
    fc.tuple(fc.integer({ min: 1, max: 40 }), tie('msg')).map(([no, m]) => pb.bytes(no, m)),
  ),
  msg: fc.array(tie('field'), { maxLength: 6 }).map((fields) => cat(...fields)),
})).msg;

const supported: [string, string][] = [
  ['v1', 'Namespace'],
  ['v1', 'ConfigMap'],
  ['v1', 'Secret'],
  ['v1', 'Service'],
  ['v1', 'Pod'],
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'ReplicaSet'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  ['autoscaling/v1', 'Scale'],
];

describe('fuzz', () => {
  it('random bytes after the magic give an object, a 400 or a 415, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (tail) =>
        decodesOrRejects(cat(protobufMagic, tail), [400, 415]),
      ),
      { numRuns: 3000 },
    );
  });

  it('random bytes as the object of a supported kind give an object or a 400', () => {
    fc.assert(
      fc.property(fc.constantFrom(...supported), fc.uint8Array({ maxLength: 300 }), ([v, k], raw) =>
        decodesOrRejects(envelope(v, k, raw), [400]),
      ),
      { numRuns: 3000 },
    );
  });

  it('well-formed protobuf of random shape as a supported kind gives an object or a 400', () => {
    fc.assert(
      fc.property(fc.constantFrom(...supported), randomMessage, ([v, k], raw) =>
        decodesOrRejects(envelope(v, k, raw), [400]),
      ),
      { numRuns: 3000 },
    );
  });

  it('mutated kubectl bodies give an object, a 400 or a 415', () => {
    const bodies = captures.map((c) => Uint8Array.from(Buffer.from(c.protobuf, 'base64')));
    const mutation = fc.tuple(
      fc.integer({ min: 0, max: bodies.length - 1 }),
      fc.array(
        fc.tuple(
          fc.constantFrom('flip', 'cut', 'insert', 'delete'),
          fc.nat(),
          fc.integer({ min: 0, max: 255 }),
        ),
        { minLength: 1, maxLength: 4 },
      ),
    );
    fc.assert(
      fc.property(mutation, ([which, edits]) => {
        const b = [...(bodies[which] ?? [])];
        for (const [op, at, value] of edits) {
          const i = 4 + (at % Math.max(1, b.length - 4));
          if (op === 'flip') b[i] = value;
          else if (op === 'cut') b.length = Math.min(b.length, i);
          else if (op === 'insert') b.splice(i, 0, value);
          else b.splice(i, 1);
        }
        decodesOrRejects(Uint8Array.from(b), [400, 415]);
      }),
      { numRuns: 3000 },
    );
  });
});
