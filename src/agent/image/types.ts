// The ImageService port: immutable images pulled from OCI distribution registries (or imported from
// archives), stored content-addressed, each layer unpacked once and shared by every container made from it.

/** The parts of an OCI image config the runtime needs (`config` of application/vnd.oci.image.config.v1+json). */
export interface ImageConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
  ExposedPorts?: Record<string, unknown>;
  Labels?: Record<string, string>;
}

export interface ImageInfo {
  /** `sha256:<hex>` of the image config blob (what Docker and CRI call the image id). */
  id: string;
  /** Normalised references that point at it, e.g. `127.0.0.1:5000/busybox:1`. */
  repoTags: string[];
  /** `<repository>@sha256:<manifest digest>`. */
  repoDigests: string[];
  /** Sum of the compressed layer sizes, bytes. */
  size: number;
  config: ImageConfig;
  os: string;
  architecture: string;
  /** Unpacked layer directories, bottom layer first (overlayfs lower dirs are given top first). */
  layerDirs: string[];
  /** When a container last used it (for GC by unused age). */
  lastUsed?: Date;
}

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** Credentials for one registry host (from imagePullSecrets of type kubernetes.io/dockerconfigjson). */
export interface RegistryCredential {
  /** Registry host[:port] as written in image references (`docker.io` for Docker Hub). */
  registry: string;
  username?: string;
  password?: string;
  /** A bearer token given directly (`identitytoken`/`registrytoken`). */
  token?: string;
}

export interface PullProgress {
  ref: string;
  /** Layer (or config) digest being downloaded. */
  digest: string;
  downloaded: number;
  total: number;
  done: boolean;
}

export interface PullOptions {
  credentials?: RegistryCredential[];
  onProgress?: (p: PullProgress) => void;
  signal?: AbortSignal;
}

/**
 * Why a pull failed, so the pod worker can set the container's waiting reason and event message:
 * NotFound (no such repository/tag/digest), Unauthorized (bad or missing credentials),
 * Unreachable (connection refused, DNS, TLS), DigestMismatch (a blob did not hash to its digest),
 * Invalid (bad reference, unsupported media type, no linux/<arch> entry), NotPresent (policy Never).
 */
export type ImageErrorReason =
  'NotFound' | 'Unauthorized' | 'Unreachable' | 'DigestMismatch' | 'Invalid' | 'NotPresent';

export class ImageError extends Error {
  constructor(
    readonly reason: ImageErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}

export interface ImageService {
  /** Applies the pull policy; concurrent calls for one reference share one pull. Throws ImageError. */
  ensureImage(ref: string, policy: PullPolicy, opts?: PullOptions): Promise<ImageInfo>;
  /** Always pulls (the `flotilla image pull` verb). */
  pull(ref: string, opts?: PullOptions): Promise<ImageInfo>;
  /** By reference, `name@digest` or image id (or a unique id prefix). */
  get(refOrId: string): Promise<ImageInfo | undefined>;
  list(): Promise<ImageInfo[]>;
  /** Removes a reference (and the image when no reference is left and no container uses it). */
  remove(refOrId: string, opts?: { force?: boolean }): Promise<void>;
  /** Imports an OCI layout dir, an OCI archive or a `docker save` tarball; returns the images it held. */
  import(path: string, opts?: { tag?: string }): Promise<ImageInfo[]>;
  /** Marks an image in use by a container (protects it from GC) and records lastUsed. */
  markUsed(imageId: string, containerId: string): void;
  release(imageId: string, containerId: string): void;
  /** Removes unused images (not used by any container) older than minAge, or all unused when all. */
  prune(opts: {
    all?: boolean;
    minUnusedSeconds?: number;
  }): Promise<{ removed: string[]; freedBytes: number }>;
  /** GC by disk thresholds: when usage of the image filesystem is above highPercent, prune LRU down to lowPercent. */
  garbageCollect(opts: { highPercent: number; lowPercent: number; minUnusedSeconds: number }): Promise<{
    removed: string[];
    freedBytes: number;
  }>;
}
