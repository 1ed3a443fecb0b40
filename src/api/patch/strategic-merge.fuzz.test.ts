// Stability of strategic merge patch under random Deployment-like and Service-like objects: the patch
// kubectl would compute (a two-way strategic merge patch with $setElementOrder, $retainKeys,
// $deleteFromPrimitiveList and $patch: delete, from the schema's merge keys) applied to the original
// gives exactly the modified object; applying it again changes nothing; and diffing the result against
// the modified object gives an empty patch (what kubectl shows as "unchanged").
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kindSchemas, type ObjectSchema } from '../schema/index.js';
import type { JsonObject } from './json.js';
import { applyStrategicMergePatch } from './strategic-merge.js';
import { createStrategicMergePatch } from './strategic-merge-diff.js';

function schema(key: string): ObjectSchema {
  const s = kindSchemas[key];
  if (s === undefined) throw new Error(`no schema ${key}`);
  return s;
}
const deploymentSchema = schema('apps/v1/Deployment');
const serviceSchema = schema('v1/Service');

const pick = <T>(...values: T[]) => fc.constantFrom(...values);
const labels = fc.dictionary(pick('app', 'tier', 'team', 'env'), pick('web', 'db', 'a', 'b'), { maxKeys: 3 });

/** Free-form JSON without nulls (a null in a patch means "delete", so it cannot be a stored value). */
const freeForm = fc.dictionary(
  pick('p', 'q', 'r'),
  fc.oneof(
    fc.string({ maxLength: 3 }),
    fc.integer({ min: 0, max: 3 }),
    fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
    fc.dictionary(pick('s', 't'), fc.boolean(), { maxKeys: 2 }),
  ),
  { maxKeys: 3 },
);

const envVar = fc.oneof(
  fc.record({ name: pick('A', 'B', 'C', 'D', 'E'), value: pick('1', '2', 'x') }),
  fc.record({
    name: pick('A', 'B', 'C', 'D', 'E'),
    valueFrom: fc.oneof(
      fc.record({ configMapKeyRef: fc.record({ name: pick('cm1', 'cm2'), key: pick('k1', 'k2') }) }),
      fc.record({ fieldRef: fc.record({ fieldPath: pick('metadata.name', 'status.podIP') }) }),
    ),
  }),
);

const containerPort = fc.record(
  {
    containerPort: pick(80, 443, 8080, 9090),
    name: pick('http', 'https', 'metrics'),
    protocol: pick('TCP', 'UDP'),
  },
  { requiredKeys: ['containerPort'] },
);

const volumeMount = fc.record(
  { name: pick('data', 'cfg', 'tmp'), mountPath: pick('/a', '/b', '/c', '/d'), readOnly: fc.boolean() },
  { requiredKeys: ['name', 'mountPath'] },
);

const resourceList = fc.dictionary(pick('cpu', 'memory'), pick('100m', '1', '64Mi', '1Gi'), { maxKeys: 2 });

const probe = fc.oneof(
  fc.record({
    httpGet: fc.record({ path: pick('/healthz', '/ready'), port: pick<number | string>(8080, 'http') }),
  }),
  fc.record({
    tcpSocket: fc.record({ port: pick<number | string>(80, 'http') }),
    periodSeconds: fc.integer({ min: 1, max: 30 }),
  }),
  fc.record({
    exec: fc.record({ command: fc.array(pick('sh', '-c', 'true'), { minLength: 1, maxLength: 3 }) }),
  }),
);

const container = fc.record(
  {
    name: pick('web', 'side', 'log', 'proxy'),
    image: pick('nginx:1', 'nginx:2', 'busybox:1'),
    args: fc.array(pick('-a', '-b', '-c'), { maxLength: 3 }),
    env: fc.uniqueArray(envVar, { selector: (e) => e.name, maxLength: 4 }),
    envFrom: fc.array(fc.record({ configMapRef: fc.record({ name: pick('cm1', 'cm2') }) }), { maxLength: 2 }),
    ports: fc.uniqueArray(containerPort, { selector: (p) => p.containerPort, maxLength: 3 }),
    volumeMounts: fc.uniqueArray(volumeMount, { selector: (m) => m.mountPath, maxLength: 3 }),
    resources: fc.record({ requests: resourceList, limits: resourceList }, { requiredKeys: [] }),
    readinessProbe: probe,
    securityContext: fc.record(
      {
        runAsNonRoot: fc.boolean(),
        capabilities: fc.record({ drop: fc.array(pick('ALL', 'NET_RAW'), { maxLength: 2 }) }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['name'] },
);

const volume = fc
  .tuple(
    pick('data', 'cfg', 'tmp', 'secret'),
    fc.oneof(
      fc.constant({ emptyDir: {} }),
      fc.record({ emptyDir: fc.record({ medium: pick('Memory', '') }) }),
      fc.record({
        configMap: fc.record(
          { name: pick('cm1', 'cm2'), defaultMode: pick(420, 256) },
          { requiredKeys: ['name'] },
        ),
      }),
      fc.record({ secret: fc.record({ secretName: pick('s1', 's2') }) }),
    ),
  )
  .map(([name, source]) => ({ name, ...source }));

const podSpec = fc.record(
  {
    containers: fc.uniqueArray(container, { selector: (c) => c.name, minLength: 1, maxLength: 3 }),
    initContainers: fc.uniqueArray(container, { selector: (c) => c.name, maxLength: 2 }),
    volumes: fc.uniqueArray(volume, { selector: (v) => v.name, maxLength: 3 }),
    imagePullSecrets: fc.uniqueArray(fc.record({ name: pick('r1', 'r2', 'r3') }), {
      selector: (s) => s.name,
      maxLength: 2,
    }),
    tolerations: fc.array(
      fc.record(
        { key: pick('k1', 'k2'), operator: pick('Exists', 'Equal'), effect: pick('NoSchedule', 'NoExecute') },
        { requiredKeys: [] },
      ),
      { maxLength: 2 },
    ),
    nodeSelector: labels,
    topologySpreadConstraints: fc.uniqueArray(
      fc.record({
        topologyKey: pick('zone', 'host', 'rack'),
        maxSkew: fc.integer({ min: 1, max: 3 }),
        whenUnsatisfiable: pick('DoNotSchedule', 'ScheduleAnyway'),
      }),
      { selector: (t) => t.topologyKey, maxLength: 2 },
    ),
    hostAliases: fc.uniqueArray(
      fc.record({ ip: pick('10.0.0.1', '10.0.0.2'), hostnames: fc.array(pick('a', 'b'), { maxLength: 2 }) }),
      { selector: (h) => h.ip, maxLength: 2 },
    ),
    affinity: fc.record({
      nodeAffinity: fc.record({
        requiredDuringSchedulingIgnoredDuringExecution: fc.record({
          nodeSelectorTerms: fc.array(
            fc.record({
              matchExpressions: fc.array(
                fc.record({
                  key: pick('zone'),
                  operator: pick('In'),
                  values: fc.array(pick('a', 'b'), { maxLength: 2 }),
                }),
                { maxLength: 2 },
              ),
            }),
            { maxLength: 2 },
          ),
        }),
      }),
    }),
    dnsPolicy: pick('ClusterFirst', 'Default'),
    terminationGracePeriodSeconds: fc.integer({ min: 0, max: 60 }),
  },
  { requiredKeys: ['containers'] },
);

const deployment = fc.record(
  {
    apiVersion: fc.constant('apps/v1'),
    kind: fc.constant('Deployment'),
    metadata: fc.record(
      {
        name: fc.constant('web'),
        labels,
        annotations: labels,
        finalizers: fc.uniqueArray(pick('a', 'b', 'c', 'd'), { maxLength: 4 }),
        ownerReferences: fc.uniqueArray(
          fc.record(
            {
              apiVersion: fc.constant('v1'),
              kind: pick('ConfigMap', 'Secret'),
              name: pick('o1', 'o2'),
              uid: pick('u1', 'u2', 'u3'),
              controller: fc.boolean(),
            },
            { requiredKeys: ['apiVersion', 'kind', 'name', 'uid'] },
          ),
          { selector: (o) => o.uid, maxLength: 2 },
        ),
      },
      { requiredKeys: ['name'] },
    ),
    spec: fc.record(
      {
        replicas: fc.integer({ min: 0, max: 5 }),
        selector: fc.record({ matchLabels: labels }),
        strategy: fc.oneof(
          fc.constant({ type: 'Recreate' }),
          fc.record(
            {
              type: fc.constant('RollingUpdate'),
              rollingUpdate: fc.record(
                {
                  maxSurge: fc.oneof(fc.integer({ min: 0, max: 2 }), pick('25%', '50%')),
                  maxUnavailable: fc.integer({ min: 0, max: 2 }),
                },
                { requiredKeys: [] },
              ),
            },
            { requiredKeys: ['type'] },
          ),
        ),
        template: fc.record({ metadata: fc.record({ labels }), spec: podSpec }, { requiredKeys: ['spec'] }),
        minReadySeconds: fc.integer({ min: 0, max: 10 }),
      },
      { requiredKeys: ['template'] },
    ),
    status: fc.record(
      {
        replicas: fc.integer({ min: 0, max: 5 }),
        conditions: fc.uniqueArray(
          fc.record(
            {
              type: pick('Available', 'Progressing', 'ReplicaFailure'),
              status: pick('True', 'False'),
              reason: pick('A', 'B'),
            },
            { requiredKeys: ['type', 'status'] },
          ),
          { selector: (c) => c.type, maxLength: 3 },
        ),
      },
      { requiredKeys: [] },
    ),
    extra: freeForm,
  },
  { requiredKeys: ['apiVersion', 'kind', 'metadata', 'spec'] },
) as fc.Arbitrary<JsonObject>;

const service = fc.record(
  {
    apiVersion: fc.constant('v1'),
    kind: fc.constant('Service'),
    metadata: fc.record({ name: fc.constant('web'), labels }, { requiredKeys: ['name'] }),
    spec: fc.record(
      {
        type: pick('ClusterIP', 'NodePort'),
        selector: labels,
        ports: fc.uniqueArray(
          fc.record(
            {
              port: pick(80, 443, 8080),
              name: pick('http', 'https', 'admin'),
              targetPort: fc.oneof(pick(8080, 8443), pick('http', 'https')),
              nodePort: pick(30080, 30443),
              protocol: pick('TCP', 'UDP'),
            },
            { requiredKeys: ['port'] },
          ),
          { selector: (p) => p.port, maxLength: 3 },
        ),
        externalIPs: fc.array(pick('1.2.3.4', '5.6.7.8'), { maxLength: 2 }),
        sessionAffinity: pick('None', 'ClientIP'),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['apiVersion', 'kind', 'metadata', 'spec'] },
) as fc.Arbitrary<JsonObject>;

/** Random kubectl-style edits of a Deployment: reorder, drop an env var, change an image, add/remove things. */
function edited(original: JsonObject, choices: number[]): JsonObject {
  const copy = structuredClone(original) as any;
  let n = 0;
  const next = (): number => choices[n++ % choices.length] ?? 0;
  const pod = copy.spec.template.spec;
  const containers = pod.containers as any[];
  switch (next() % 3) {
    case 0:
      containers.reverse();
      break;
    case 1:
      containers.push(containers.shift());
      break;
    default:
      break;
  }
  for (const c of containers) {
    if (Array.isArray(c.env) && c.env.length > 0 && next() % 2 === 0) c.env.splice(next() % c.env.length, 1);
    if (next() % 3 === 0) c.image = `${String(c.image)}-next`;
    if (Array.isArray(c.env) && next() % 4 === 0) c.env.reverse();
  }
  if (next() % 2 === 0) containers.splice(next() % containers.length, 1);
  if (containers.length === 0) containers.push({ name: 'fresh', image: 'x:1' });
  if (Array.isArray(pod.volumes) && pod.volumes.length > 0 && next() % 2 === 0) {
    pod.volumes[0] = { name: pod.volumes[0].name, secret: { secretName: 'rotated' } };
  }
  if (next() % 2 === 0) copy.spec.strategy = { type: 'Recreate' };
  if (Array.isArray(copy.metadata.finalizers) && next() % 2 === 0) copy.metadata.finalizers.reverse();
  if (next() % 3 === 0) delete copy.spec.template.spec.nodeSelector;
  return copy as JsonObject;
}

function checkRoundTrip(original: JsonObject, modified: JsonObject, s: ObjectSchema): void {
  const before = JSON.stringify([original, modified]);
  const patch = createStrategicMergePatch(original, modified, s);
  const result = applyStrategicMergePatch(original, patch, s);
  expect(result).toEqual(modified);
  // The same patch again changes nothing.
  expect(applyStrategicMergePatch(result, patch, s)).toEqual(result);
  // Read back and diffed against the configuration: nothing left to send.
  expect(createStrategicMergePatch(JSON.parse(JSON.stringify(result)) as JsonObject, modified, s)).toEqual(
    {},
  );
  expect(JSON.stringify([original, modified])).toBe(before);
}

describe('strategic merge patch stability (fast-check)', () => {
  it('an unchanged object gives an empty patch', () => {
    fc.assert(
      fc.property(deployment, (d) => {
        expect(createStrategicMergePatch(d, structuredClone(d), deploymentSchema)).toEqual({});
      }),
      { numRuns: 200 },
    );
  });

  it('Deployment to any other Deployment: patch applied gives the modified object, and is idempotent', () => {
    fc.assert(
      fc.property(deployment, deployment, (original, modified) => {
        checkRoundTrip(original, modified, deploymentSchema);
      }),
      { numRuns: 1000 },
    );
  });

  it('Deployment edited the way users edit files (reorder, drop env vars, swap volume sources ...)', () => {
    fc.assert(
      fc.property(
        deployment,
        fc.array(fc.nat({ max: 11 }), { minLength: 1, maxLength: 20 }),
        (original, choices) => {
          checkRoundTrip(original, edited(original, choices), deploymentSchema);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('Service to any other Service (ports merged by port)', () => {
    fc.assert(
      fc.property(service, service, (original, modified) => {
        checkRoundTrip(original, modified, serviceSchema);
      }),
      { numRuns: 500 },
    );
  });
});
