import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testDir } from '../../testkit/temp-dir.js';
import { isApiError } from '../errors.js';
import {
  defaultKubeconfigPath,
  kubeconfigSearchPath,
  loadKubeconfig,
  parseKubeconfig,
} from './kubeconfig.js';

const caPem = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const b64 = (s: string): string => Buffer.from(s).toString('base64');

function config(extra = ''): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: flotilla
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: ${b64(caPem)}
- name: other
  cluster:
    server: http://10.0.0.9:8080
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: s3cret
- name: viewer
  user:
    token: look
contexts:
- name: flotilla
  context: {cluster: flotilla, user: admin, namespace: dev}
- name: other
  context: {cluster: other, user: viewer}
current-context: flotilla
${extra}`;
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(isApiError(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a rejection');
}

describe('parseKubeconfig', () => {
  it('resolves current-context to server, CA, token and namespace', async () => {
    const c = await parseKubeconfig(config(), '/x/kubeconfig.yaml');
    expect(c).toMatchObject({
      server: 'https://127.0.0.1:6443',
      caPem,
      token: 's3cret',
      namespace: 'dev',
      context: 'flotilla',
      source: '/x/kubeconfig.yaml',
    });
    expect(c.insecureSkipTlsVerify).toBeUndefined();
  });

  it('uses the context override', async () => {
    const c = await parseKubeconfig(config(), '/x', 'other');
    expect(c).toMatchObject({ server: 'http://10.0.0.9:8080', token: 'look', insecureSkipTlsVerify: true });
    expect(c.namespace).toBeUndefined();
    expect(c.caPem).toBeUndefined();
  });

  it('names the file and the problem', async () => {
    expect(await rejection(parseKubeconfig(config().replace('current-context: flotilla', ''), '/x'))).toBe(
      'kubeconfig /x: no current-context',
    );
    expect(await rejection(parseKubeconfig(config(), '/x', 'nope'))).toBe(
      'kubeconfig /x: context "nope" not found',
    );
    expect(
      await rejection(parseKubeconfig(config().replace('cluster: flotilla,', 'cluster: gone,'), '/x')),
    ).toBe('kubeconfig /x: cluster "gone" not found');
    expect(await rejection(parseKubeconfig(config().replace('user: admin,', 'user: ghost,'), '/x'))).toBe(
      'kubeconfig /x: user "ghost" not found',
    );
    expect(await rejection(parseKubeconfig('clusters: [1', '/x'))).toMatch(/^kubeconfig \/x: invalid YAML/);
    expect(
      await rejection(parseKubeconfig(config().replace('https://127.0.0.1:6443/', 'ftp://h'), '/x')),
    ).toMatch(/server must be http\(s\)/);
  });

  it('reads certificate-authority and tokenFile relative to the kubeconfig', async () => {
    const dir = testDir('kc-');
    writeFileSync(join(dir, 'ca.crt'), caPem);
    writeFileSync(join(dir, 'token'), 'from-file\n');
    const text = `clusters:
- name: c
  cluster: {server: 'https://h:1', certificate-authority: ca.crt}
users:
- name: u
  user: {tokenFile: token}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`;
    const c = await parseKubeconfig(text, join(dir, 'config'));
    expect(c.caPem).toBe(caPem);
    expect(c.token).toBe('from-file');
  });
});

describe('loadKubeconfig search order', () => {
  it('explicit path, then $KUBECONFIG, then the server default, then ~/.kube/config', () => {
    expect(kubeconfigSearchPath({ path: '/a/b', env: { KUBECONFIG: '/c' } }).files).toEqual(['/a/b']);
    expect(kubeconfigSearchPath({ env: { KUBECONFIG: '/c:/d', HOME: '/home/u' } })).toEqual({
      files: ['/c', '/d'],
      merge: true,
    });
    expect(kubeconfigSearchPath({ env: { HOME: '/home/u' } }).files).toEqual([
      defaultKubeconfigPath,
      '/home/u/.kube/config',
    ]);
  });

  it('falls back to ~/.kube/config when the server default is absent', async () => {
    const home = testDir('home-');
    const files = new Map([[join(home, '.kube', 'config'), config()]]);
    const read = (p: string): Promise<string> => {
      const t = files.get(p);
      return t === undefined
        ? Promise.reject(Object.assign(new Error('nope'), { code: 'ENOENT' }))
        : Promise.resolve(t);
    };
    const c = await loadKubeconfig({ env: { HOME: home } }, read);
    expect(c.source).toBe(join(home, '.kube', 'config'));
    expect(c.token).toBe('s3cret');
  });

  it('merges $KUBECONFIG files first-wins', async () => {
    const dir = testDir('kc-');
    writeFileSync(
      join(dir, 'a'),
      'current-context: other\ncontexts:\n- name: other\n  context: {cluster: mine, user: admin}\nclusters:\n- name: mine\n  cluster: {server: "http://first:1"}\n',
    );
    writeFileSync(join(dir, 'b'), config());
    const c = await loadKubeconfig({ env: { KUBECONFIG: `${join(dir, 'a')}:${join(dir, 'b')}` } });
    expect(c).toMatchObject({ server: 'http://first:1', token: 's3cret', context: 'other' });
  });

  it('reports a missing explicit file and a missing default clearly', async () => {
    expect(await rejection(loadKubeconfig({ path: '/definitely/not/here' }))).toBe(
      'kubeconfig /definitely/not/here: no such file',
    );
    const home = testDir('home-');
    const none = (): Promise<string> => Promise.reject(Object.assign(new Error('x'), { code: 'ENOENT' }));
    expect(await rejection(loadKubeconfig({ env: { HOME: home } }, none))).toMatch(
      /^no kubeconfig found .*flotilla up/,
    );
  });
});
