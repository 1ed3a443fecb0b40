// `flotilla image ls|pull|rm|import|prune` in-process on a temp data dir, against a real registry.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerImage } from '../../cli/commands/image.js';
import { isCliError, memoryIO } from '../../cli/io.js';
import { buildBusyboxLayout, pushImage } from '../../testkit/images.js';
import { startRegistry, type RegistryInstance } from '../../testkit/registry.js';

const tmp = mkdtempSync(join(tmpdir(), 'flotilla-image-cli-'));
const dataDir = join(tmp, 'data');
let reg: RegistryInstance;
let layout: string;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIO();
  const program = new Command('flotilla').exitOverride().configureOutput({
    writeOut: (s) => void io.stdout.write(s),
    writeErr: (s) => void io.stderr.write(s),
  });
  registerImage(program, io);
  let code = 0;
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) code = err.exitCode;
    else if (isCliError(err)) {
      code = err.exitCode;
      io.stderr.write(`error: ${err.message}\n`);
    } else throw err;
  }
  return { code, out: io.out(), err: io.err() };
}

beforeAll(async () => {
  reg = await startRegistry();
  layout = await buildBusyboxLayout(join(tmp, 'layout'), '1');
  await pushImage(layout, '1', reg, 'tools/busybox:1');
}, 180_000);

afterAll(async () => {
  await reg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('flotilla image', () => {
  it('pull prints a line per layer, ls shows it as crictl does, rm removes it', async () => {
    const ref = `${reg.host}/tools/busybox:1`;
    const pull = await cli('image', 'pull', ref, '--data-dir', dataDir);
    expect(pull.code).toBe(0);
    expect(pull.out).toMatch(/^[a-f0-9]{12} downloading 0B\/[\d.]+[kM]B$/m);
    expect(pull.out).toMatch(/^[a-f0-9]{12} done [\d.]+[kM]B$/m);
    expect(pull.out).toMatch(/Image is up to date for sha256:[a-f0-9]{64}/);

    const ls = await cli('image', 'ls', '--data-dir', dataDir);
    const lines = ls.out.trim().split('\n');
    expect(lines[0]).toMatch(/^IMAGE\s+TAG\s+IMAGE ID\s+SIZE$/);
    expect(lines[1]).toMatch(new RegExp(`^${reg.host}/tools/busybox\\s+1\\s+[a-f0-9]{12}\\s+[\\d.]+[kM]B$`));
    const json = JSON.parse((await cli('image', 'ls', '-o', 'json', '--data-dir', dataDir)).out) as {
      images: { repoTags: string[] }[];
    };
    expect(json.images[0]?.repoTags).toEqual([ref]);
    expect((await cli('image', 'ls', '-o', 'yaml', '--data-dir', dataDir)).out).toContain('repoTags:');

    const rm = await cli('image', 'rm', ref, '--data-dir', dataDir);
    expect(rm.code).toBe(0);
    expect((await cli('image', 'ls', '-q', '--data-dir', dataDir)).out).toBe('');
  });

  it('import and prune', async () => {
    const archive = join(tmp, 'bb.tar');
    execFileSync('skopeo', ['copy', '--quiet', `oci:${layout}:1`, `oci-archive:${archive}:busybox:cli`]);
    const imp = await cli('image', 'import', archive, '--data-dir', dataDir);
    expect(imp.code).toBe(0);
    expect(imp.out).toMatch(/^Imported docker\.io\/library\/busybox:cli \(sha256:[a-f0-9]{64}\)$/m);
    const prune = await cli('image', 'prune', '--data-dir', dataDir);
    expect(prune.out).toMatch(/^Deleted: sha256:[a-f0-9]{64}$/m);
    expect(prune.out).toMatch(/^Total reclaimed space: [\d.]+[kM]B$/m);
    expect((await cli('image', 'ls', '-q', '--data-dir', dataDir)).out).toBe('');
  });

  it('imports the archive scripts/make-busybox-image.sh builds: busybox:TAG with sh and httpd', async () => {
    const archive = join(tmp, 'script.tar');
    const script = join(import.meta.dirname, '..', '..', '..', 'scripts', 'make-busybox-image.sh');
    execFileSync(script, [archive, 'scripted'], { stdio: 'pipe' });
    const dd = join(tmp, 'data-script');
    const imp = await cli('image', 'import', archive, '--data-dir', dd);
    expect(imp.out).toMatch(/^Imported docker\.io\/library\/busybox:scripted /m);
    const [img] = (
      JSON.parse((await cli('image', 'ls', '-o', 'json', '--data-dir', dd)).out) as {
        images: { config: { Cmd: string[] }; layerDirs: string[] }[];
      }
    ).images;
    expect(img?.config.Cmd).toEqual(['sh']);
    const rootfs = img?.layerDirs[0] ?? '';
    expect(readlinkSync(join(rootfs, 'bin', 'httpd'))).toBe('/bin/busybox');
    expect(readFileSync(join(rootfs, 'etc', 'group'), 'utf8')).toContain('nobody:x:65534:');
    expect(execFileSync(join(rootfs, 'bin', 'busybox'), ['echo', 'ok'], { encoding: 'utf8' })).toBe('ok\n');
  });

  it('failures exit 1 with a message saying what to do; --help works on each verb', async () => {
    const nf = await cli('image', 'pull', `${reg.host}/tools/missing:1`, '--data-dir', dataDir);
    expect(nf.code).toBe(1);
    expect(nf.err).toMatch(/not found in registry .*check the repository name and tag/);
    const rm = await cli('image', 'rm', 'nothing:here', '--data-dir', dataDir);
    expect(rm.code).toBe(1);
    expect(rm.err).toMatch(/no such image "nothing:here" \(see `flotilla image ls`\)/);
    expect((await cli('image', 'ls', '-o', 'wide', '--data-dir', dataDir)).code).toBe(2);
    for (const verb of ['ls', 'pull', 'rm', 'import', 'prune']) {
      const help = await cli('image', verb, '--help');
      expect(help.code).toBe(0);
      expect(help.out).toContain(`Usage: flotilla image ${verb}`);
    }
  });
});
