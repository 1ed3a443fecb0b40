// Layer unpacking as overlayfs lower dirs (whiteouts, opaque dirs, mounted for real), shared layers,
// resumed downloads, imports of OCI archives and docker-save tarballs, prune and GC.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxLayout, pushImage, writeOciLayout } from '../../testkit/images.js';
import { startRegistry, type RegistryInstance } from '../../testkit/registry.js';
import { LocalImageService } from './store.js';
import type { PullProgress } from './types.js';

const tmp = mkdtempSync(join(tmpdir(), 'flotilla-image-layers-'));
let reg: RegistryInstance;
const isRoot = process.getuid?.() === 0;

function store(): LocalImageService {
  return new LocalImageService({ root: mkdtempSync(join(tmp, 'store-')) });
}

function dirWith(files: Record<string, string | { link: string } | null>): string {
  const d = mkdtempSync(join(tmp, 'layer-'));
  for (const [path, content] of Object.entries(files)) {
    const p = join(d, path);
    if (path.endsWith('/')) {
      mkdirSync(p, { recursive: true });
      continue;
    }
    mkdirSync(join(p, '..'), { recursive: true });
    if (content === null) writeFileSync(p, '');
    else if (typeof content === 'string') writeFileSync(p, content);
    else symlinkSync(content.link, p);
  }
  return d;
}

beforeAll(async () => {
  reg = await startRegistry();
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('layers', () => {
  it.skipIf(!isRoot)(
    'an upper layer deleting a file and making a dir opaque works when mounted with overlayfs (needs root)',
    async () => {
      const lower = dirWith({
        'etc/keep': 'keep\n',
        'etc/gone': 'gone\n',
        'data/old1': 'old\n',
        'data/sub/old2': 'old\n',
        'bin/sh': { link: '/bin/busybox' },
      });
      const upper = dirWith({ 'etc/.wh.gone': null, 'data/.wh..wh..opq': null, 'data/new': 'new\n' });
      const layout = join(tmp, `wh-${randomBytes(3).toString('hex')}`);
      await writeOciLayout(layout, 'v1', [lower, upper]);
      await pushImage(layout, 'v1', reg, 'test/whiteouts:v1');
      const s = store();
      const img = await s.pull(`${reg.host}/test/whiteouts:v1`);
      expect(img.layerDirs).toHaveLength(2);
      const [l0, l1] = img.layerDirs as [string, string];
      // native overlayfs whiteout: a 0/0 character device
      const wh = statSync(join(l1, 'etc', 'gone'));
      expect(wh.isCharacterDevice()).toBe(true);
      expect(wh.rdev).toBe(0);
      expect(existsSync(join(l1, 'etc', '.wh.gone'))).toBe(false);
      expect(
        execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(l1, 'data')], {
          encoding: 'utf8',
        }),
      ).toBe('y');
      const mnt = mkdtempSync(join(tmp, 'mnt-'));
      const up = mkdtempSync(join(tmp, 'upper-'));
      const work = mkdtempSync(join(tmp, 'work-'));
      execFileSync('mount', [
        '-t',
        'overlay',
        'overlay',
        '-o',
        `lowerdir=${l1}:${l0},upperdir=${up},workdir=${work}`,
        mnt,
      ]);
      try {
        expect(readFileSync(join(mnt, 'etc', 'keep'), 'utf8')).toBe('keep\n');
        expect(existsSync(join(mnt, 'etc', 'gone'))).toBe(false);
        expect(readdirSync(join(mnt, 'data')).sort()).toEqual(['new']);
        expect(readFileSync(join(mnt, 'data', 'new'), 'utf8')).toBe('new\n');
        // a mounted image is in use: rm refuses, prune keeps it
        await expect(s.remove(`${reg.host}/test/whiteouts:v1`)).rejects.toThrow(/its layers are mounted/);
        expect((await s.prune({ all: true })).removed).toEqual([]);
      } finally {
        execFileSync('umount', [mnt]);
      }
    },
  );

  it('two images sharing a base layer share one layer dir; a layer whose parent chain differs does not', async () => {
    const base = dirWith({ 'etc/base': 'base\n' });
    const a = join(tmp, `a-${randomBytes(3).toString('hex')}`);
    const b = join(tmp, `b-${randomBytes(3).toString('hex')}`);
    await writeOciLayout(a, 'v1', [base, dirWith({ 'app/a': 'a\n' })]);
    await writeOciLayout(b, 'v1', [base, dirWith({ 'app/b': 'b\n' })]);
    await pushImage(a, 'v1', reg, 'test/a:v1');
    await pushImage(b, 'v1', reg, 'test/b:v1');
    const s = store();
    const [ia, ib] = await Promise.all([s.pull(`${reg.host}/test/a:v1`), s.pull(`${reg.host}/test/b:v1`)]);
    expect(ia.layerDirs[0]).toBe(ib.layerDirs[0]);
    expect(ia.layerDirs[1]).not.toBe(ib.layerDirs[1]);
    expect(readdirSync(s.layerRoot).filter((n) => !n.startsWith('.'))).toHaveLength(3);

    // prune keeps used images, removes unused ones with their own blobs and layers
    s.markUsed(ia.id, 'ctr-1');
    const pruned = await s.prune({});
    expect(pruned.removed).toEqual([ib.id]);
    expect(pruned.freedBytes).toBeGreaterThan(0);
    expect(existsSync(ib.layerDirs[1] ?? '')).toBe(false);
    expect(existsSync(ia.layerDirs[0] ?? '')).toBe(true);
    expect(existsSync(ia.layerDirs[1] ?? '')).toBe(true);
    expect((await s.list()).map((i) => i.id)).toEqual([ia.id]);
    s.release(ia.id, 'ctr-1');
    await s.prune({ all: true });
    expect(await s.list()).toEqual([]);
    expect(readdirSync(s.blobDir)).toEqual([]);
    expect(readdirSync(s.layerRoot)).toEqual([]);
  });

  it('garbageCollect frees least recently used unused images when the disk is above the threshold', async () => {
    const layouts = ['x', 'y', 'z'];
    for (const n of layouts) {
      const l = join(tmp, `${n}-${randomBytes(3).toString('hex')}`);
      await writeOciLayout(l, 'v1', [dirWith({ [`f-${n}`]: randomBytes(2000).toString('hex') })]);
      await pushImage(l, 'v1', reg, `test/gc-${n}:v1`);
    }
    let used = 95;
    let clock = 1_000_000;
    const s = new LocalImageService({
      root: mkdtempSync(join(tmp, 'store-')),
      now: () => clock,
      diskUsage: async () => ({ totalBytes: 100, usedBytes: used }),
    });
    const imgs = [];
    for (const n of layouts) {
      imgs.push(await s.pull(`${reg.host}/test/gc-${n}:v1`));
      clock += 10_000;
    }
    const [x, y, z] = imgs as [(typeof imgs)[0], (typeof imgs)[0], (typeof imgs)[0]];
    s.markUsed(x.id, 'c1'); // x in use
    s.release(x.id, 'c1');
    s.markUsed(z.id, 'c2'); // z in use
    clock += 60_000;
    // below the high threshold: nothing happens
    used = 70;
    expect(
      (await s.garbageCollect({ highPercent: 85, lowPercent: 80, minUnusedSeconds: 0 })).removed,
    ).toEqual([]);
    used = 95;
    // y is the least recently used unused image (x was used after y was pulled)
    const gc1 = await s.garbageCollect({ highPercent: 85, lowPercent: 80, minUnusedSeconds: 0 });
    expect(gc1.removed).toEqual([y.id]);
    expect(gc1.freedBytes).toBeGreaterThan(0);
    const ids = (await s.list()).map((i) => i.id).sort();
    expect(ids).toEqual([x.id, z.id].sort());
    // minUnusedSeconds protects recently used images
    const gc2 = await s.garbageCollect({ highPercent: 85, lowPercent: 80, minUnusedSeconds: 3600 });
    expect(gc2.removed).toEqual([]);
  });

  it('resumes an interrupted layer download from the .partial file with a Range request', async () => {
    const layout = await buildBusyboxLayout(join(tmp, 'bb-resume'), '1');
    await pushImage(layout, '1', reg, 'test/resume:1');
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    const manifest = JSON.parse(
      readFileSync(join(layout, 'blobs', 'sha256', (index.manifests[0]?.digest ?? '').slice(7)), 'utf8'),
    ) as { layers: { digest: string; size: number }[] };
    const layer = manifest.layers[0];
    if (layer === undefined) throw new Error('no layer');
    const s = store();
    await s.init();
    const full = readFileSync(join(layout, 'blobs', 'sha256', layer.digest.slice(7)));
    const half = Math.floor(full.length / 2);
    writeFileSync(join(s.blobDir, `${layer.digest.slice(7)}.partial`), full.subarray(0, half));
    const progress: PullProgress[] = [];
    const img = await s.pull(`${reg.host}/test/resume:1`, { onProgress: (p) => progress.push(p) });
    const first = progress.find((p) => p.digest === layer.digest);
    expect(first?.downloaded).toBe(half);
    expect(existsSync(join(img.layerDirs[0] ?? '', 'bin', 'busybox'))).toBe(true);
  });
});
