// FakeImageService: an ImageService for unit tests and simulated nodes. Any reference "exists" unless
// scripted to fail; images are synthesised (ids derived from the reference) and remembered once pulled.

import { createHash } from 'node:crypto';
import {
  ImageError,
  type ImageConfig,
  type ImageErrorReason,
  type ImageInfo,
  type ImageService,
  type PullOptions,
  type PullPolicy,
} from './types.js';

export class FakeImageService implements ImageService {
  /** References pulled from the "registry", in order. */
  readonly pulls: string[] = [];
  private readonly images = new Map<string, ImageInfo>();
  private readonly errors = new Map<string, { reason: ImageErrorReason; message: string }>();
  private readonly configs = new Map<string, ImageConfig>();
  private readonly used = new Map<string, Set<string>>();

  /** Pulls of `ref` fail with this reason until cleared (message defaults to a registry-like one). */
  failPull(ref: string, reason: ImageErrorReason, message?: string): void {
    this.errors.set(ref, { reason, message: message ?? defaultMessage(ref, reason) });
  }

  clearFailure(ref: string): void {
    this.errors.delete(ref);
  }

  /** The image config pulled images of `ref` get (Entrypoint, Cmd, Env ...). */
  setConfig(ref: string, config: ImageConfig): void {
    this.configs.set(ref, config);
  }

  /** Puts an image in the store without a pull (as `flotilla image import` would). */
  preload(ref: string): ImageInfo {
    const info = this.synthesise(ref);
    this.images.set(ref, info);
    return info;
  }

  usedBy(imageId: string): string[] {
    return [...(this.used.get(imageId) ?? [])];
  }

  async ensureImage(ref: string, policy: PullPolicy, opts?: PullOptions): Promise<ImageInfo> {
    const have = this.images.get(ref);
    if (policy === 'Never') {
      if (have === undefined) throw new ImageError('NotPresent', `image "${ref}" is not present`);
      return have;
    }
    if (policy === 'IfNotPresent' && have !== undefined) return have;
    return this.pull(ref, opts);
  }

  async pull(ref: string, _opts?: PullOptions): Promise<ImageInfo> {
    this.pulls.push(ref);
    const err = this.errors.get(ref);
    if (err !== undefined) throw new ImageError(err.reason, err.message);
    const info = this.synthesise(ref);
    this.images.set(ref, info);
    return info;
  }

  async get(refOrId: string): Promise<ImageInfo | undefined> {
    const byRef = this.images.get(refOrId);
    if (byRef !== undefined) return byRef;
    return [...this.images.values()].find(
      (i) => i.id === refOrId || i.id === `sha256:${refOrId}` || i.repoDigests.includes(refOrId),
    );
  }

  async list(): Promise<ImageInfo[]> {
    return [...new Map([...this.images.values()].map((i) => [i.id, i])).values()];
  }

  async remove(refOrId: string, opts?: { force?: boolean }): Promise<void> {
    const info = await this.get(refOrId);
    if (info === undefined) throw new ImageError('NotFound', `image "${refOrId}" not found`);
    if (opts?.force !== true && (this.used.get(info.id)?.size ?? 0) > 0) {
      throw new ImageError('Invalid', `image "${refOrId}" is used by a container`);
    }
    for (const [k, v] of this.images) if (v.id === info.id) this.images.delete(k);
  }

  async import(_path: string, _opts?: { tag?: string }): Promise<ImageInfo[]> {
    return [];
  }

  markUsed(imageId: string, containerId: string): void {
    const set = this.used.get(imageId) ?? new Set<string>();
    set.add(containerId);
    this.used.set(imageId, set);
  }

  release(imageId: string, containerId: string): void {
    this.used.get(imageId)?.delete(containerId);
  }

  async prune(_opts: {
    all?: boolean;
    minUnusedSeconds?: number;
  }): Promise<{ removed: string[]; freedBytes: number }> {
    return { removed: [], freedBytes: 0 };
  }

  async garbageCollect(_opts: {
    highPercent: number;
    lowPercent: number;
    minUnusedSeconds: number;
  }): Promise<{ removed: string[]; freedBytes: number }> {
    return { removed: [], freedBytes: 0 };
  }

  private synthesise(ref: string): ImageInfo {
    const id = `sha256:${createHash('sha256').update(`config:${ref}`).digest('hex')}`;
    const digest = `sha256:${createHash('sha256').update(`manifest:${ref}`).digest('hex')}`;
    const repo = ref.replace(/@.*$/, '').replace(/:[^/:]+$/, '');
    return {
      id,
      repoTags: [ref],
      repoDigests: [`${repo}@${digest}`],
      size: 1_000_000,
      config: this.configs.get(ref) ?? { Cmd: ['sh'] },
      os: 'linux',
      architecture: 'amd64',
      layerDirs: [`/fake/layers/${id.slice(7, 19)}`],
    };
  }
}

function defaultMessage(ref: string, reason: ImageErrorReason): string {
  switch (reason) {
    case 'NotFound':
      return `${ref}: not found`;
    case 'Unauthorized':
      return `pull access denied for ${ref}: unauthorized`;
    case 'Unreachable':
      return `dial tcp: connection refused`;
    case 'DigestMismatch':
      return `digest mismatch for ${ref}`;
    case 'Invalid':
      return `invalid reference format: ${ref}`;
    case 'NotPresent':
      return `image "${ref}" is not present`;
  }
}
