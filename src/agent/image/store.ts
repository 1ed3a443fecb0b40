// LocalImageService: the ImageService on a local directory.
//
//   <root>/blobs/sha256/<hex>         content-addressed blobs (manifests, configs, compressed layers)
//   <root>/layers/<chainID hex>/      each layer unpacked once (an overlayfs lower dir)
//   <root>/index.json                 references → images, written atomically (temp, fsync, rename)
//   <root>/tmp/                       partial unpacks and imports (same filesystem, so rename works)
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  copyFile,
  lstat,
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  statfs,
} from 'node:fs/promises';
import { join } from 'node:path';
import { credentialFor } from './credentials.js';
import {
  formatReference,
  isDigest,
  parseReference,
  repositoryName,
  tagReference,
  type ImageReference,
} from './reference.js';
import {
  RegistryClient,
  isIndexType,
  mediaTypes,
  pickPlatform,
  sha256Hex,
  type Descriptor,
  type Index,
  type Manifest,
} from './registry-client.js';
import { extractTar } from './tar.js';
import type { ImageConfig, ImageInfo, ImageService, PullOptions, PullPolicy } from './types.js';
import { ImageError } from './types.js';

export interface LayerRecord {
  /** Digest of the blob as stored (compressed). */
  digest: string;
  size: number;
  mediaType: string;
  diffId: string;
  chainId: string;
}

export interface ImageRecord {
  id: string;
  manifestDigest: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
  config: ImageConfig;
  os: string;
  architecture: string;
  layers: LayerRecord[];
  /** Blobs this image holds besides its layers (manifest, index, config). */
  blobs: string[];
  /** Epoch ms. */
  created: number;
  lastUsed?: number;
}

interface IndexFile {
  version: 1;
  images: ImageRecord[];
}

export interface LocalImageServiceOptions {
  root: string;
  insecureRegistries?: string[];
  caPem?: string[];
  log?: (msg: string) => void;
  /** Disk usage of the store's filesystem (tests substitute one); default statfs(root). */
  diskUsage?: () => Promise<{ totalBytes: number; usedBytes: number }>;
  /** Parallel layer downloads (default 3). */
  parallelDownloads?: number;
  now?: () => number;
  /** Image uses are written to the index together, this long after the first (default 1,000 ms). */
  lastUsedFlushMs?: number;
}

export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : `sha256:${sha256Hex(`${prev} ${d}`)}`);
  }
  return out;
}

function hexOf(digest: string): string {
  return digest.replace(/^sha256:/, '');
}

/** Runs `fn` over items with at most `limit` in flight; first error wins after all settle. */
async function parallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  let firstError: Error | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        if (!failed) firstError = err instanceof Error ? err : new Error(String(err));
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== undefined) throw firstError;
}

async function dirBytes(path: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(path, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else {
      try {
        total += (await lstat(p)).size;
      } catch {
        // gone
      }
    }
  }
  return total;
}

export class LocalImageService implements ImageService {
  private readonly root: string;
  private images = new Map<string, ImageRecord>();
  private readonly inflight = new Map<string, Promise<ImageInfo>>();
  private readonly unpacking = new Map<string, Promise<void>>();
  private readonly downloading = new Map<string, Promise<void>>();
  private readonly users = new Map<string, Set<string>>();
  /** Blob digests and chain ids in use by pulls and imports in progress (GC leaves them alone). */
  private readonly pinned = new Map<string, number>();
  private chain: Promise<unknown> = Promise.resolve();
  /** What index.json looked like when this process last read or wrote it. */
  private stamp = '';
  /** This process's scratch directory under tmp/ (other processes, e.g. the CLI, have their own). */
  private readonly tmpDir: string;
  private initialised = false;
  private readonly now: () => number;
  /** Images used since the index was last written, and when (touch → flushLastUsed). */
  private usedSince = new Map<string, number>();
  private usedFlush: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly opts: LocalImageServiceOptions) {
    this.root = opts.root;
    this.now = opts.now ?? Date.now;
    this.tmpDir = join(this.root, 'tmp', `${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  private log(msg: string): void {
    this.opts.log?.(msg);
  }

  get blobDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }

  get layerRoot(): string {
    return join(this.root, 'layers');
  }

  blobPath(digest: string): string {
    return join(this.blobDir, hexOf(digest));
  }

  layerPath(chainId: string): string {
    return join(this.layerRoot, hexOf(chainId));
  }

  async init(): Promise<void> {
    if (this.initialised) return;
    await mkdir(this.blobDir, { recursive: true });
    await mkdir(this.layerRoot, { recursive: true });
    await mkdir(join(this.root, 'tmp'), { recursive: true });
    // leftovers of imports and unpacks of processes that are gone (the agent and the CLI share the store)
    for (const name of await readdir(join(this.root, 'tmp')))
      if (!pidAlive(name)) await rm(join(this.root, 'tmp', name), { recursive: true, force: true });
    for (const name of await readdir(this.layerRoot)) {
      if (name.startsWith('.') && !pidAlive(name.replace(/^\.unpack-/, '')))
        await rm(join(this.layerRoot, name), { recursive: true, force: true });
    }
    await this.refresh();
    this.initialised = true;
  }

  private get indexFile(): string {
    return join(this.root, 'index.json');
  }

  /** Runs `fn` after every earlier locked operation of this process (index read-modify-write). */
  private lock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Re-reads index.json when another process (the CLI, or the agent) changed it. */
  private async refresh(): Promise<void> {
    let st;
    try {
      st = await stat(this.indexFile);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return;
      throw err;
    }
    const stamp = `${st.ino}:${st.mtimeMs}:${st.size}`;
    if (stamp === this.stamp) return;
    let doc: IndexFile;
    try {
      doc = JSON.parse(await readFile(this.indexFile, 'utf8')) as IndexFile;
    } catch (err) {
      throw new ImageError(
        'Invalid',
        `cannot read the image index ${this.indexFile}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const next = new Map(doc.images.map((i) => [i.id, i]));
    for (const [id, r] of next) {
      const mine = this.images.get(id)?.lastUsed;
      if (mine !== undefined && (r.lastUsed === undefined || r.lastUsed < mine)) r.lastUsed = mine;
    }
    this.images = next;
    this.stamp = stamp;
  }

  /** Re-reads the index, applies `fn` to it and writes it back, serialised within this process. */
  private mutate<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.lock(async () => {
      await this.refresh();
      const out = await fn();
      await this.write();
      return out;
    });
  }

  private async read(): Promise<void> {
    await this.ensureInit();
    await this.lock(() => this.refresh());
  }

  private async ensureInit(): Promise<void> {
    if (!this.initialised) await this.init();
  }

  private async write(): Promise<void> {
    const doc: IndexFile = { version: 1, images: [...this.images.values()] };
    const file = this.indexFile;
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(doc));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    const dir = await open(this.root, constants.O_RDONLY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    const st = await stat(file);
    this.stamp = `${st.ino}:${st.mtimeMs}:${st.size}`;
  }

  private pin(keys: readonly string[]): () => void {
    for (const k of keys) this.pinned.set(k, (this.pinned.get(k) ?? 0) + 1);
    return () => {
      for (const k of keys) {
        const n = (this.pinned.get(k) ?? 1) - 1;
        if (n <= 0) this.pinned.delete(k);
        else this.pinned.set(k, n);
      }
    };
  }

  private info(r: ImageRecord): ImageInfo {
    const out: ImageInfo = {
      id: r.id,
      repoTags: [...r.repoTags],
      repoDigests: [...r.repoDigests],
      size: r.size,
      config: r.config,
      os: r.os,
      architecture: r.architecture,
      layerDirs: r.layers.map((l) => this.layerPath(l.chainId)),
    };
    if (r.lastUsed !== undefined) out.lastUsed = new Date(r.lastUsed);
    return out;
  }

  private findRecord(refOrId: string): ImageRecord | undefined {
    const text = refOrId.trim();
    const idLike = /^(sha256:)?[a-f0-9]{4,64}$/.exec(text);
    if (idLike !== null) {
      const hex = hexOf(text);
      const byId = [...this.images.values()].filter((i) => hexOf(i.id).startsWith(hex));
      if (byId.length === 1) return byId[0];
      if (byId.length > 1 && text.length < 64)
        throw new ImageError('Invalid', `image id prefix "${text}" is ambiguous; give more digits`);
    }
    let ref: ImageReference;
    try {
      ref = parseReference(text);
    } catch (err) {
      if (idLike !== null) return undefined;
      throw err;
    }
    if (ref.digest !== undefined) {
      const rd = `${repositoryName(ref)}@${ref.digest}`;
      for (const i of this.images.values())
        if (
          i.repoDigests.includes(rd) ||
          (i.manifestDigest === ref.digest &&
            i.repoDigests.some((d) => d.startsWith(`${repositoryName(ref)}@`)))
        )
          return i;
      return undefined;
    }
    const tag = tagReference(ref);
    for (const i of this.images.values()) if (tag !== undefined && i.repoTags.includes(tag)) return i;
    return undefined;
  }

  async get(refOrId: string): Promise<ImageInfo | undefined> {
    await this.read();
    const r = this.findRecord(refOrId);
    return r === undefined ? undefined : this.info(r);
  }

  async list(): Promise<ImageInfo[]> {
    await this.read();
    return [...this.images.values()].map((r) => this.info(r));
  }

  async ensureImage(ref: string, policy: PullPolicy, opts: PullOptions = {}): Promise<ImageInfo> {
    await this.read();
    const parsed = parseReference(ref);
    const norm = formatReference(parsed);
    if (policy !== 'Always') {
      const have = this.findRecord(norm);
      if (have !== undefined) return this.info(have);
      if (policy === 'Never')
        throw new ImageError(
          'NotPresent',
          `Container image "${ref}" is not present with pull policy of Never: import it with \`flotilla image import\` or pull it with \`flotilla image pull ${ref}\``,
        );
    }
    return this.pull(norm, opts);
  }

  async pull(ref: string, opts: PullOptions = {}): Promise<ImageInfo> {
    await this.ensureInit();
    const parsed = parseReference(ref);
    const norm = formatReference(parsed);
    const cred = credentialFor(opts.credentials, parsed.registry);
    const key = `${norm}\u0000${cred?.username ?? ''}\u0000${cred?.password ?? ''}\u0000${cred?.token ?? ''}`;
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    const p = this.doPull(parsed, opts).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async doPull(ref: ImageReference, opts: PullOptions): Promise<ImageInfo> {
    const norm = formatReference(ref);
    this.log(`pulling ${norm}`);
    const client = new RegistryClient(
      ref,
      {
        ...(this.opts.insecureRegistries !== undefined
          ? { insecureRegistries: this.opts.insecureRegistries }
          : {}),
        ...(this.opts.caPem !== undefined ? { caPem: this.opts.caPem } : {}),
      },
      opts.credentials,
      opts.signal,
    );
    const unpin: (() => void)[] = [];
    try {
      const top = await client.getManifest(ref.digest ?? ref.tag ?? 'latest');
      const extraBlobs: { digest: string; bytes: Buffer }[] = [{ digest: top.digest, bytes: top.bytes }];
      let manifestBytes = top.bytes;
      let manifestDigest = top.digest;
      if (isIndexType(top.mediaType)) {
        const index = JSON.parse(top.bytes.toString('utf8')) as Index;
        const pick = pickPlatform(index, norm);
        const m = await client.getManifest(pick.digest);
        if (isIndexType(m.mediaType))
          throw new ImageError('Invalid', `${norm}: nested image indexes are not supported`);
        manifestBytes = m.bytes;
        manifestDigest = m.digest;
        extraBlobs.push({ digest: m.digest, bytes: m.bytes });
      }
      const manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
      if (!Array.isArray(manifest.layers) || manifest.config === undefined)
        throw new ImageError('Invalid', `${norm}: the manifest has no config or layers`);
      const configBytes = await client.getBlob(manifest.config);
      extraBlobs.push({ digest: manifest.config.digest, bytes: configBytes });
      unpin.push(this.pin([...extraBlobs.map((b) => b.digest), ...manifest.layers.map((l) => l.digest)]));
      for (const b of extraBlobs) await this.writeBlob(b.digest, b.bytes);
      const parsedConfig = this.parseConfig(configBytes, norm, manifest.layers.length);
      await parallel(manifest.layers, this.opts.parallelDownloads ?? 3, async (layer) => {
        checkLayerType(layer, norm);
        await this.fetchBlob(client, layer, (downloaded, done) =>
          opts.onProgress?.({ ref: norm, digest: layer.digest, downloaded, total: layer.size, done }),
        );
      });
      const record = await this.commitImage({
        manifestDigest,
        topDigest: top.digest,
        configDigest: manifest.config.digest,
        config: parsedConfig,
        layers: manifest.layers,
        blobs: extraBlobs.map((b) => b.digest),
        tags: ((t) => (t === undefined ? [] : [t]))(tagReference(ref)),
        repository: repositoryName(ref),
      });
      this.log(`pulled ${norm} (${record.id})`);
      return this.info(record);
    } finally {
      for (const u of unpin) u();
      await client.close().catch(() => undefined);
    }
  }

  private parseConfig(
    bytes: Buffer,
    what: string,
    layerCount: number,
  ): { config: ImageConfig; os: string; architecture: string; diffIds: string[] } {
    let doc: { config?: ImageConfig; os?: string; architecture?: string; rootfs?: { diff_ids?: string[] } };
    try {
      doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
    } catch {
      throw new ImageError('Invalid', `${what}: the image config is not JSON`);
    }
    const diffIds = doc.rootfs?.diff_ids ?? [];
    if (diffIds.length !== layerCount || !diffIds.every(isDigest))
      throw new ImageError(
        'Invalid',
        `${what}: the image config lists ${diffIds.length} diff ids for ${layerCount} layers`,
      );
    return {
      config: doc.config ?? {},
      os: doc.os ?? 'linux',
      architecture: doc.architecture ?? '',
      diffIds,
    };
  }

  private async writeBlob(digest: string, bytes: Buffer): Promise<void> {
    const path = this.blobPath(digest);
    if (await exists(path)) return;
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  }

  /** Downloads a layer blob unless present; concurrent pulls of one blob share one download. */
  private async fetchBlob(
    client: RegistryClient,
    layer: Descriptor,
    progress: (downloaded: number, done: boolean) => void,
  ): Promise<void> {
    const path = this.blobPath(layer.digest);
    if (await exists(path)) {
      progress(layer.size, true);
      return;
    }
    let running = this.downloading.get(layer.digest);
    if (running === undefined) {
      running = client
        .downloadBlob(layer, path, (p) => progress(p.downloaded, false))
        .finally(() => this.downloading.delete(layer.digest));
      this.downloading.set(layer.digest, running);
    }
    await running;
    progress(layer.size, true);
  }

  /** Unpacks layers (once each), records the image and its references. */
  private async commitImage(a: {
    manifestDigest: string;
    topDigest: string | undefined;
    configDigest: string;
    config: { config: ImageConfig; os: string; architecture: string; diffIds: string[] };
    layers: Descriptor[];
    blobs: string[];
    tags: string[];
    repository: string | undefined;
  }): Promise<ImageRecord> {
    const chains = chainIds(a.config.diffIds);
    const unpin = this.pin(chains);
    try {
      const layers: LayerRecord[] = a.layers.map((l, i) => ({
        digest: l.digest,
        size: l.size,
        mediaType: l.mediaType ?? mediaTypes.ociManifest,
        diffId: a.config.diffIds[i] ?? '',
        chainId: chains[i] ?? '',
      }));
      for (const l of layers) await this.unpackLayer(l);
      return await this.mutate(() => this.recordImage(a, layers));
    } finally {
      unpin();
    }
  }

  private recordImage(
    a: {
      manifestDigest: string;
      topDigest: string | undefined;
      configDigest: string;
      config: { config: ImageConfig; os: string; architecture: string };
      blobs: string[];
      tags: string[];
      repository: string | undefined;
    },
    layers: LayerRecord[],
  ): ImageRecord {
    const id = a.configDigest;
    const prev = this.images.get(id);
    const record: ImageRecord = prev ?? {
      id,
      manifestDigest: a.manifestDigest,
      repoTags: [],
      repoDigests: [],
      size: layers.reduce((s, l) => s + l.size, 0),
      config: a.config.config,
      os: a.config.os,
      architecture: a.config.architecture,
      layers,
      blobs: [],
      created: this.now(),
    };
    record.blobs = [...new Set([...record.blobs, ...a.blobs])];
    for (const tag of a.tags) {
      // a tag points at one image: move it
      for (const other of this.images.values()) {
        if (other.id !== id && other.repoTags.includes(tag))
          other.repoTags = other.repoTags.filter((t) => t !== tag);
      }
      if (!record.repoTags.includes(tag)) record.repoTags.push(tag);
    }
    if (a.repository !== undefined && a.topDigest !== undefined) {
      const rd = `${a.repository}@${a.topDigest}`;
      if (!record.repoDigests.includes(rd)) record.repoDigests.push(rd);
    }
    this.images.set(id, record);
    return record;
  }

  private async unpackLayer(l: LayerRecord): Promise<void> {
    const dir = this.layerPath(l.chainId);
    if (await exists(dir)) return;
    let running = this.unpacking.get(l.chainId);
    if (running === undefined) {
      running = (async () => {
        const tmp = join(
          this.layerRoot,
          `.unpack-${process.pid}-${hexOf(l.chainId).slice(0, 16)}-${randomBytes(4).toString('hex')}`,
        );
        await mkdir(tmp, { mode: 0o755 });
        try {
          const res = await extractTar(this.blobPath(l.digest), tmp, {
            whiteouts: true,
            owners: process.getuid?.() === 0,
          });
          if (res.diffId !== l.diffId)
            throw new ImageError(
              'DigestMismatch',
              `layer ${l.digest} unpacked to diff id ${res.diffId}, but the image config says ${l.diffId}`,
            );
          try {
            await rename(tmp, dir);
          } catch (err) {
            const code = (err as { code?: unknown }).code;
            // another process (the CLI or the agent) unpacked the same layer first: use theirs
            if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
            await rm(tmp, { recursive: true, force: true });
          }
          this.log(`unpacked layer ${l.digest.slice(7, 19)} into ${dir}`);
        } catch (err) {
          await rm(tmp, { recursive: true, force: true });
          if (err instanceof ImageError && err.reason === 'DigestMismatch')
            await rm(this.blobPath(l.digest), { force: true });
          throw err;
        }
      })().finally(() => this.unpacking.delete(l.chainId));
      this.unpacking.set(l.chainId, running);
    }
    await running;
  }

  async remove(refOrId: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.ensureInit();
    const mounted = await mountedLowerDirs();
    const dropped = await this.mutate(async () => {
      const r = this.findRecord(refOrId);
      if (r === undefined)
        throw new ImageError(
          'NotFound',
          `no such image "${refOrId}" in the local store (see \`flotilla image ls\`)`,
        );
      const byId =
        /^(sha256:)?[a-f0-9]{4,64}$/.test(refOrId.trim()) && hexOf(r.id).startsWith(hexOf(refOrId.trim()));
      let tag: string | undefined;
      if (!byId) {
        const parsed = parseReference(refOrId);
        tag = parsed.digest === undefined ? tagReference(parsed) : undefined;
      }
      if (tag !== undefined && r.repoTags.length > 1) {
        r.repoTags = r.repoTags.filter((t) => t !== tag);
        return [];
      }
      if (opts.force !== true && this.inUse(mounted).has(r.id)) {
        const users = [...(this.users.get(r.id) ?? [])];
        throw new ImageError(
          'Invalid',
          `image ${refOrId} (${r.id.slice(7, 19)}) is in use by ${users.length > 0 ? `container ${users.join(', ')}` : 'a running container (its layers are mounted)'}: remove the container first or use --force`,
        );
      }
      this.images.delete(r.id);
      return [r];
    });
    if (dropped.length > 0) await this.collect(dropped);
  }

  /**
   * Removes blobs and layer dirs no image references (nor a pull in progress here). What the removed
   * images held goes at once; other unreferenced content only after an hour, since another process
   * sharing the store (the CLI, the agent) may be pulling it right now. Returns bytes freed.
   */
  private async collect(removed: readonly ImageRecord[]): Promise<number> {
    const keepBlobs = new Set<string>();
    const keepLayers = new Set<string>();
    const droppedBlobs = new Set<string>();
    const droppedLayers = new Set<string>();
    for (const r of removed) {
      for (const b of r.blobs) droppedBlobs.add(hexOf(b));
      for (const l of r.layers) {
        droppedBlobs.add(hexOf(l.digest));
        droppedLayers.add(hexOf(l.chainId));
      }
    }
    for (const i of this.images.values()) {
      for (const b of i.blobs) keepBlobs.add(hexOf(b));
      for (const l of i.layers) {
        keepBlobs.add(hexOf(l.digest));
        keepLayers.add(hexOf(l.chainId));
      }
    }
    for (const k of this.pinned.keys()) {
      keepBlobs.add(hexOf(k));
      keepLayers.add(hexOf(k));
    }
    for (const k of this.unpacking.keys()) keepLayers.add(hexOf(k));
    for (const k of this.downloading.keys()) keepBlobs.add(hexOf(k));
    const graceMs = 3600_000;
    const old = async (p: string): Promise<{ old: boolean; size: number }> => {
      try {
        const st = await lstat(p);
        return { old: Date.now() - st.ctimeMs > graceMs, size: st.size };
      } catch {
        return { old: false, size: -1 };
      }
    };
    let freed = 0;
    for (const name of await readdir(this.blobDir)) {
      if (name.endsWith('.partial') || name.endsWith('.tmp') || keepBlobs.has(name)) continue;
      const p = join(this.blobDir, name);
      const st = await old(p);
      if (st.size < 0 || (!droppedBlobs.has(name) && !st.old)) continue;
      freed += st.size;
      await rm(p, { force: true });
    }
    for (const name of await readdir(this.layerRoot)) {
      if (name.startsWith('.') || keepLayers.has(name)) continue;
      const p = join(this.layerRoot, name);
      const st = await old(p);
      if (st.size < 0 || (!droppedLayers.has(name) && !st.old)) continue;
      freed += await dirBytes(p);
      await rm(p, { recursive: true, force: true });
    }
    return freed;
  }

  markUsed(imageId: string, containerId: string): void {
    this.touch(imageId, (id) => {
      let set = this.users.get(id);
      if (set === undefined) this.users.set(id, (set = new Set()));
      set.add(containerId);
    });
  }

  release(imageId: string, containerId: string): void {
    this.touch(imageId, (id) => {
      const set = this.users.get(id);
      set?.delete(containerId);
      if (set !== undefined && set.size === 0) this.users.delete(id);
    });
  }

  /**
   * Updates the users of an image at once, and its lastUsed in memory at once and in the index within
   * `lastUsedFlushMs`: one index write (with its two fsyncs) for a burst of pod starts, not one per container.
   * lastUsed only orders image garbage collection, so a crash may lose the last second of it and nothing else.
   */
  private touch(imageId: string, update: (id: string) => void): void {
    const r = this.findRecordQuiet(imageId);
    const id = r?.id ?? (isDigest(imageId) ? imageId : `sha256:${hexOf(imageId)}`);
    update(id);
    const now = this.now();
    if (r !== undefined) r.lastUsed = now;
    if (!this.initialised) return;
    this.usedSince.set(id, Math.max(this.usedSince.get(id) ?? 0, now));
    if (this.usedFlush === undefined) {
      this.usedFlush = setTimeout(() => this.flushLastUsed(), this.opts.lastUsedFlushMs ?? 1000);
      this.usedFlush.unref();
    }
  }

  private flushLastUsed(): void {
    this.usedFlush = undefined;
    const used = this.usedSince;
    this.usedSince = new Map();
    this.mutate(() => {
      for (const [id, at] of used) {
        const fresh = this.images.get(id);
        if (fresh !== undefined) fresh.lastUsed = Math.max(fresh.lastUsed ?? 0, at);
      }
    }).catch((err: unknown) => this.log(`saving the image index failed: ${String(err)}`));
  }

  private findRecordQuiet(refOrId: string): ImageRecord | undefined {
    try {
      return this.findRecord(refOrId);
    } catch {
      return undefined;
    }
  }

  /** Images some container uses: marked with markUsed, or with a layer mounted as an overlayfs lower dir. */
  private inUse(mounted: ReadonlySet<string>): Set<string> {
    const out = new Set<string>();
    for (const [id, set] of this.users) if (set.size > 0) out.add(id);
    if (mounted.size > 0) {
      for (const r of this.images.values())
        if (r.layers.some((l) => mounted.has(this.layerPath(l.chainId)))) out.add(r.id);
    }
    return out;
  }

  private unusedImages(minUnusedSeconds: number, mounted: ReadonlySet<string>): ImageRecord[] {
    const cutoff = this.now() - minUnusedSeconds * 1000;
    const used = this.inUse(mounted);
    return [...this.images.values()]
      .filter((r) => !used.has(r.id))
      .filter((r) => (r.lastUsed ?? r.created) <= cutoff)
      .sort((a, b) => (a.lastUsed ?? a.created) - (b.lastUsed ?? b.created));
  }

  async prune(opts: {
    all?: boolean;
    minUnusedSeconds?: number;
  }): Promise<{ removed: string[]; freedBytes: number }> {
    await this.ensureInit();
    const mounted = await mountedLowerDirs();
    const victims = await this.mutate(() => {
      const v = this.unusedImages(opts.all === true ? 0 : (opts.minUnusedSeconds ?? 0), mounted);
      for (const r of v) this.images.delete(r.id);
      return v;
    });
    const freedBytes = await this.collect(victims);
    if (victims.length > 0) this.log(`pruned ${victims.length} unused images, freed ${freedBytes} bytes`);
    return { removed: victims.map((v) => v.id), freedBytes };
  }

  private async diskUsage(): Promise<{ totalBytes: number; usedBytes: number }> {
    if (this.opts.diskUsage !== undefined) return this.opts.diskUsage();
    const s = await statfs(this.root);
    return { totalBytes: s.blocks * s.bsize, usedBytes: (s.blocks - s.bfree) * s.bsize };
  }

  async garbageCollect(opts: {
    highPercent: number;
    lowPercent: number;
    minUnusedSeconds: number;
  }): Promise<{ removed: string[]; freedBytes: number }> {
    await this.ensureInit();
    const usage = await this.diskUsage();
    if (usage.totalBytes <= 0) return { removed: [], freedBytes: 0 };
    const percent = (usage.usedBytes / usage.totalBytes) * 100;
    if (percent < opts.highPercent) return { removed: [], freedBytes: 0 };
    const toFree = usage.usedBytes - (opts.lowPercent / 100) * usage.totalBytes;
    this.log(
      `image store filesystem at ${percent.toFixed(1)}% (threshold ${opts.highPercent}%): freeing ${Math.ceil(toFree)} bytes`,
    );
    const mounted = await mountedLowerDirs();
    const removed: string[] = [];
    let freedBytes = 0;
    await this.lock(() => this.refresh());
    for (const candidate of this.unusedImages(opts.minUnusedSeconds, mounted)) {
      if (freedBytes >= toFree) break;
      const gone = await this.mutate(() => {
        // still unused after re-reading the index?
        const still = this.unusedImages(opts.minUnusedSeconds, mounted).find((r) => r.id === candidate.id);
        if (still !== undefined) this.images.delete(still.id);
        return still;
      });
      if (gone === undefined) continue;
      freedBytes += await this.collect([gone]);
      removed.push(gone.id);
    }
    return { removed, freedBytes };
  }

  async import(path: string, opts: { tag?: string } = {}): Promise<ImageInfo[]> {
    await this.ensureInit();
    const { importImages } = await import('./import.js');
    await mkdir(this.tmpDir, { recursive: true });
    const found = await importImages(path, this.tmpDir, opts.tag);
    try {
      const out: ImageInfo[] = [];
      for (const img of found.images) {
        const unpin = this.pin([
          img.configDigest,
          ...img.layers.map((l) => l.desc.digest),
          ...img.blobs.map((b) => b.digest),
        ]);
        try {
          for (const b of img.blobs) await this.writeBlob(b.digest, b.bytes);
          for (const l of img.layers) await this.importBlob(l.file, l.desc);
          const config = this.parseConfig(img.configBytes, path, img.layers.length);
          const record = await this.commitImage({
            manifestDigest: img.manifestDigest,
            topDigest: undefined,
            configDigest: img.configDigest,
            config,
            layers: img.layers.map((l) => l.desc),
            blobs: img.blobs.map((b) => b.digest),
            tags: img.tags,
            repository: undefined,
          });
          out.push(this.info(record));
        } finally {
          unpin();
        }
      }
      return out;
    } finally {
      await found.cleanup();
      await rmdir(this.tmpDir).catch(() => undefined); // another import of this process may still use it
    }
  }

  /** Copies a file into the blob store after checking its digest and size. */
  private async importBlob(file: string, desc: Descriptor): Promise<void> {
    const dest = this.blobPath(desc.digest);
    if (await exists(dest)) return;
    const tmp = `${dest}.${randomBytes(4).toString('hex')}.tmp`;
    if (file.startsWith(`${this.tmpDir}/`)) await rename(file, tmp);
    else await copyFile(file, tmp);
    const h = createHash('sha256');
    const fh = await open(tmp, 'r');
    let size = 0;
    try {
      for await (const chunk of fh.createReadStream({ autoClose: false })) {
        h.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    const got = `sha256:${h.digest('hex')}`;
    if (got !== desc.digest || size !== desc.size) {
      await rm(tmp, { force: true });
      throw new ImageError(
        'DigestMismatch',
        `archive member for ${desc.digest} hashed to ${got} (${size} bytes)`,
      );
    }
    await rename(tmp, dest);
  }
}

function checkLayerType(layer: Descriptor, what: string): void {
  const mt = layer.mediaType ?? '';
  if (mt.endsWith('+zstd') || mt.endsWith('.zstd'))
    throw new ImageError(
      'Invalid',
      `${what}: zstd layers are not supported (push the image with gzip layers)`,
    );
  if (mt.includes('foreign') || mt.includes('nondistributable'))
    throw new ImageError('Invalid', `${what}: foreign (non-distributable) layers are not supported`);
}

/** Lower dirs of the overlayfs mounts on this machine (from /proc/self/mountinfo). */
export async function mountedLowerDirs(): Promise<Set<string>> {
  const out = new Set<string>();
  let text: string;
  try {
    text = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return out;
  }
  const unescape = (v: string): string =>
    v.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const [fstype, , superOpts] = line.slice(sep + 3).split(' ');
    if (fstype !== 'overlay' || superOpts === undefined) continue;
    for (const opt of superOpts.split(/(?<!\\),/)) {
      if (!opt.startsWith('lowerdir=')) continue;
      for (const d of opt.slice('lowerdir='.length).split(/(?<!\\):/))
        out.add(unescape(d.replace(/\\([,:])/g, '$1')));
    }
  }
  return out;
}

/** Whether a scratch name `<pid>-...` belongs to a live process. */
function pidAlive(name: string): boolean {
  const pid = Number(/^(\d+)-/.exec(name)?.[1]);
  if (!(pid > 0)) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown }).code === 'EPERM';
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}
