// Reading images out of an OCI layout directory, an OCI archive (a tar of a layout) or a
// `docker save` tarball, for LocalImageService.import.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { formatReference, parseReference } from './reference.js';
import {
  isIndexType,
  mediaTypes,
  pickPlatform,
  sha256Hex,
  type Descriptor,
  type Index,
  type Manifest,
} from './registry-client.js';
import { extractTar, safeRelative } from './tar.js';
import { ImageError } from './types.js';

export interface ImportedImage {
  configDigest: string;
  configBytes: Buffer;
  manifestDigest: string;
  /** Small blobs to store as they are (manifest, config). */
  blobs: { digest: string; bytes: Buffer }[];
  /** Layer files with their descriptors (digest and size are checked when copied in). */
  layers: { file: string; desc: Descriptor }[];
  tags: string[];
}

export interface ImportResult {
  images: ImportedImage[];
  cleanup: () => Promise<void>;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function fileDigest(p: string): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(p)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
}

function json<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    throw new ImageError('Invalid', `${what} is not valid JSON`);
  }
}

/** A name from a layout's annotation: a full reference, or a bare tag named after the archive. */
function nameFrom(annotation: string | undefined, source: string): string | undefined {
  if (annotation === undefined || annotation === '') return undefined;
  if (/^[\w][\w.-]{0,127}$/.test(annotation)) {
    const base = basename(source)
      .replace(/\.(tar|tgz|tar\.gz|oci)$/i, '')
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, '-');
    return formatReference(parseReference(`localhost/${base || 'image'}:${annotation}`));
  }
  return formatReference(parseReference(annotation));
}

async function fromLayout(dir: string, source: string): Promise<ImportedImage[]> {
  const blob = (d: Descriptor | string): string => {
    const digest = typeof d === 'string' ? d : d.digest;
    if (!/^sha256:[a-f0-9]{64}$/.test(digest))
      throw new ImageError('Invalid', `unsupported digest "${digest}" in ${source}`);
    return join(dir, 'blobs', 'sha256', digest.slice(7));
  };
  const readBlob = async (d: Descriptor): Promise<Buffer> => {
    let bytes: Buffer;
    try {
      bytes = await readFile(blob(d));
    } catch {
      throw new ImageError('Invalid', `${source} lacks blob ${d.digest}`);
    }
    if (`sha256:${sha256Hex(bytes)}` !== d.digest)
      throw new ImageError('DigestMismatch', `blob ${d.digest} in ${source} does not match its digest`);
    return bytes;
  };
  const index = json<Index>(await readFile(join(dir, 'index.json')), `${source}: index.json`);
  const out: ImportedImage[] = [];
  for (const top of index.manifests ?? []) {
    const ann = top.annotations ?? {};
    const name = nameFrom(
      ann['io.containerd.image.name'] ?? ann['org.opencontainers.image.ref.name'],
      source,
    );
    let desc = top;
    let bytes = await readBlob(desc);
    const blobs = [{ digest: desc.digest, bytes }];
    for (
      let depth = 0;
      isIndexType(desc.mediaType ?? json<Manifest>(bytes, desc.digest).mediaType) && depth < 3;
      depth++
    ) {
      desc = pickPlatform(json<Index>(bytes, desc.digest), `${source} (${name ?? desc.digest})`);
      bytes = await readBlob(desc);
      blobs.push({ digest: desc.digest, bytes });
    }
    const m = json<Manifest>(bytes, desc.digest);
    if (m.config === undefined || !Array.isArray(m.layers))
      throw new ImageError('Invalid', `${source}: manifest ${desc.digest} has no config or layers`);
    const configBytes = await readBlob(m.config);
    blobs.push({ digest: m.config.digest, bytes: configBytes });
    out.push({
      configDigest: m.config.digest,
      configBytes,
      manifestDigest: desc.digest,
      blobs,
      layers: m.layers.map((l) => ({ file: blob(l), desc: l })),
      tags: name === undefined ? [] : [name],
    });
  }
  return out;
}

async function fromDockerSave(dir: string, source: string): Promise<ImportedImage[]> {
  const entries = json<{ Config?: string; RepoTags?: string[] | null; Layers?: string[] }[]>(
    await readFile(join(dir, 'manifest.json')),
    `${source}: manifest.json`,
  );
  if (!Array.isArray(entries)) throw new ImageError('Invalid', `${source}: manifest.json is not a list`);
  const out: ImportedImage[] = [];
  for (const e of entries) {
    if (typeof e.Config !== 'string' || !Array.isArray(e.Layers))
      throw new ImageError('Invalid', `${source}: a manifest.json entry lacks Config or Layers`);
    const configBytes = await readFile(join(dir, safeRelative(e.Config)));
    const configDigest = `sha256:${sha256Hex(configBytes)}`;
    const layers: { file: string; desc: Descriptor }[] = [];
    for (const l of e.Layers) {
      const file = join(dir, safeRelative(l));
      const { digest, size } = await fileDigest(file);
      const fh = await open(file, 'r');
      const head = Buffer.alloc(2);
      try {
        await fh.read(head, 0, 2, 0);
      } finally {
        await fh.close();
      }
      const gz = head[0] === 0x1f && head[1] === 0x8b;
      layers.push({
        file,
        desc: {
          mediaType: gz
            ? 'application/vnd.oci.image.layer.v1.tar+gzip'
            : 'application/vnd.oci.image.layer.v1.tar',
          digest,
          size,
        },
      });
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: configBytes.length,
      },
      layers: layers.map((l) => l.desc),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestDigest = `sha256:${sha256Hex(manifestBytes)}`;
    out.push({
      configDigest,
      configBytes,
      manifestDigest,
      blobs: [
        { digest: manifestDigest, bytes: manifestBytes },
        { digest: configDigest, bytes: configBytes },
      ],
      layers,
      tags: (e.RepoTags ?? []).map((t) => formatReference(parseReference(t))),
    });
  }
  return out;
}

/** Reads the images in `path` (extracting an archive under `tmpRoot`). */
export async function importImages(path: string, tmpRoot: string, tag?: string): Promise<ImportResult> {
  let dir = path;
  let cleanup = async (): Promise<void> => undefined;
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new ImageError('NotFound', `${path} does not exist`);
  }
  if (!st.isDirectory()) {
    dir = join(tmpRoot, `import-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    cleanup = async () => rm(dir, { recursive: true, force: true });
    try {
      await extractTar(path, dir, { whiteouts: false, owners: false });
    } catch (err) {
      await cleanup();
      if (err instanceof ImageError) throw new ImageError(err.reason, `${path}: ${err.message}`);
      throw err;
    }
  }
  try {
    let images: ImportedImage[];
    if (await isFile(join(dir, 'oci-layout'))) images = await fromLayout(dir, path);
    else if (await isFile(join(dir, 'manifest.json'))) images = await fromDockerSave(dir, path);
    else
      throw new ImageError(
        'Invalid',
        `${path} is neither an OCI layout (no oci-layout file), an OCI archive nor a docker save tarball (no manifest.json)`,
      );
    if (images.length === 0) throw new ImageError('Invalid', `${path} holds no images`);
    if (tag !== undefined) {
      if (images.length !== 1)
        throw new ImageError('Invalid', `${path} holds ${images.length} images; --tag needs exactly one`);
      const only = images[0];
      if (only !== undefined) only.tags = [formatReference(parseReference(tag))];
    }
    return { images, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
