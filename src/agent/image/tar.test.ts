import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { extractTar } from './tar.js';
import { ImageError } from './types.js';

const tmp = mkdtempSync(join(tmpdir(), 'flotilla-tar-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface E {
  name: string;
  type?: '0' | '1' | '2' | '5' | 'x';
  body?: string;
  link?: string;
  mode?: number;
  mtime?: number;
}

function header(e: E, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number): void => void h.write(s.slice(0, len), off, 'utf8');
  const oct = (n: number, off: number, len: number): void =>
    put(n.toString(8).padStart(len - 1, '0'), off, len - 1);
  put(e.name, 0, 100);
  oct(e.mode ?? 0o644, 100, 8);
  oct(0, 108, 8);
  oct(0, 116, 8);
  oct(size, 124, 12);
  oct(e.mtime ?? 1_700_000_000, 136, 12);
  h.write(e.type ?? '0', 156);
  put(e.link ?? '', 157, 100);
  h.write('ustar\u000000', 257, 'binary');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8);
  return h;
}

function tar(entries: E[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    parts.push(header(e, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function paxRecord(key: string, value: string): string {
  const base = ` ${key}=${value}\n`;
  let len = base.length + 1;
  while (`${len}${base}`.length !== len) len = `${len}${base}`.length;
  return `${len}${base}`;
}

async function extract(entries: E[], gzip = false): Promise<{ dir: string; err?: ImageError }> {
  const file = join(mkdtempSync(join(tmp, 'in-')), 'layer.tar');
  writeFileSync(file, gzip ? gzipSync(tar(entries)) : tar(entries));
  const dir = mkdtempSync(join(tmp, 'out-'));
  try {
    await extractTar(file, dir, { whiteouts: true, owners: false });
    return { dir };
  } catch (err) {
    if (err instanceof ImageError) return { dir, err };
    throw err;
  }
}

describe('extractTar', () => {
  it('writes files, dirs, symlinks, hard links, modes and mtimes (gzip too)', async () => {
    const { dir, err } = await extract(
      [
        { name: 'etc/', type: '5', mode: 0o755, mtime: 1_600_000_000 },
        { name: 'etc/conf', body: 'x=1\n', mode: 0o640, mtime: 1_600_000_001 },
        { name: 'etc/link', type: '2', link: '/etc/conf' },
        { name: 'etc/hard', type: '1', link: 'etc/conf' },
        { name: './bin/tool', body: '#!/bin/sh\n', mode: 0o4755 },
      ],
      true,
    );
    expect(err).toBeUndefined();
    expect(readFileSync(join(dir, 'etc/conf'), 'utf8')).toBe('x=1\n');
    expect(statSync(join(dir, 'etc/conf')).mode & 0o7777).toBe(0o640);
    expect(statSync(join(dir, 'etc/conf')).mtimeMs).toBe(1_600_000_001_000);
    expect(statSync(join(dir, 'etc')).mtimeMs).toBe(1_600_000_000_000);
    expect(readlinkSync(join(dir, 'etc/link'))).toBe('/etc/conf');
    expect(statSync(join(dir, 'etc/hard')).ino).toBe(statSync(join(dir, 'etc/conf')).ino);
    expect(statSync(join(dir, 'bin/tool')).mode & 0o7777).toBe(0o4755);
  });

  it('reads PAX long names', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(130)}`;
    const { dir, err } = await extract([
      { name: 'PaxHeaders/x', type: 'x', body: paxRecord('path', long) },
      { name: 'ignored', body: 'long\n' },
    ]);
    expect(err).toBeUndefined();
    expect(readFileSync(join(dir, long), 'utf8')).toBe('long\n');
  });

  it('refuses paths escaping the layer with ..', async () => {
    const { err } = await extract([{ name: '../../evil', body: 'x' }]);
    expect(err?.reason).toBe('Invalid');
    expect(err?.message).toMatch(/escapes the layer directory/);
    expect(existsSync(join(tmp, 'evil'))).toBe(false);
  });

  it('never follows a symlink while extracting', async () => {
    const outside = mkdtempSync(join(tmp, 'outside-'));
    const { err } = await extract([
      { name: 'escape', type: '2', link: outside },
      { name: 'escape/pwned', body: 'x' },
    ]);
    expect(err?.message).toMatch(/goes through "escape", which is not a directory/);
    expect(existsSync(join(outside, 'pwned'))).toBe(false);
    const { err: err2 } = await extract([{ name: 'h', type: '1', link: '../../etc/passwd' }]);
    expect(err2?.message).toMatch(/escapes the layer directory/);
  });

  it('refuses zstd layers with a clear message', async () => {
    const file = join(tmp, 'zstd.tar.zst');
    writeFileSync(file, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]));
    const err = await extractTar(file, mkdtempSync(join(tmp, 'z-')), {
      whiteouts: true,
      owners: false,
    }).catch((e: unknown) => e);
    expect((err as ImageError).message).toBe(
      'zstd layers are not supported (push the image with gzip layers)',
    );
  });

  it('a later entry replaces an earlier one of the same name', async () => {
    const { dir } = await extract([
      { name: 'f', body: 'one' },
      { name: 'f', type: '2', link: 'target' },
    ]);
    expect(lstatSync(join(dir, 'f')).isSymbolicLink()).toBe(true);
  });
});
