// `flotilla image ls|pull|rm|import|prune`: the node's local image store, used directly (no API
// server): `<data-dir>/agent/images`, the directory the agent uses.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultDataDir } from '../../api/client/kubeconfig.js';
import { parseReference, repositoryName } from '../../agent/image/reference.js';
import { LocalImageService } from '../../agent/image/store.js';
import {
  ImageError,
  type ImageInfo,
  type PullProgress,
  type RegistryCredential,
} from '../../agent/image/types.js';
import { failed, usageError, type CliIO } from '../io.js';
import { toJson, toYaml } from '../printers/output.js';
import { formatTable } from '../printers/table.js';

interface StoreOptions {
  dataDir?: string;
}

export function imageStoreRoot(dataDir: string | undefined, cwd: string): string {
  return join(resolve(cwd, dataDir ?? defaultDataDir), 'agent', 'images');
}

/** Decimal sizes as crictl prints them: 1.2MB, 532kB, 12B. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? String(v) : v.toPrecision(3).replace(/\.?0+$/, '')}${units[i] ?? ''}`;
}

function imageErrorHint(err: ImageError): string {
  switch (err.reason) {
    case 'Unauthorized':
      return ' (pass --creds USER:PASSWORD)';
    case 'Unreachable':
      return /certificate|TLS|SSL|EPROTO/i.test(err.message)
        ? ' (a registry with a private CA needs --ca-file; one serving plain HTTP needs --insecure-registry HOST)'
        : '';
    case 'NotFound':
    case 'DigestMismatch':
    case 'Invalid':
    case 'NotPresent':
      return '';
  }
}

async function withStore<T>(
  io: CliIO,
  opts: StoreOptions & { insecureRegistry?: string[]; caFile?: string[] },
  fn: (s: LocalImageService) => Promise<T>,
): Promise<T> {
  const root = imageStoreRoot(opts.dataDir, io.cwd);
  const caPem = (opts.caFile ?? []).map((f) => {
    try {
      return readFileSync(resolve(io.cwd, f), 'utf8');
    } catch (err) {
      throw failed(`cannot read --ca-file ${f}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  const store = new LocalImageService({
    root,
    ...(opts.insecureRegistry !== undefined ? { insecureRegistries: opts.insecureRegistry } : {}),
    ...(caPem.length > 0 ? { caPem } : {}),
  });
  try {
    await store.init();
    return await fn(store);
  } catch (err) {
    if (err instanceof ImageError) throw failed(`${err.message}${imageErrorHint(err)}`, err);
    const code = (err as { code?: unknown }).code;
    if (code === 'EACCES' || code === 'EPERM')
      throw failed(
        `cannot use the image store ${root}: permission denied (run as root, or pass --data-dir)`,
        err,
      );
    throw err;
  }
}

function rowsOf(
  images: ImageInfo[],
): { image: string; tag: string; id: string; size: string; info: ImageInfo }[] {
  const rows = [];
  for (const img of images) {
    const refs = img.repoTags.length > 0 ? img.repoTags : [];
    if (refs.length === 0) {
      const repo = img.repoDigests[0]?.split('@')[0] ?? '<none>';
      rows.push({
        image: repo,
        tag: '<none>',
        id: img.id.slice(7, 19),
        size: humanSize(img.size),
        info: img,
      });
    }
    for (const ref of refs) {
      const r = parseReference(ref);
      rows.push({
        image: repositoryName(r),
        tag: r.tag ?? '<none>',
        id: img.id.slice(7, 19),
        size: humanSize(img.size),
        info: img,
      });
    }
  }
  return rows.sort((a, b) => a.image.localeCompare(b.image) || a.tag.localeCompare(b.tag));
}

function serialise(img: ImageInfo): Record<string, unknown> {
  return {
    id: img.id,
    repoTags: img.repoTags,
    repoDigests: img.repoDigests,
    size: img.size,
    os: img.os,
    architecture: img.architecture,
    config: img.config,
    layerDirs: img.layerDirs,
    ...(img.lastUsed !== undefined ? { lastUsed: img.lastUsed.toISOString() } : {}),
  };
}

export async function runImageLs(
  io: CliIO,
  opts: StoreOptions & { output?: string; quiet?: boolean },
): Promise<void> {
  const output = opts.output ?? 'table';
  if (!['table', 'json', 'yaml'].includes(output))
    throw usageError(`--output must be table, json or yaml, got "${output}"`);
  const images = await withStore(io, opts, (s) => s.list());
  if (opts.quiet === true) {
    for (const img of images) io.stdout.write(`${img.id}\n`);
    return;
  }
  if (output === 'json' || output === 'yaml') {
    const value = { images: images.map(serialise) };
    io.stdout.write(output === 'json' ? toJson(value) : toYaml(value));
    return;
  }
  const rows = rowsOf(images).map((r) => [r.image, r.tag, r.id, r.size]);
  io.stdout.write(formatTable([['IMAGE', 'TAG', 'IMAGE ID', 'SIZE'], ...rows]));
}

/** Prints per-layer progress: in place on a terminal, a line per start and finish otherwise. */
export class PullProgressPrinter {
  private readonly order: string[] = [];
  private readonly state = new Map<string, PullProgress>();
  private printedLines = 0;
  private lastDraw = 0;

  constructor(
    private readonly io: CliIO,
    private readonly tty: boolean,
  ) {}

  private line(p: PullProgress): string {
    const id = p.digest.replace(/^sha256:/, '').slice(0, 12);
    return p.done
      ? `${id} done ${humanSize(p.total)}`
      : `${id} downloading ${humanSize(p.downloaded)}/${humanSize(p.total)}`;
  }

  update(p: PullProgress): void {
    const prev = this.state.get(p.digest);
    if (prev === undefined) this.order.push(p.digest);
    if (prev?.done === true) return;
    this.state.set(p.digest, p);
    if (!this.tty) {
      if (prev === undefined || p.done) this.io.stdout.write(`${this.line(p)}\n`);
      return;
    }
    const now = Date.now();
    if (!p.done && prev !== undefined && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.draw();
  }

  private draw(): void {
    let text = this.printedLines > 0 ? `\x1b[${this.printedLines}A` : '';
    for (const d of this.order) {
      const p = this.state.get(d);
      if (p !== undefined) text += `\x1b[2K${this.line(p)}\n`;
    }
    this.printedLines = this.order.length;
    this.io.stdout.write(text);
  }

  finish(): void {
    if (this.tty && this.order.length > 0) this.draw();
  }
}

function parseCreds(value: string | undefined, registry: string): RegistryCredential[] | undefined {
  if (value === undefined) return undefined;
  const colon = value.indexOf(':');
  if (colon <= 0) throw usageError('--creds must be USERNAME:PASSWORD');
  return [{ registry, username: value.slice(0, colon), password: value.slice(colon + 1) }];
}

export async function runImagePull(
  io: CliIO,
  ref: string,
  opts: StoreOptions & { creds?: string; insecureRegistry?: string[]; caFile?: string[] },
): Promise<void> {
  let registry: string;
  try {
    registry = parseReference(ref).registry;
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
  const credentials = parseCreds(opts.creds, registry);
  const tty = (io.stdout as { isTTY?: boolean }).isTTY === true;
  const printer = new PullProgressPrinter(io, tty);
  const img = await withStore(io, opts, (s) =>
    s.pull(ref, {
      onProgress: (p) => printer.update(p),
      signal: io.signal,
      ...(credentials !== undefined ? { credentials } : {}),
    }),
  );
  printer.finish();
  io.stdout.write(`Image is up to date for ${img.id}\n`);
}

export async function runImageRm(
  io: CliIO,
  refs: string[],
  opts: StoreOptions & { force?: boolean },
): Promise<void> {
  if (refs.length === 0) throw usageError('give at least one image (reference or id) to remove');
  await withStore(io, opts, async (s) => {
    for (const ref of refs) {
      const img = await s.get(ref);
      if (img === undefined)
        throw new ImageError('NotFound', `no such image "${ref}" (see \`flotilla image ls\`)`);
      await s.remove(ref, { force: opts.force === true });
      io.stdout.write(`Deleted: ${ref}\n`);
    }
  });
}

export async function runImageImport(
  io: CliIO,
  path: string,
  opts: StoreOptions & { tag?: string },
): Promise<void> {
  const images = await withStore(io, opts, (s) =>
    s.import(resolve(io.cwd, path), opts.tag !== undefined ? { tag: opts.tag } : {}),
  );
  for (const img of images)
    io.stdout.write(
      `Imported ${img.repoTags.length > 0 ? img.repoTags.join(', ') : '<untagged>'} (${img.id})\n`,
    );
}

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)?$/.exec(text.trim());
  if (m === null) throw usageError(`--min-age must be a duration such as 90s, 30m, 12h or 7d, got "${text}"`);
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return n * unit;
}

export async function runImagePrune(io: CliIO, opts: StoreOptions & { minAge?: string }): Promise<void> {
  const minUnusedSeconds = opts.minAge !== undefined ? parseDuration(opts.minAge) : 0;
  const res = await withStore(io, opts, (s) => s.prune({ minUnusedSeconds }));
  for (const id of res.removed) io.stdout.write(`Deleted: ${id}\n`);
  io.stdout.write(`Total reclaimed space: ${humanSize(res.freedBytes)}\n`);
}

const dataDirHelp = "the agent's data directory (the store is <data-dir>/agent/images)";

export function registerImage(program: Command, io: CliIO): void {
  const image = program
    .command('image')
    .description("Manage the node's local image store (<data-dir>/agent/images) directly")
    .addHelpText(
      'after',
      `
Examples:
  flotilla image ls
  flotilla image pull 127.0.0.1:5000/tools/busybox:1
  flotilla image import busybox.tar
  flotilla image rm busybox:1.35
  flotilla image prune --min-age 24h`,
    );

  image
    .command('ls')
    .alias('list')
    .description('List the images in the local store (IMAGE, TAG, IMAGE ID, SIZE)')
    .option('--data-dir <dir>', dataDirHelp, defaultDataDir)
    .option('-o, --output <format>', 'table, json or yaml', 'table')
    .option('-q, --quiet', 'print only image ids')
    .action(async (opts: StoreOptions & { output?: string; quiet?: boolean }) => {
      await runImageLs(io, opts);
    });

  image
    .command('pull')
    .description('Pull an image from its registry into the local store (always contacts the registry)')
    .argument('<image>', 'reference, e.g. busybox:1.36, 127.0.0.1:5000/app:v1 or app@sha256:...')
    .option('--data-dir <dir>', dataDirHelp, defaultDataDir)
    .option('--creds <user:password>', 'credentials for the registry')
    .option(
      '--insecure-registry <host>',
      'a registry host[:port] that serves plain HTTP (loopback registries may already); repeatable',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--ca-file <file>',
      'an extra CA certificate (PEM) to trust for registries; repeatable',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .addHelpText(
      'after',
      `
Shows one line per layer: "<digest> downloading 1.2MB/2MB". Exit code 0 when pulled, 1 on failure.`,
    )
    .action(
      async (
        ref: string,
        opts: StoreOptions & { creds?: string; insecureRegistry?: string[]; caFile?: string[] },
      ) => {
        await runImagePull(io, ref, opts);
      },
    );

  image
    .command('rm')
    .alias('rmi')
    .description('Remove images by reference or id (a reference of an image with several only untags it)')
    .argument('<image...>', 'references or (prefixes of) image ids')
    .option('--data-dir <dir>', dataDirHelp, defaultDataDir)
    .option('-f, --force', 'remove even when a running container uses the image')
    .action(async (refs: string[], opts: StoreOptions & { force?: boolean }) => {
      await runImageRm(io, refs, opts);
    });

  image
    .command('import')
    .description(
      'Import an OCI layout directory, an OCI archive (skopeo oci-archive:) or a `docker save` tarball',
    )
    .argument('<path>', 'directory or tar file')
    .option('--data-dir <dir>', dataDirHelp, defaultDataDir)
    .option('--tag <image>', 'name the imported image (when the archive holds one image)')
    .addHelpText(
      'after',
      `
Examples:
  scripts/make-busybox-image.sh busybox.tar 1.35 && flotilla image import busybox.tar
  docker save -o app.tar app:v1 && flotilla image import app.tar
  flotilla image import ./layout --tag registry.example.com/app:v1`,
    )
    .action(async (path: string, opts: StoreOptions & { tag?: string }) => {
      await runImageImport(io, path, opts);
    });

  image
    .command('prune')
    .description(
      'Remove images no running container uses (their layers are not mounted), with their blobs and layers',
    )
    .option('--data-dir <dir>', dataDirHelp, defaultDataDir)
    .option('--min-age <duration>', 'only images unused for at least this long (90s, 30m, 12h, 7d)')
    .action(async (opts: StoreOptions & { minAge?: string }) => {
      await runImagePrune(io, opts);
    });
}
