// Imports: an OCI archive made by skopeo, an OCI layout dir, a hand-made `docker save` tarball.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../../testkit/eventually.js';
import { buildBusyboxLayout } from '../../testkit/images.js';
import { LocalImageService } from './store.js';
import { ImageError } from './types.js';

const tmp = mkdtempSync(join(tmpdir(), 'flotilla-image-import-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function store(): LocalImageService {
  return new LocalImageService({ root: mkdtempSync(join(tmp, 'store-')) });
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describe('import', () => {
  it('imports an OCI archive written by skopeo, under the name it carries', async () => {
    const layout = await buildBusyboxLayout(join(tmp, 'layout'), '1');
    const archive = join(tmp, 'bb.tar');
    execFileSync('skopeo', ['copy', '--quiet', `oci:${layout}:1`, `oci-archive:${archive}:busybox:imported`]);
    const s = store();
    const [img, ...rest] = await s.import(archive);
    expect(rest).toEqual([]);
    expect(img?.repoTags).toEqual(['docker.io/library/busybox:imported']);
    expect(existsSync(join(img?.layerDirs[0] ?? '', 'bin', 'busybox'))).toBe(true);
    // a pod asking for busybox:imported with IfNotPresent/Never finds it without a registry
    expect((await s.ensureImage('busybox:imported', 'Never')).id).toBe(img?.id);
    // the OCI layout dir itself, with a bare tag annotation and --tag
    const [fromDir] = await s.import(layout, { tag: 'example.com/bb:dir' });
    expect(fromDir?.id).toBe(img?.id);
    expect((await s.get('example.com/bb:dir'))?.repoTags.sort()).toEqual(
      ['docker.io/library/busybox:imported', 'example.com/bb:dir'].sort(),
    );
  });

  it('imports a docker save tarball (manifest.json, config, uncompressed layer tars)', async () => {
    const work = mkdtempSync(join(tmp, 'docker-save-'));
    const rootfs = join(work, 'rootfs');
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    writeFileSync(join(rootfs, 'etc', 'hello'), 'from docker save\n');
    const out = join(work, 'out');
    mkdirSync(join(out, 'l1'), { recursive: true });
    execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', join(out, 'l1', 'layer.tar'), '.']);
    const layer = readFileSync(join(out, 'l1', 'layer.tar'));
    const config = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['cat', '/etc/hello'] },
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] },
    });
    writeFileSync(join(out, `${sha(config)}.json`), config);
    writeFileSync(
      join(out, 'manifest.json'),
      JSON.stringify([
        { Config: `${sha(config)}.json`, RepoTags: ['hello:saved'], Layers: ['l1/layer.tar'] },
      ]),
    );
    const tarball = join(work, 'saved.tar');
    execFileSync('tar', ['-C', out, '-cf', tarball, '.']);
    const s = store();
    const [img] = await s.import(tarball);
    expect(img?.id).toBe(`sha256:${sha(config)}`);
    expect(img?.repoTags).toEqual(['docker.io/library/hello:saved']);
    expect(img?.config.Cmd).toEqual(['cat', '/etc/hello']);
    expect(readFileSync(join(img?.layerDirs[0] ?? '', 'etc', 'hello'), 'utf8')).toBe('from docker save\n');
    // the temporary extraction is gone
    expect(readdirSync(join(s.layerRoot, '..', 'tmp'))).toEqual([]);
  });

  it("an image the CLI imports is seen by the running agent, and neither loses the other's updates", async () => {
    const root = mkdtempSync(join(tmp, 'shared-'));
    const agent = new LocalImageService({ root });
    await agent.init();
    expect(await agent.list()).toEqual([]);
    const layout = await buildBusyboxLayout(join(tmp, 'layout-shared'), '1');
    const cli = new LocalImageService({ root }); // a second process on the same store
    const [img] = await cli.import(layout, { tag: 'busybox:shared' });
    expect((await agent.ensureImage('busybox:shared', 'Never')).id).toBe(img?.id);
    agent.markUsed(img?.id ?? '', 'ctr-1');
    await agent.import(layout, { tag: 'busybox:second' });
    expect((await cli.get('busybox:second'))?.id).toBe(img?.id);
    expect((await cli.get('busybox:shared'))?.repoTags.sort()).toEqual([
      'docker.io/library/busybox:second',
      'docker.io/library/busybox:shared',
    ]);
  });

  it('records a burst of image uses in memory at once and in the index once, shortly after', async () => {
    const root = mkdtempSync(join(tmp, 'store-'));
    let clock = 1_000_000;
    const agent = new LocalImageService({ root, now: () => clock, lastUsedFlushMs: 200 });
    const layout = await buildBusyboxLayout(join(tmp, 'layout-used'), '1');
    const [img] = await agent.import(layout, { tag: 'busybox:used' });
    const id = img?.id ?? '';
    const index = join(root, 'index.json');
    const before = readFileSync(index, 'utf8');
    for (let i = 0; i < 20; i++) {
      clock += 1000;
      agent.markUsed(id, `ctr-${i}`);
    }
    // This process knows at once; the file has not been rewritten for each use.
    expect((await agent.get(id))?.lastUsed?.getTime()).toBe(clock);
    expect(readFileSync(index, 'utf8')).toBe(before);
    // Another process (the CLI) reads the newest use once it has been written.
    const cli = new LocalImageService({ root });
    await eventually(async () => expect((await cli.get(id))?.lastUsed?.getTime()).toBe(clock), 5_000);
  });

  it('refuses a file that is no image archive, naming what it expected', async () => {
    const junk = join(tmp, 'junk.tar');
    const d = mkdtempSync(join(tmp, 'junk-'));
    writeFileSync(join(d, 'readme'), 'hi');
    execFileSync('tar', ['-C', d, '-cf', junk, '.']);
    const err = await store()
      .import(junk)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).reason).toBe('Invalid');
    expect((err as ImageError).message).toMatch(/neither an OCI layout .* nor a docker save tarball/);
  });
});
