import { createServer, type Server } from 'node:net';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import type { ObjectLookup, PodContext } from './container-spec.js';
import { isContainerConfigError } from './env.js';
import { prepareVolumes, volumeMounts } from './volumes.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'podvol-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const isRoot = process.getuid?.() === 0;
const b64 = (s: string): string => Buffer.from(s).toString('base64');

function ctx(volumes: unknown[], extra: Record<string, unknown> = {}): PodContext {
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-1',
      namespace: 'shop',
      uid: 'u1',
      labels: { b: '2', a: '1' },
      annotations: { x: 'y' },
    },
    spec: {
      containers: [{ name: 'app', resources: { limits: { memory: '64Mi' } } }],
      volumes,
      ...extra,
    },
  };
  return {
    pod,
    nodeName: 'node-a',
    hostIP: '10.0.0.5',
    podIPs: ['10.244.1.7'],
    podDir: join(dir, 'pod'),
    cgroupParent: 'flotilla/podu1',
  };
}

/** A lookup over mutable maps, so tests can change objects between calls. */
function store(): { look: ObjectLookup; cms: Map<string, KubeObject>; secrets: Map<string, KubeObject> } {
  const cms = new Map<string, KubeObject>();
  const secrets = new Map<string, KubeObject>();
  return {
    cms,
    secrets,
    look: {
      configMap: async (ns, name) => cms.get(`${ns}/${name}`),
      secret: async (ns, name) => secrets.get(`${ns}/${name}`),
    },
  };
}
const cm = (data: Record<string, string>, binaryData?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: {},
  data,
  ...(binaryData === undefined ? {} : { binaryData }),
});
const secret = (data: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: {},
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});

async function configErrorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isContainerConfigError(err)) return err.message;
    throw err;
  }
  throw new Error('expected a ContainerConfigError');
}

const mode = (p: string): number => statSync(p).mode & 0o7777;

describe('emptyDir and hostPath', () => {
  it('creates an emptyDir world-writable under volumes/kubernetes.io~empty-dir and keeps its data on a second call', async () => {
    const c = ctx([{ name: 'scratch', emptyDir: {} }]);
    const vols = await prepareVolumes(c, store().look);
    const path = vols.get('scratch') ?? '';
    expect(path).toBe(join(c.podDir, 'volumes', 'kubernetes.io~empty-dir', 'scratch'));
    expect(mode(path)).toBe(0o777);
    writeFileSync(join(path, 'keep'), 'me');
    await prepareVolumes(c, store().look);
    expect(readFileSync(join(path, 'keep'), 'utf8')).toBe('me');
  });

  it('checks hostPath types and creates DirectoryOrCreate / FileOrCreate paths', async () => {
    const d = join(dir, 'host', 'made');
    mkdirSync(join(dir, 'host'));
    const f = join(dir, 'host', 'file.txt');
    const vols = await prepareVolumes(
      ctx([
        { name: 'd', hostPath: { path: d, type: 'DirectoryOrCreate' } },
        { name: 'f', hostPath: { path: f, type: 'FileOrCreate' } },
        { name: 'null', hostPath: { path: '/dev/null', type: 'CharDevice' } },
        { name: 'any', hostPath: { path: join(dir, 'not-there') } },
      ]),
      store().look,
    );
    expect(vols.get('d')).toBe(d);
    expect(statSync(d).isDirectory()).toBe(true);
    expect(statSync(f).isFile()).toBe(true);
    const fail = (path: string, type: string): Promise<string> =>
      configErrorOf(prepareVolumes(ctx([{ name: 'h', hostPath: { path, type } }]), store().look));
    expect(await fail(join(dir, 'missing'), 'Directory')).toBe(
      `hostPath type check failed: ${join(dir, 'missing')} is not a directory`,
    );
    expect(await fail(d, 'File')).toBe(`hostPath type check failed: ${d} is not a file`);
    expect(await fail(f, 'DirectoryOrCreate')).toBe(`hostPath type check failed: ${f} is not a directory`);
    expect(await fail(f, 'Socket')).toBe(`hostPath type check failed: ${f} is not a socket file`);
    expect(await fail('/dev/null', 'BlockDevice')).toBe(
      'hostPath type check failed: /dev/null is not a block device',
    );
    expect(await fail(d, 'CharDevice')).toBe(`hostPath type check failed: ${d} is not a character device`);
  });

  it('accepts a unix socket for type Socket', async () => {
    const sock = join(dir, 's.sock');
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      const vols = await prepareVolumes(
        ctx([{ name: 's', hostPath: { path: sock, type: 'Socket' } }]),
        store().look,
      );
      expect(vols.get('s')).toBe(sock);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses volume types it does not support', async () => {
    expect(
      await configErrorOf(
        prepareVolumes(ctx([{ name: 'pvc', persistentVolumeClaim: { claimName: 'x' } }]), store().look),
      ),
    ).toBe('volume "pvc": volume type persistentVolumeClaim is not supported');
  });
});

describe('configMap and secret volumes', () => {
  it('writes keys through ..data symlinks with defaultMode, items with path and mode, and binaryData', async () => {
    const s = store();
    s.cms.set('shop/app', cm({ 'app.conf': 'port=80\n', extra: 'e' }, { 'logo.bin': b64('\u0001\u0002') }));
    const c = ctx([
      { name: 'all', configMap: { name: 'app', defaultMode: 0o600 } },
      {
        name: 'some',
        configMap: { name: 'app', items: [{ key: 'app.conf', path: 'conf/main.conf', mode: 0o400 }] },
      },
    ]);
    const vols = await prepareVolumes(c, s.look);
    const all = vols.get('all') ?? '';
    expect(readFileSync(join(all, 'app.conf'), 'utf8')).toBe('port=80\n');
    expect([...readFileSync(join(all, 'logo.bin'))]).toEqual([1, 2]);
    expect(lstatSync(join(all, 'app.conf')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(all, 'app.conf'))).toBe('..data/app.conf');
    expect(readlinkSync(join(all, '..data'))).toMatch(/^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\./);
    expect(mode(join(all, 'app.conf'))).toBe(0o600);
    const some = vols.get('some') ?? '';
    expect(readdirSync(some).filter((e) => !e.startsWith('..'))).toEqual(['conf']);
    expect(readFileSync(join(some, 'conf', 'main.conf'), 'utf8')).toBe('port=80\n');
    expect(mode(join(some, 'conf', 'main.conf'))).toBe(0o400);
    expect(mode(join(all, 'extra'))).toBe(0o600);
  });

  it('refreshes atomically: a new ..data target, removed keys disappear, old data dir removed; unchanged is a no-op', async () => {
    const s = store();
    s.cms.set('shop/app', cm({ a: '1', b: '2' }));
    const c = ctx([{ name: 'cfg', configMap: { name: 'app' } }]);
    const path = (await prepareVolumes(c, s.look)).get('cfg') ?? '';
    const first = readlinkSync(join(path, '..data'));
    await prepareVolumes(c, s.look);
    expect(readlinkSync(join(path, '..data'))).toBe(first);

    s.cms.set('shop/app', cm({ a: 'one', c: '3' }));
    await prepareVolumes(c, s.look);
    const second = readlinkSync(join(path, '..data'));
    expect(second).not.toBe(first);
    expect(readFileSync(join(path, 'a'), 'utf8')).toBe('one');
    expect(readFileSync(join(path, 'c'), 'utf8')).toBe('3');
    expect(readdirSync(path).sort()).toEqual(['..data', second, 'a', 'c'].sort());
  });

  it('fails for a missing ConfigMap, Secret or item key unless optional (then an empty volume)', async () => {
    const s = store();
    s.cms.set('shop/app', cm({ a: '1' }));
    expect(
      await configErrorOf(prepareVolumes(ctx([{ name: 'v', configMap: { name: 'gone' } }]), s.look)),
    ).toBe('configmap "gone" not found');
    expect(
      await configErrorOf(prepareVolumes(ctx([{ name: 'v', secret: { secretName: 'gone' } }]), s.look)),
    ).toBe('secret "gone" not found');
    expect(
      await configErrorOf(
        prepareVolumes(
          ctx([{ name: 'v', configMap: { name: 'app', items: [{ key: 'zz', path: 'zz' }] } }]),
          s.look,
        ),
      ),
    ).toBe('configmap references non-existent config key: zz');
    const vols = await prepareVolumes(
      ctx([
        { name: 'v', configMap: { name: 'gone', optional: true } },
        {
          name: 'w',
          configMap: {
            name: 'app',
            optional: true,
            items: [
              { key: 'zz', path: 'zz' },
              { key: 'a', path: 'a' },
            ],
          },
        },
      ]),
      s.look,
    );
    expect(readdirSync(vols.get('v') ?? '').filter((e) => !e.startsWith('..'))).toEqual([]);
    expect(readdirSync(vols.get('w') ?? '').filter((e) => !e.startsWith('..'))).toEqual(['a']);
  });

  it('decodes Secret data into files under a root-only (0700) plugin dir', async () => {
    const s = store();
    s.secrets.set('shop/db', secret({ password: 'hunter2' }));
    const c = ctx([{ name: 'creds', secret: { secretName: 'db' } }]);
    const path = (await prepareVolumes(c, s.look)).get('creds') ?? '';
    expect(readFileSync(join(path, 'password'), 'utf8')).toBe('hunter2');
    expect(mode(join(c.podDir, 'volumes', 'kubernetes.io~secret'))).toBe(0o700);
    expect(mode(join(path, 'password'))).toBe(0o644);
  });

  it.skipIf(!isRoot)(
    'fsGroup: volume dirs and files get the group, setgid dirs, group-readable files (needs root to chown)',
    async () => {
      const s = store();
      s.secrets.set('shop/db', secret({ password: 'hunter2' }));
      const c = ctx(
        [
          { name: 'creds', secret: { secretName: 'db', defaultMode: 0o400 } },
          { name: 'scratch', emptyDir: {} },
        ],
        { securityContext: { fsGroup: 4321 } },
      );
      const vols = await prepareVolumes(c, s.look);
      const creds = vols.get('creds') ?? '';
      const file = join(creds, 'password');
      expect(statSync(file).gid).toBe(4321);
      expect(mode(file)).toBe(0o440);
      expect(statSync(join(creds, '..data')).gid).toBe(4321);
      expect(mode(join(creds, '..data')) & 0o2000).toBe(0o2000);
      const scratch = vols.get('scratch') ?? '';
      expect(statSync(scratch).gid).toBe(4321);
      expect(mode(scratch)).toBe(0o2777);
    },
  );
});

describe('downwardAPI and projected volumes', () => {
  it('writes labels, annotations, name, namespace, uid and resources', async () => {
    const c = ctx([
      {
        name: 'info',
        downwardAPI: {
          items: [
            { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
            { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
            { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
            { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } },
            { path: 'uid', fieldRef: { fieldPath: 'metadata.uid' } },
            { path: 'app', fieldRef: { fieldPath: "metadata.labels['a']" } },
            {
              path: 'mem',
              resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' },
            },
          ],
        },
      },
    ]);
    const path = (await prepareVolumes(c, store().look)).get('info') ?? '';
    const read = (f: string): string => readFileSync(join(path, f), 'utf8');
    expect(read('labels')).toBe('a="1"\nb="2"');
    expect(read('annotations')).toBe('x="y"');
    expect(read('name')).toBe('web-1');
    expect(read('ns')).toBe('shop');
    expect(read('uid')).toBe('u1');
    expect(read('app')).toBe('1');
    expect(read('mem')).toBe('64');
  });

  it('projects configMap, secret and downwardAPI sources into one volume with the defaultMode', async () => {
    const s = store();
    s.cms.set('shop/ca', cm({ 'ca.crt': 'CERT' }));
    s.secrets.set('shop/tok', secret({ token: 'T' }));
    const c = ctx([
      {
        name: 'all',
        projected: {
          defaultMode: 0o440,
          sources: [
            { configMap: { name: 'ca' } },
            { secret: { name: 'tok', items: [{ key: 'token', path: 'auth/token' }] } },
            {
              downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] },
            },
            { serviceAccountToken: { path: 'sa-token' } },
            { configMap: { name: 'absent', optional: true } },
          ],
        },
      },
    ]);
    const path = (await prepareVolumes(c, s.look)).get('all') ?? '';
    expect(readFileSync(join(path, 'ca.crt'), 'utf8')).toBe('CERT');
    expect(readFileSync(join(path, 'auth', 'token'), 'utf8')).toBe('T');
    expect(readFileSync(join(path, 'namespace'), 'utf8')).toBe('shop');
    expect(mode(join(path, 'ca.crt'))).toBe(0o440);
    s.cms.delete('shop/ca');
    expect(await configErrorOf(prepareVolumes(c, s.look))).toBe('configmap "ca" not found');
  });
});

describe('volumeMounts', () => {
  async function setup(): Promise<{ c: PodContext; vols: Map<string, string> }> {
    const s = store();
    s.cms.set('shop/app', cm({ 'app.conf': 'x' }));
    const c = ctx([
      { name: 'scratch', emptyDir: {} },
      { name: 'cfg', configMap: { name: 'app' } },
    ]);
    return { c, vols: await prepareVolumes(c, s.look) };
  }
  const mounts = (
    c: PodContext,
    vols: Map<string, string>,
    vm: unknown[],
    vars: Record<string, string> = {},
  ) =>
    volumeMounts({
      pod: c.pod,
      container: { name: 'app', volumeMounts: vm },
      volumes: vols,
      podVars: new Map(Object.entries(vars)),
    });

  it('binds volumes, keeps readOnly, and forces API-data volumes read-only', async () => {
    const { c, vols } = await setup();
    expect(
      await mounts(c, vols, [
        { name: 'scratch', mountPath: '/data' },
        { name: 'scratch', mountPath: '/ro', readOnly: true },
        { name: 'cfg', mountPath: '/etc/app' },
      ]),
    ).toEqual([
      { containerPath: '/data', hostPath: vols.get('scratch'), readOnly: false },
      { containerPath: '/ro', hostPath: vols.get('scratch'), readOnly: true },
      { containerPath: '/etc/app', hostPath: vols.get('cfg'), readOnly: true },
    ]);
  });

  it('mounts a subPath (created when missing) and a subPathExpr expanded with the pod env', async () => {
    const { c, vols } = await setup();
    const scratch = vols.get('scratch') ?? '';
    const [a, b, file] = await mounts(
      c,
      vols,
      [
        { name: 'scratch', mountPath: '/logs', subPath: 'logs/app' },
        { name: 'scratch', mountPath: '/mine', subPathExpr: 'pods/$(POD_NAME)' },
        { name: 'cfg', mountPath: '/etc/app.conf', subPath: 'app.conf' },
      ],
      { POD_NAME: 'web-1' },
    );
    expect(a?.hostPath).toBe(join(scratch, 'logs', 'app'));
    expect(statSync(join(scratch, 'logs', 'app')).isDirectory()).toBe(true);
    expect(b?.hostPath).toBe(join(scratch, 'pods', 'web-1'));
    expect(readFileSync(file?.hostPath ?? '', 'utf8')).toBe('x');
    expect(file?.readOnly).toBe(true);
  });

  it("rejects absolute subPaths, '..', symlinks leading out of the volume, and unknown volumes", async () => {
    const { c, vols } = await setup();
    const scratch = vols.get('scratch') ?? '';
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, join(scratch, 'escape'));
    expect(
      await configErrorOf(mounts(c, vols, [{ name: 'scratch', mountPath: '/x', subPath: '/etc' }])),
    ).toContain('must not be an absolute path');
    expect(
      await configErrorOf(mounts(c, vols, [{ name: 'scratch', mountPath: '/x', subPath: 'a/../../b' }])),
    ).toContain("must not contain '..'");
    expect(
      await configErrorOf(mounts(c, vols, [{ name: 'scratch', mountPath: '/x', subPath: 'escape' }])),
    ).toContain('not within volume path');
    expect(
      await configErrorOf(mounts(c, vols, [{ name: 'scratch', mountPath: '/x', subPath: 'escape/newdir' }])),
    ).toContain('not within volume path');
    expect(
      await configErrorOf(mounts(c, vols, [{ name: 'scratch', mountPath: '/x', subPath: 'escape/a/b' }])),
    ).toContain('not within volume path');
    expect(readdirSync(outside)).toEqual([]);
    expect(await configErrorOf(mounts(c, vols, [{ name: 'nope', mountPath: '/x' }]))).toBe(
      'cannot find volume "nope" to mount into container "app"',
    );
  });
});
