// A streaming tar reader (ustar, GNU long names, PAX headers) and a safe extractor for image layers:
// paths never escape the target, symlinks are never followed while extracting, whiteouts become
// overlayfs native whiteouts (0/0 character devices and `trusted.overlay.opaque=y`).
import { execFile } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lchown, link, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import { ImageError } from './types.js';

const execFileP = promisify(execFile);

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  path: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** Reads exact byte counts from an async stream of chunks. */
class ChunkReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  private ended = false;

  constructor(source: AsyncIterable<Buffer | string>) {
    const inner = source[Symbol.asyncIterator]();
    this.it = {
      next: async () => {
        const r = await inner.next();
        if (r.done === true) return { done: true, value: undefined };
        return { done: false, value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value };
      },
    };
  }

  /** Up to n bytes (fewer only at the end of the stream). */
  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n && !this.ended) {
      const r = await this.it.next();
      if (r.done === true) this.ended = true;
      else this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  /** Streams n bytes to `sink` chunk by chunk. */
  async pipe(n: number, sink: (chunk: Buffer) => Promise<void>): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0) {
        if (this.ended) throw new ImageError('Invalid', 'tar archive is truncated');
        const r = await this.it.next();
        if (r.done === true) {
          this.ended = true;
          continue;
        }
        this.buf = r.value;
      }
      const take = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(take.length);
      left -= take.length;
      await sink(take);
    }
  }

  async skip(n: number): Promise<void> {
    await this.pipe(n, async () => undefined);
  }

  /** Drains the rest (so a hashing tap sees every byte). */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    for (;;) {
      const r = await this.it.next();
      if (r.done === true) break;
    }
    this.ended = true;
  }
}

function cstr(b: Buffer, start: number, len: number): string {
  const slice = b.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return (nul >= 0 ? slice.subarray(0, nul) : slice).toString('utf8');
}

function num(b: Buffer, start: number, len: number): number {
  const first = b[start] ?? 0;
  if ((first & 0x80) !== 0) {
    // base-256 (GNU) for large values
    let v = first & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + (b[start + i] ?? 0);
    return v;
  }
  const s = cstr(b, start, len).trim();
  if (s === '') return 0;
  const v = parseInt(s, 8);
  if (Number.isNaN(v)) throw new ImageError('Invalid', `tar header has a bad number "${s}"`);
  return v;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.subarray(pos, space).toString('ascii'), 10);
    if (!(len > 0)) break;
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

const typeOf: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/**
 * Calls `onEntry` for each entry; the callback consumes a regular file's content through `body`
 * (chunks in order) or ignores it (it is skipped).
 */
export async function readTar(
  source: AsyncIterable<Buffer | string>,
  onEntry: (
    entry: TarEntry,
    body: (sink: (chunk: Buffer) => Promise<void>) => Promise<void>,
  ) => Promise<void>,
): Promise<void> {
  const r = new ChunkReader(source);
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  let globalPax: Record<string, string> = {};
  for (;;) {
    const h = await r.read(512);
    if (h.length === 0) break; // tolerate a missing end-of-archive marker
    if (h.length < 512) throw new ImageError('Invalid', 'tar archive is truncated');
    if (h.every((x) => x === 0)) {
      await r.drain();
      break;
    }
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] ?? 0);
    const stored = num(h, 148, 8);
    if (stored !== sum) throw new ImageError('Invalid', 'tar header checksum mismatch (not a tar archive?)');
    const flag = String.fromCharCode(h[156] ?? 0);
    let size = num(h, 124, 12);
    const padded = (n: number): number => Math.ceil(n / 512) * 512;
    if (flag === 'L' || flag === 'K' || flag === 'x' || flag === 'g') {
      const data = await r.read(padded(size));
      const content = data.subarray(0, size);
      if (flag === 'L') longName = cstr(content, 0, content.length);
      else if (flag === 'K') longLink = cstr(content, 0, content.length);
      else if (flag === 'x') pax = parsePax(content);
      else globalPax = { ...globalPax, ...parsePax(content) };
      continue;
    }
    const attrs = { ...globalPax, ...pax };
    const magic = h.subarray(257, 262).toString('ascii');
    const prefix = magic === 'ustar' ? cstr(h, 345, 155) : '';
    let path = longName ?? (prefix !== '' ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
    if (attrs['path'] !== undefined) path = attrs['path'];
    let linkname = longLink ?? cstr(h, 157, 100);
    if (attrs['linkpath'] !== undefined) linkname = attrs['linkpath'];
    if (attrs['size'] !== undefined) size = Number(attrs['size']);
    const type = typeOf[flag] ?? (path.endsWith('/') ? 'dir' : undefined);
    longName = undefined;
    longLink = undefined;
    pax = {};
    const entry: TarEntry = {
      path,
      type: type ?? 'file',
      mode: num(h, 100, 8) & 0o7777,
      uid: attrs['uid'] !== undefined ? Number(attrs['uid']) : num(h, 108, 8),
      gid: attrs['gid'] !== undefined ? Number(attrs['gid']) : num(h, 116, 8),
      size: type === 'file' || type === undefined ? size : 0,
      mtime: attrs['mtime'] !== undefined ? Number(attrs['mtime']) : num(h, 136, 12),
      linkname,
      devmajor: num(h, 329, 8),
      devminor: num(h, 337, 8),
    };
    let consumed = false;
    const dataSize = size;
    if (type === undefined) {
      // unknown entry type (e.g. GNU sparse): skip its data
      await r.skip(padded(dataSize));
      continue;
    }
    await onEntry(entry, async (sink) => {
      consumed = true;
      await r.pipe(entry.size, sink);
    });
    if (!consumed) await r.skip(dataSize);
    await r.skip(padded(dataSize) - dataSize);
  }
}

/** Opens a possibly gzip-compressed file as a stream; zstd is refused with a clear error. */
export async function openMaybeCompressed(
  file: string,
  onRaw?: (chunk: Buffer) => void,
): Promise<{ stream: AsyncIterable<Buffer>; compressed: boolean }> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(4);
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    throw new ImageError('Invalid', 'zstd layers are not supported (push the image with gzip layers)');
  const raw = createReadStream(file);
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = createGunzip();
    raw.on('error', (err) => gunzip.destroy(err));
    raw.pipe(gunzip);
    return { stream: tap(gunzip, onRaw), compressed: true };
  }
  return { stream: tap(raw, onRaw), compressed: false };
}

async function* tapIter(s: AsyncIterable<Buffer>, onChunk: (c: Buffer) => void): AsyncIterable<Buffer> {
  for await (const chunk of s) {
    onChunk(chunk);
    yield chunk;
  }
}

async function* tap(s: Readable, onChunk?: (c: Buffer) => void): AsyncIterable<Buffer> {
  for await (const chunk of s) {
    const b = chunk as Buffer;
    onChunk?.(b);
    yield b;
  }
}

export interface ExtractOptions {
  /** Convert `.wh.` files to overlayfs whiteouts (image layers); otherwise extract them as files. */
  whiteouts: boolean;
  /** Apply uid/gid and create device nodes (only when running as root). */
  owners: boolean;
}

/** Normalises a member path; throws when it would escape the extraction root. */
export function safeRelative(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new ImageError('Invalid', `tar member "${p}" escapes the layer directory`);
    parts.push(part);
  }
  return parts.join('/');
}

export interface ExtractResult {
  /** sha256 of the uncompressed tar stream (`sha256:<hex>`, the diff id). */
  diffId: string;
  /** Bytes of regular file content written. */
  bytes: number;
}

/**
 * Extracts a tar (gzip or plain) into `dest`, which must be a fresh empty directory. Never follows
 * a symlink: every parent of an entry must be a directory created by this extraction.
 */
export async function extractTar(file: string, dest: string, opts: ExtractOptions): Promise<ExtractResult> {
  const hash: Hash = createHash('sha256');
  const { stream } = await openMaybeCompressed(file);
  const hashed = tapIter(stream, (c) => hash.update(c));
  const kinds = new Map<string, 'dir' | 'other'>([['', 'dir']]);
  const dirTimes: { path: string; mtime: number }[] = [];
  const opaque: string[] = [];
  let bytes = 0;

  const ensureParents = async (rel: string): Promise<void> => {
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur === '' ? (parts[i] ?? '') : `${cur}/${parts[i] ?? ''}`;
      const k = kinds.get(cur);
      if (k === 'other')
        throw new ImageError(
          'Invalid',
          `tar member "${rel}" goes through "${cur}", which is not a directory`,
        );
      if (k === undefined) {
        await mkdir(join(dest, cur), { mode: 0o755 });
        kinds.set(cur, 'dir');
      }
    }
  };
  const removeExisting = async (rel: string, keepDir: boolean): Promise<void> => {
    const k = kinds.get(rel);
    if (k === undefined) return;
    if (k === 'dir' && keepDir) return;
    await rm(join(dest, rel), { recursive: true, force: true });
    for (const key of [...kinds.keys()]) if (key === rel || key.startsWith(`${rel}/`)) kinds.delete(key);
  };
  const meta = async (abs: string, e: TarEntry, isLink: boolean): Promise<void> => {
    if (opts.owners) await lchown(abs, e.uid, e.gid);
    if (!isLink) await chmod(abs, e.mode);
    const t = new Date(e.mtime * 1000);
    if (isLink) await lutimes(abs, t, t);
    else await utimes(abs, t, t);
  };

  await readTar(hashed, async (e, body) => {
    const rel = safeRelative(e.path);
    if (rel === '') {
      if (e.type === 'dir') dirTimes.push({ path: dest, mtime: e.mtime });
      return;
    }
    await ensureParents(rel);
    const slash = rel.lastIndexOf('/');
    const dir = slash >= 0 ? rel.slice(0, slash) : '';
    const base = slash >= 0 ? rel.slice(slash + 1) : rel;
    if (opts.whiteouts && base.startsWith('.wh.')) {
      if (base === '.wh..wh..opq') {
        opaque.push(dir);
        return;
      }
      const target = dir === '' ? base.slice(4) : `${dir}/${base.slice(4)}`;
      safeRelative(target);
      if (base.slice(4) === '') throw new ImageError('Invalid', `bad whiteout "${e.path}"`);
      await removeExisting(target, false);
      await execFileP('mknod', ['-m', '0', join(dest, target), 'c', '0', '0']);
      kinds.set(target, 'other');
      return;
    }
    const abs = join(dest, rel);
    switch (e.type) {
      case 'dir': {
        await removeExisting(rel, true);
        if (kinds.get(rel) !== 'dir') await mkdir(abs, { mode: 0o700 });
        kinds.set(rel, 'dir');
        if (opts.owners) await lchown(abs, e.uid, e.gid);
        await chmod(abs, e.mode);
        dirTimes.push({ path: abs, mtime: e.mtime });
        return;
      }
      case 'file': {
        await removeExisting(rel, false);
        const fh = await open(abs, 'wx', 0o600);
        try {
          await body(async (chunk) => {
            await fh.write(chunk);
          });
        } finally {
          await fh.close();
        }
        bytes += e.size;
        kinds.set(rel, 'other');
        await meta(abs, e, false);
        return;
      }
      case 'symlink': {
        await removeExisting(rel, false);
        await symlink(e.linkname, abs);
        kinds.set(rel, 'other');
        await meta(abs, e, true);
        return;
      }
      case 'hardlink': {
        const target = safeRelative(e.linkname);
        if (kinds.get(target) !== 'other')
          throw new ImageError(
            'Invalid',
            `hard link "${e.path}" points at "${e.linkname}", not a file in this layer`,
          );
        await removeExisting(rel, false);
        await link(join(dest, target), abs);
        kinds.set(rel, 'other');
        return;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        if (e.type !== 'fifo' && !opts.owners) return; // device nodes need root
        await removeExisting(rel, false);
        const args =
          e.type === 'fifo'
            ? [abs, 'p']
            : [abs, e.type === 'char' ? 'c' : 'b', String(e.devmajor), String(e.devminor)];
        await execFileP('mknod', ['-m', (e.mode & 0o777).toString(8), ...args]);
        kinds.set(rel, 'other');
        await meta(abs, e, false);
        return;
      }
    }
  });
  for (const dir of opaque) {
    if (kinds.get(dir) === undefined) {
      await mkdir(join(dest, dir), { recursive: true, mode: 0o755 });
      kinds.set(dir, 'dir');
    }
    await setOpaque(join(dest, dir));
  }
  for (const { path, mtime } of dirTimes.reverse()) {
    const t = new Date(mtime * 1000);
    await utimes(path, t, t);
  }
  return { diffId: `sha256:${hash.digest('hex')}`, bytes };
}

/** Marks a directory opaque for overlayfs. Node cannot set xattrs: `setfattr` (package `attr`). */
export async function setOpaque(dir: string): Promise<void> {
  try {
    await execFileP('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', dir]);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT')
      throw new ImageError(
        'Invalid',
        'setfattr not found: install the "attr" package (apt-get install attr) to unpack layers with opaque directories',
      );
    throw err;
  }
}
