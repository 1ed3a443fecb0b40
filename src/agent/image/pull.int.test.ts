// Pulls from a real registry (Debian's docker-registry) of images built with umoci and pushed with skopeo.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../testkit/etcd.js';
import { buildBusyboxLayout, pushImage } from '../../testkit/images.js';
import { startRegistry, type RegistryInstance } from '../../testkit/registry.js';
import { LocalImageService } from './store.js';
import { ImageError, type PullProgress } from './types.js';

const tmp = mkdtempSync(join(tmpdir(), 'flotilla-image-pull-'));
let plain: RegistryInstance;
let secure: RegistryInstance;
const auth = { username: 'flo', password: `pw-${randomBytes(4).toString('hex')}` };
let layout: string;

function store(extra: { caPem?: string[] } = {}): LocalImageService {
  return new LocalImageService({ root: mkdtempSync(join(tmp, 'store-')), ...extra });
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ImageError) return `${err.reason}: ${err.message}`;
    throw err;
  }
  return 'resolved';
}

beforeAll(async () => {
  [plain, secure] = await Promise.all([startRegistry(), startRegistry({ tls: true, auth })]);
  layout = await buildBusyboxLayout(join(tmp, 'layout'), '1');
  await pushImage(layout, '1', plain, 'test/busybox:1');
  await pushImage(layout, '1', secure, 'test/busybox:1', auth);
}, 180_000);

afterAll(async () => {
  await Promise.all([plain?.stop(), secure?.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

describe('pull', () => {
  it('pulls over plain HTTP from a loopback registry and unpacks a runnable rootfs', async () => {
    const s = store();
    const progress: PullProgress[] = [];
    const img = await s.pull(`${plain.host}/test/busybox:1`, { onProgress: (p) => progress.push(p) });
    expect(img.id).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(img.repoTags).toEqual([`${plain.host}/test/busybox:1`]);
    expect(img.repoDigests[0]).toMatch(new RegExp(`^${plain.host}/test/busybox@sha256:[a-f0-9]{64}$`));
    expect(img.config.Cmd).toEqual(['sh']);
    expect(img.layerDirs).toHaveLength(1);
    const rootfs = img.layerDirs[0] ?? '';
    expect(statSync(join(rootfs, 'bin', 'busybox')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(rootfs, 'etc', 'passwd'), 'utf8')).toContain('nobody:x:65534');
    expect(readlinkSync(join(rootfs, 'bin', 'httpd'))).toBe('/bin/busybox');
    expect(progress.some((p) => p.done && p.downloaded === p.total)).toBe(true);
    // persisted: a fresh service on the same root sees it
    const again = new LocalImageService({ root: join(rootfs, '..', '..') });
    await again.init();
    expect((await again.get(`${plain.host}/test/busybox:1`))?.id).toBe(img.id);
    expect((await again.get(img.id.slice(7, 19)))?.id).toBe(img.id);
  });

  it('pulls over TLS with basic auth; bad or missing credentials are Unauthorized', async () => {
    const ref = `${secure.host}/test/busybox:1`;
    const s = store({ caPem: [secure.caPem ?? ''] });
    expect(await reason(s.pull(ref))).toMatch(/^Unauthorized: .*no credentials/);
    expect(
      await reason(
        s.pull(ref, { credentials: [{ registry: secure.host, username: 'flo', password: 'wrong' }] }),
      ),
    ).toMatch(/^Unauthorized: .*refused/);
    const img = await s.pull(ref, { credentials: [{ registry: secure.host, ...auth }] });
    expect(img.repoTags).toEqual([ref]);
    // without the CA, TLS fails: Unreachable with a hint
    expect(await reason(store().pull(ref, { credentials: [{ registry: secure.host, ...auth }] }))).toMatch(
      /^Unreachable: cannot reach registry 127\.0\.0\.1:\d+ .*certificate/,
    );
  });

  it('basic auth works over plain HTTP on loopback too (what the agent e2e tests use)', async () => {
    const reg = await startRegistry({ auth });
    try {
      await pushImage(layout, '1', reg, 'private/busybox:1', auth);
      const ref = `${reg.host}/private/busybox:1`;
      expect(await reason(store().pull(ref))).toMatch(/^Unauthorized: /);
      const img = await store().pull(ref, { credentials: [{ registry: reg.host, ...auth }] });
      expect(img.repoTags).toEqual([ref]);
    } finally {
      await reg.stop();
    }
  });

  it('picks linux/<arch> from an image index pushed to the registry', async () => {
    const dir = join(tmp, 'multi');
    cpSync(layout, dir, { recursive: true });
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
      manifests: { mediaType: string; digest: string; size: number }[];
    };
    const m = index.manifests[0];
    if (m === undefined) throw new Error('empty layout');
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    const other = arch === 'amd64' ? 'arm64' : 'amd64';
    // the other platform's entry points at a manifest the registry will not have: picking it would fail
    const imageIndex = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: m.mediaType,
            digest: m.digest,
            size: m.size,
            platform: { os: 'linux', architecture: other },
          },
          {
            mediaType: m.mediaType,
            digest: m.digest,
            size: m.size,
            platform: { os: 'linux', architecture: arch },
          },
        ],
      }),
    );
    const hex = createHash('sha256').update(imageIndex).digest('hex');
    writeFileSync(join(dir, 'blobs', 'sha256', hex), imageIndex);
    writeFileSync(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.index.v1+json',
            digest: `sha256:${hex}`,
            size: imageIndex.length,
            annotations: { 'org.opencontainers.image.ref.name': 'multi' },
          },
        ],
      }),
    );
    execFileSync('skopeo', [
      'copy',
      '--quiet',
      '--all',
      '--dest-tls-verify=false',
      `oci:${dir}:multi`,
      `docker://${plain.host}/test/multi:1`,
    ]);
    const img = await store().pull(`${plain.host}/test/multi:1`);
    expect(img.repoDigests).toEqual([`${plain.host}/test/multi@sha256:${hex}`]);
    expect(img.architecture).toBe(arch);
    expect(await store().ensureImage(`${plain.host}/test/multi@sha256:${hex}`, 'IfNotPresent')).toMatchObject(
      { id: img.id },
    );
  });

  it('a missing tag is NotFound, a closed port Unreachable, a bad reference Invalid', async () => {
    const s = store();
    expect(await reason(s.pull(`${plain.host}/test/busybox:nope`))).toMatch(/^NotFound: /);
    expect(await reason(s.pull(`${plain.host}/test/nothing:1`))).toMatch(/^NotFound: /);
    const port = await freePort();
    expect(await reason(s.pull(`127.0.0.1:${port}/x:1`))).toMatch(
      new RegExp(`^Unreachable: cannot reach registry 127.0.0.1:${port} .*ECONNREFUSED`),
    );
    expect(await reason(s.pull('Busy Box'))).toMatch(/^Invalid: invalid image reference/);
  });

  it('pull policies: Never without the image is NotPresent; IfNotPresent pulls once; concurrent calls share a pull', async () => {
    const s = store();
    const ref = `${plain.host}/test/busybox:1`;
    expect(await reason(s.ensureImage(ref, 'Never'))).toMatch(
      /^NotPresent: Container image ".*" is not present with pull policy of Never/,
    );
    const starts: string[] = [];
    const onProgress = (p: PullProgress): void => {
      if (p.downloaded === 0 && !p.done) starts.push(p.digest);
    };
    const [a, b] = await Promise.all([
      s.ensureImage(ref, 'IfNotPresent', { onProgress }),
      s.ensureImage(ref, 'IfNotPresent', { onProgress }),
    ]);
    expect(a.id).toBe(b.id);
    expect(starts).toHaveLength(1); // one layer, downloaded once
    expect((await s.ensureImage(ref, 'Never')).id).toBe(a.id);
    // IfNotPresent with the image present does not touch the registry
    await plain.stop();
    try {
      expect((await s.ensureImage(ref, 'IfNotPresent')).id).toBe(a.id);
      expect(await reason(s.ensureImage(ref, 'Always'))).toMatch(/^Unreachable: /);
    } finally {
      plain = await restart(plain);
    }
  });

  it('a corrupted blob in the registry is DigestMismatch and nothing partial is kept', async () => {
    const reg = await startRegistry();
    try {
      await pushImage(layout, '1', reg, 'test/corrupt:1');
      const blobsRoot = join(reg.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256');
      // the biggest blob is the layer
      let biggest = '';
      let size = 0;
      for (const p2 of readdirSync(blobsRoot))
        for (const hex of readdirSync(join(blobsRoot, p2))) {
          const f = join(blobsRoot, p2, hex, 'data');
          if (statSync(f).size > size) [biggest, size] = [f, statSync(f).size];
        }
      const bytes = readFileSync(biggest);
      const mid = Math.floor(bytes.length / 2);
      bytes[mid] = (bytes[mid] ?? 0) ^ 0xff;
      writeFileSync(biggest, bytes);
      const s = store();
      expect(await reason(s.pull(`${reg.host}/test/corrupt:1`))).toMatch(
        /^DigestMismatch: .*partial download was discarded/,
      );
      const blobDir = join(s.blobDir);
      expect(readdirSync(blobDir).filter((f) => f.endsWith('.partial'))).toEqual([]);
      expect(await s.list()).toEqual([]);
    } finally {
      await reg.stop();
    }
  });
});

async function restart(old: RegistryInstance): Promise<RegistryInstance> {
  const fresh = await startRegistry();
  await pushImage(layout, '1', fresh, 'test/busybox:1');
  void old;
  return fresh;
}
