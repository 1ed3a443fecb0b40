import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import type { ImageInfo } from '../image/types.js';
import type { PodContext } from './container-spec.js';
import { buildEnv } from './env.js';
import { envVarName, serviceEnv, serviceVars } from './service-env.js';

function svc(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name }, spec };
}

function pod(ns: string, spec: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: ns, name: 'p', uid: 'u' }, spec };
}

const kubernetes = svc('default', 'kubernetes', {
  clusterIP: '10.43.0.1',
  ports: [{ name: 'https', port: 443, protocol: 'TCP' }],
});
const web = svc('shop', 'web-front', {
  clusterIP: '10.43.0.10',
  ports: [
    { name: 'http', port: 80, protocol: 'TCP' },
    { name: 'dns-udp', port: 53, protocol: 'UDP' },
  ],
});
const unnamed = svc('shop', 'cache', { clusterIP: '10.43.0.11', ports: [{ port: 6379 }] });
const headless = svc('shop', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] });
const external = svc('shop', 'ext', { type: 'ExternalName', externalName: 'example.com' });
const otherNs = svc('other', 'api', { clusterIP: '10.43.0.12', ports: [{ port: 8080 }] });
const all = [kubernetes, web, unnamed, headless, external, otherNs];

describe('service environment variables', () => {
  it.each([
    ['web', 'WEB'],
    ['web-front', 'WEB_FRONT'],
    ['a-b-c', 'A_B_C'],
  ])('names %s as %s', (name, want) => {
    expect(envVarName(name)).toBe(want);
  });

  it("gives the kubelet's variables for a Service with several ports", () => {
    expect(Object.fromEntries(serviceVars(web))).toEqual({
      WEB_FRONT_SERVICE_HOST: '10.43.0.10',
      WEB_FRONT_SERVICE_PORT: '80',
      WEB_FRONT_SERVICE_PORT_HTTP: '80',
      WEB_FRONT_SERVICE_PORT_DNS_UDP: '53',
      WEB_FRONT_PORT: 'tcp://10.43.0.10:80',
      WEB_FRONT_PORT_80_TCP: 'tcp://10.43.0.10:80',
      WEB_FRONT_PORT_80_TCP_PROTO: 'tcp',
      WEB_FRONT_PORT_80_TCP_PORT: '80',
      WEB_FRONT_PORT_80_TCP_ADDR: '10.43.0.10',
      WEB_FRONT_PORT_53_UDP: 'udp://10.43.0.10:53',
      WEB_FRONT_PORT_53_UDP_PROTO: 'udp',
      WEB_FRONT_PORT_53_UDP_PORT: '53',
      WEB_FRONT_PORT_53_UDP_ADDR: '10.43.0.10',
    });
  });

  it('brackets an IPv6 ClusterIP in the link URLs', () => {
    const six = svc('shop', 'six', { clusterIP: 'fd00::a', ports: [{ port: 80 }] });
    expect(Object.fromEntries(serviceVars(six))).toMatchObject({
      SIX_SERVICE_HOST: 'fd00::a',
      SIX_PORT: 'tcp://[fd00::a]:80',
      SIX_PORT_80_TCP_ADDR: 'fd00::a',
    });
  });

  it.each([
    ['own namespace and the kubernetes Service', pod('shop'), ['CACHE', 'KUBERNETES', 'WEB_FRONT']],
    [
      'enableServiceLinks: false keeps only kubernetes',
      pod('shop', { enableServiceLinks: false }),
      ['KUBERNETES'],
    ],
    ['another namespace sees its own', pod('other'), ['API', 'KUBERNETES']],
    ['the default namespace', pod('default'), ['KUBERNETES']],
    [
      'default with links off still has kubernetes',
      pod('default', { enableServiceLinks: false }),
      ['KUBERNETES'],
    ],
  ])('%s', (_what, p, prefixes) => {
    const hosts = [...serviceEnv(p, all).keys()]
      .filter((k) => k.endsWith('_SERVICE_HOST'))
      .map((k) => k.replace(/_SERVICE_HOST$/, ''));
    expect(hosts).toEqual(prefixes);
  });

  it('skips headless, ExternalName and not yet allocated Services', () => {
    const env = serviceEnv(pod('shop'), [
      ...all,
      svc('shop', 'pending', { clusterIP: '', ports: [{ port: 1 }] }),
    ]);
    for (const prefix of ['DB_', 'EXT_', 'PENDING_'])
      expect([...env.keys()].filter((k) => k.startsWith(prefix))).toEqual([]);
  });

  it("prefers a Service named kubernetes in the pod's namespace over the default one", () => {
    const mine = svc('shop', 'kubernetes', { clusterIP: '10.43.0.99', ports: [{ port: 1 }] });
    expect(serviceEnv(pod('shop'), [kubernetes, mine]).get('KUBERNETES_SERVICE_HOST')).toBe('10.43.0.99');
    expect(serviceEnv(pod('shop'), [mine, kubernetes]).get('KUBERNETES_SERVICE_HOST')).toBe('10.43.0.99');
  });
});

describe('service variables in the container environment', () => {
  const image: ImageInfo = {
    id: 'sha256:abc',
    repoTags: [],
    repoDigests: [],
    size: 0,
    config: { Env: ['WEB_FRONT_SERVICE_PORT=from-image'] },
    os: 'linux',
    architecture: 'amd64',
    layerDirs: [],
  };
  const lookup = { configMap: async () => undefined, secret: async () => undefined };

  async function envOf(p: KubeObject, container: Record<string, unknown>, services?: KubeObject[]) {
    const ctx: PodContext = {
      pod: p,
      nodeName: 'n',
      hostIP: '10.0.0.5',
      podIPs: ['10.42.0.5'],
      podDir: '/nonexistent',
      cgroupParent: 'x',
      ...(services === undefined ? {} : { services: () => services }),
    };
    const built = await buildEnv({ ctx, container, image, hostname: 'p', lookup });
    return {
      env: new Map(built.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
      podVars: built.podVars,
    };
  }

  it('adds them over the image env; explicit container env wins; $(VAR) expands them', async () => {
    const { env, podVars } = await envOf(
      pod('shop'),
      {
        name: 'c',
        env: [
          { name: 'WEB_FRONT_SERVICE_HOST', value: 'mine' },
          { name: 'URL', value: 'http://$(WEB_FRONT_SERVICE_HOST):$(WEB_FRONT_SERVICE_PORT)/' },
        ],
      },
      all,
    );
    expect(env.get('WEB_FRONT_SERVICE_HOST')).toBe('mine');
    expect(env.get('WEB_FRONT_SERVICE_PORT')).toBe('80');
    expect(env.get('KUBERNETES_SERVICE_PORT_HTTPS')).toBe('443');
    expect(env.get('URL')).toBe('http://mine:80/');
    expect(podVars.get('CACHE_SERVICE_HOST')).toBe('10.43.0.11');
  });

  it('waits (a config error the worker retries) until the Service cache has been read', async () => {
    const ctx: PodContext = {
      pod: pod('shop'),
      nodeName: 'n',
      hostIP: '10.0.0.5',
      podIPs: [],
      podDir: '/nonexistent',
      cgroupParent: 'x',
      services: () => undefined,
    };
    await expect(buildEnv({ ctx, container: { name: 'c' }, image, hostname: 'p', lookup })).rejects.toThrow(
      'services have not yet been read at least once, cannot construct envvars',
    );
  });

  it('adds nothing without a Service view', async () => {
    const { env } = await envOf(pod('shop'), { name: 'c' });
    expect([...env.keys()].filter((k) => k.includes('_SERVICE_'))).toEqual(['WEB_FRONT_SERVICE_PORT']);
  });
});
