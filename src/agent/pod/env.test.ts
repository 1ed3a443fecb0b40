import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import type { ImageInfo } from '../image/types.js';
import type { ObjectLookup, PodContext } from './container-spec.js';
import { buildEnv, defaultPath, expandVars, isContainerConfigError, podFieldValue } from './env.js';

function image(env?: string[]): ImageInfo {
  return {
    id: 'sha256:abc',
    repoTags: [],
    repoDigests: [],
    size: 0,
    config: env === undefined ? {} : { Env: env },
    os: 'linux',
    architecture: 'amd64',
    layerDirs: [],
  };
}

function pod(spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-1',
      namespace: 'shop',
      uid: '1234abcd-0000-0000-0000-000000000000',
      labels: { app: 'web', tier: 'front' },
      annotations: { note: 'say "hi"' },
    },
    spec: { nodeName: 'node-a', serviceAccountName: 'builder', containers: [], ...spec },
  };
}

function ctx(p: KubeObject = pod()): PodContext {
  return {
    pod: p,
    nodeName: 'node-a',
    hostIP: '10.0.0.5',
    podIPs: ['10.244.1.7', 'fd00::7'],
    podDir: '/nonexistent',
    cgroupParent: 'flotilla/podx',
    nodeAllocatable: { cpuMilli: 4000, memoryBytes: 8 * 1024 ** 3 },
  };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function lookup(objs: {
  configMaps?: Record<string, KubeObject>;
  secrets?: Record<string, KubeObject>;
}): ObjectLookup {
  return {
    configMap: async (ns, name) => objs.configMaps?.[`${ns}/${name}`],
    secret: async (ns, name) => objs.secrets?.[`${ns}/${name}`],
  };
}

const cm = (data: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: {},
  data,
});

async function envOf(
  container: Record<string, unknown>,
  opts: { img?: ImageInfo; look?: ObjectLookup; c?: PodContext } = {},
): Promise<Map<string, string>> {
  const built = await buildEnv({
    ctx: opts.c ?? ctx(),
    container: { name: 'app', ...container },
    image: opts.img ?? image(),
    hostname: 'web-1',
    lookup: opts.look ?? lookup({}),
  });
  return new Map(built.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

async function configErrorOf(p: Promise<unknown>): Promise<{ reason: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isContainerConfigError(err)) return { reason: err.reason, message: err.message };
    throw err;
  }
  throw new Error('expected a ContainerConfigError');
}

describe('expandVars', () => {
  const vars = new Map([
    ['A', 'alpha'],
    ['B', 'beta'],
  ]);
  const x = (s: string): string => expandVars(s, (n) => vars.get(n));
  it.each([
    ['$(A)-$(B)', 'alpha-beta'],
    ['$$(A)', '$(A)'],
    ['$$$(A)', '$alpha'],
    ['$(UNKNOWN)', '$(UNKNOWN)'],
    ['$(A', '$(A'],
    ['cost $5', 'cost $5'],
    ['end$', 'end$'],
    ['$$', '$'],
    ['$()', '$()'],
  ])('%s → %s', (input, want) => {
    expect(x(input)).toBe(want);
  });
});

describe('buildEnv', () => {
  it('puts a default PATH and HOSTNAME first, then the image Env, then the pod env (later wins)', async () => {
    const built = await buildEnv({
      ctx: ctx(),
      container: {
        name: 'app',
        env: [
          { name: 'LANG', value: 'C' },
          { name: 'MODE', value: 'one' },
          { name: 'MODE', value: 'two' },
        ],
      },
      image: image(['LANG=en_US.UTF-8', 'IMG=1']),
      hostname: 'web-1',
      lookup: lookup({}),
    });
    expect(built.env).toEqual([`PATH=${defaultPath}`, 'HOSTNAME=web-1', 'LANG=C', 'IMG=1', 'MODE=two']);
  });

  it('keeps the image PATH when it sets one', async () => {
    const env = await envOf({}, { img: image(['PATH=/opt/bin']) });
    expect(env.get('PATH')).toBe('/opt/bin');
  });

  it('expands $(VAR) in values with variables defined earlier only', async () => {
    const env = await envOf({
      env: [
        { name: 'HOST', value: 'db' },
        { name: 'URL', value: 'http://$(HOST):$(PORT)/$$(HOST)' },
        { name: 'PORT', value: '5432' },
      ],
    });
    expect(env.get('URL')).toBe('http://db:$(PORT)/$(HOST)');
  });

  it('resolves configMapKeyRef and secretKeyRef (base64 data and stringData)', async () => {
    const look = lookup({
      configMaps: { 'shop/settings': cm({ level: 'debug' }) },
      secrets: {
        'shop/creds': {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {},
          data: { password: b64('s3cret') },
          stringData: { token: 'plain' },
        },
      },
    });
    const env = await envOf(
      {
        env: [
          { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'settings', key: 'level' } } },
          { name: 'PW', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
        ],
      },
      { look },
    );
    expect(env.get('LEVEL')).toBe('debug');
    expect(env.get('PW')).toBe('s3cret');
    expect(env.get('TOKEN')).toBe('plain');
  });

  it('fails with upstream messages for a missing ConfigMap, Secret or key, unless optional', async () => {
    const look = lookup({ configMaps: { 'shop/settings': cm({ level: 'debug' }) } });
    const ref = (r: Record<string, unknown>): Record<string, unknown> => ({
      env: [{ name: 'X', valueFrom: r }],
    });
    expect(
      await configErrorOf(envOf(ref({ configMapKeyRef: { name: 'nope', key: 'k' } }), { look })),
    ).toEqual({
      reason: 'CreateContainerConfigError',
      message: 'configmap "nope" not found',
    });
    expect(
      (await configErrorOf(envOf(ref({ configMapKeyRef: { name: 'settings', key: 'k' } }), { look })))
        .message,
    ).toBe("couldn't find key k in ConfigMap shop/settings");
    expect(
      (await configErrorOf(envOf(ref({ secretKeyRef: { name: 's', key: 'k' } }), { look }))).message,
    ).toBe('secret "s" not found');
    const skipped = await envOf(
      {
        env: [
          { name: 'A', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k', optional: true } } },
          { name: 'B', valueFrom: { configMapKeyRef: { name: 'settings', key: 'k', optional: true } } },
          { name: 'C', valueFrom: { secretKeyRef: { name: 's', key: 'k', optional: true } } },
        ],
      },
      { look },
    );
    expect([...skipped.keys()]).toEqual(['PATH', 'HOSTNAME']);
  });

  it('resolves downward API fieldRefs', async () => {
    const paths: Record<string, string> = {
      'metadata.name': 'web-1',
      'metadata.namespace': 'shop',
      'metadata.uid': '1234abcd-0000-0000-0000-000000000000',
      "metadata.labels['app']": 'web',
      "metadata.annotations['note']": 'say "hi"',
      'spec.nodeName': 'node-a',
      'spec.serviceAccountName': 'builder',
      'status.hostIP': '10.0.0.5',
      'status.podIP': '10.244.1.7',
      'status.podIPs': '10.244.1.7,fd00::7',
    };
    const env = await envOf({
      env: Object.keys(paths).map((p, i) => ({ name: `V${i}`, valueFrom: { fieldRef: { fieldPath: p } } })),
    });
    Object.values(paths).forEach((want, i) => expect(env.get(`V${i}`)).toBe(want));
    expect(podFieldValue(ctx(), 'metadata.labels')).toBe('app="web"\ntier="front"');
  });

  it('resolves resourceFieldRefs with divisors, rounding up, limits defaulting to node allocatable', async () => {
    const env = await envOf({
      resources: { limits: { cpu: '1500m', memory: '100Mi' }, requests: { memory: '1000001' } },
      env: [
        { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
        { name: 'CPU_M', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
        { name: 'MEM_MI', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        { name: 'REQ_M', valueFrom: { resourceFieldRef: { resource: 'requests.memory', divisor: '1M' } } },
        { name: 'REQ_CPU', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
      ],
    });
    expect(env.get('CPU')).toBe('2');
    expect(env.get('CPU_M')).toBe('1500');
    expect(env.get('MEM_MI')).toBe('100');
    expect(env.get('REQ_M')).toBe('2');
    expect(env.get('REQ_CPU')).toBe('1500');
    const unlimited = await envOf({
      env: [
        { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
        { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Gi' } } },
      ],
    });
    expect(unlimited.get('CPU')).toBe('4');
    expect(unlimited.get('MEM')).toBe('8');
  });

  it('takes envFrom first with prefix, skips invalid names, and lets env override', async () => {
    const look = lookup({
      configMaps: { 'shop/cfg': cm({ color: 'blue', 'bad name': 'x', '1st': 'y', size: 'L' }) },
      secrets: { 'shop/sec': { apiVersion: 'v1', kind: 'Secret', metadata: {}, data: { key: b64('v') } } },
    });
    const env = await envOf(
      {
        envFrom: [
          { configMapRef: { name: 'cfg' }, prefix: 'APP_' },
          { secretRef: { name: 'sec' } },
          { configMapRef: { name: 'absent', optional: true } },
        ],
        env: [{ name: 'APP_size', value: 'XL' }],
      },
      { look },
    );
    expect(env.get('APP_color')).toBe('blue');
    expect(env.get('APP_1st')).toBe('y');
    expect(env.get('APP_size')).toBe('XL');
    expect(env.get('key')).toBe('v');
    expect([...env.keys()].some((k) => k.includes(' '))).toBe(false);
    const unprefixed = await envOf({ envFrom: [{ configMapRef: { name: 'cfg' } }] }, { look });
    expect(unprefixed.has('1st')).toBe(false);
    expect(
      (await configErrorOf(envOf({ envFrom: [{ secretRef: { name: 'gone' } }] }, { look }))).message,
    ).toBe('secret "gone" not found');
  });
});
