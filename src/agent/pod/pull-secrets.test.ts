import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import type { ObjectLookup } from './container-spec.js';
import { pullCredentials } from './pull-secrets.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function pod(names: string[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'shop' },
    spec: { containers: [], imagePullSecrets: names.map((name) => ({ name })) },
  };
}

function lookup(secrets: Record<string, { type: string; data: Record<string, string> }>): ObjectLookup {
  return {
    configMap: async () => undefined,
    secret: async (ns, name) => {
      const s = ns === 'shop' ? secrets[name] : undefined;
      return s === undefined
        ? undefined
        : { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, type: s.type, data: s.data };
    },
  };
}

describe('pullCredentials', () => {
  it('reads dockerconfigjson and legacy dockercfg secrets; warns about missing ones as upstream', async () => {
    const look = lookup({
      regcred: {
        type: 'kubernetes.io/dockerconfigjson',
        data: {
          '.dockerconfigjson': b64(
            JSON.stringify({
              auths: {
                '127.0.0.1:5000': { auth: b64('alice:pw1') },
                'https://index.docker.io/v1/': { username: 'bob', password: 'pw2' },
              },
            }),
          ),
        },
      },
      old: {
        type: 'kubernetes.io/dockercfg',
        data: { '.dockercfg': b64(JSON.stringify({ 'quay.io': { auth: b64('carol:pw3') } })) },
      },
      opaque: { type: 'Opaque', data: { x: b64('y') } },
    });
    const { credentials, warnings } = await pullCredentials(pod(['regcred', 'gone', 'old', 'opaque']), look);
    expect(credentials).toEqual([
      { registry: '127.0.0.1:5000', username: 'alice', password: 'pw1' },
      { registry: 'docker.io', username: 'bob', password: 'pw2' },
      { registry: 'quay.io', username: 'carol', password: 'pw3' },
    ]);
    expect(warnings[0]).toBe(
      'Unable to retrieve some image pull secrets ("gone"); attempting to pull the image may not succeed.',
    );
    expect(warnings[1]).toContain('"opaque"');
    expect(warnings).toHaveLength(2);
  });

  it('turns a malformed secret into a warning, not a failure', async () => {
    const look = lookup({
      bad: { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{not json') } },
    });
    const { credentials, warnings } = await pullCredentials(pod(['bad']), look);
    expect(credentials).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('image pull secret "bad"');
  });

  it('returns nothing for a pod without imagePullSecrets', async () => {
    const p = pod([]);
    expect(await pullCredentials(p, lookup({}))).toEqual({ credentials: [], warnings: [] });
  });
});
