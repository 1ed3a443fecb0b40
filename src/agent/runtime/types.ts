// The ContainerRuntime port: what the pod worker needs from a container runtime. RuncRuntime (runc under
// conmon) implements it for real nodes; FakeRuntime (scripted, recording) for unit tests and simulated nodes.
//
// Everything a runtime knows about a container is recoverable from disk (bundle dir, conmon files, runc
// state), so an agent restarted after `kill -9` adopts running containers through listContainers().

/** Labels every container carries, so the agent can map containers back to pods after a restart. */
export interface ContainerLabels {
  podUid: string;
  podName: string;
  podNamespace: string;
  containerName: string;
  /** 0 for the first run of this container in this pod, then 1, 2, ... (restartCount = attempt). */
  attempt: number;
  /** 'init' for init containers. */
  kind: 'regular' | 'init';
  /** Hash of the container spec it was created from (a changed spec means replace). */
  specHash: string;
}

export interface Mount {
  /** Path inside the container. */
  containerPath: string;
  /** Host path (a file or a directory). */
  hostPath: string;
  readOnly: boolean;
}

export interface ResourceLimits {
  /** CPU request in millicores → cpu shares (v1) / weight (v2); 0 = minimum shares (2). */
  cpuRequestMilli: number;
  /** CPU limit in millicores → CFS quota over a 100 ms period; undefined = unlimited. */
  cpuLimitMilli?: number;
  /** Memory limit in bytes; undefined = unlimited. */
  memoryLimitBytes?: number;
  /** pids limit; undefined = the node default. */
  pidsLimit?: number;
}

export interface SecuritySettings {
  /** Run as this uid/gid (undefined = image user, else 0). */
  runAsUser?: number;
  runAsGroup?: number;
  supplementalGroups?: number[];
  runAsNonRoot?: boolean;
  privileged: boolean;
  allowPrivilegeEscalation: boolean;
  readOnlyRootFilesystem: boolean;
  capabilitiesAdd: string[];
  capabilitiesDrop: string[];
  /** 'RuntimeDefault' (Flotilla's Docker-like profile) or 'Unconfined'. */
  seccomp: 'RuntimeDefault' | 'Unconfined';
}

/** Everything needed to create one container. The pod worker builds it from the Pod and the image. */
export interface ContainerCreateSpec {
  /** Unique id (runc container id): `<podUid first 8>-<name>-<attempt>-<random>` style, [a-zA-Z0-9_.-]. */
  id: string;
  labels: ContainerLabels;
  /** Image reference as written in the pod (for status.image) and the resolved image id (sha256:...). */
  imageRef: string;
  imageId: string;
  /** Image layer directories, bottom first; mounted read-only as overlayfs lower dirs. */
  layerDirs: string[];
  /** Final argv (image Entrypoint/Cmd merged with pod command/args, as Kubernetes does). */
  args: string[];
  /** Final environment, `NAME=value`, image env first then pod env (later wins). */
  env: string[];
  workingDir: string;
  /** Image `User` when the pod sets no runAsUser: "uid", "uid:gid", "name" or "name:group" (resolved in the rootfs). */
  imageUser?: string;
  hostname: string;
  /** Path of the pod's network namespace (`/var/run/netns/...`); undefined = host network. */
  netnsPath?: string;
  /** Extra bind mounts: /etc/hosts, /etc/resolv.conf, /etc/hostname, /dev/termination-log, volumes. */
  mounts: Mount[];
  resources: ResourceLimits;
  security: SecuritySettings;
  /** Allocate a terminal for the main process (pod `tty: true`). */
  tty: boolean;
  /** Keep stdin open (pod `stdin: true`). */
  stdin: boolean;
  /** Image `StopSignal` (e.g. "SIGQUIT" or "3"); undefined = SIGTERM. Used by stopContainer. */
  stopSignal?: string;
  /** Cgroup parent for the pod, e.g. `flotilla/pod<uid>`; the runtime creates and removes it. */
  cgroupParent: string;
}

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface ContainerStatus {
  id: string;
  labels: ContainerLabels;
  imageRef: string;
  imageId: string;
  state: ContainerState;
  /** Host pid of the container's init process while running. */
  pid?: number;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  exitCode?: number;
  /** Set when the kernel OOM killer ended the container (checked in its memory cgroup). */
  oomKilled?: boolean;
  /** A runtime error that kept the container from starting (e.g. the executable was not found). */
  message?: string;
  /** CRI-format log file written by conmon. */
  logPath: string;
}

export interface ContainerStats {
  id: string;
  /** Cumulative CPU time used, nanoseconds (cgroup cpuacct.usage / cpu.stat usage_usec). */
  cpuUsageNanos: number;
  /** Working set: memory usage minus inactive file pages, bytes. */
  memoryWorkingSetBytes: number;
  memoryUsageBytes: number;
  timestamp: Date;
}

export interface ExecOptions {
  command: string[];
  tty: boolean;
  stdin: boolean;
  /** Initial terminal size when tty. */
  columns?: number;
  rows?: number;
}

/** A running exec session. stdout carries both streams when tty is set. */
export interface ExecSession {
  stdin: NodeJS.WritableStream | null;
  stdout: NodeJS.ReadableStream;
  stderr: NodeJS.ReadableStream | null;
  resize(columns: number, rows: number): void;
  /** Resolves with the command's exit code (126/127 when it could not be started, as runc reports). */
  exit: Promise<number>;
  kill(): void;
}

export interface RuntimeInfo {
  name: string;
  version: string;
  cgroupVersion: 1 | 2;
}

/** Which containers a listing returns (all when unset). */
export interface ContainerFilter {
  /** Only the containers of this pod (label `podUid`). */
  podUid?: string;
}

export interface CreateOptions {
  /**
   * The container's process is made only once this settles; its files and rootfs are prepared meanwhile
   * (the pod's network namespace is still being created, say). A rejection cancels the create: it rejects
   * with code `Cancelled` and leaves nothing behind.
   */
  after?: Promise<unknown>;
}

export interface ContainerRuntime {
  info(): Promise<RuntimeInfo>;
  /** Creates the bundle (rootfs overlay, config.json) and the container under its monitor; state 'created'. */
  createContainer(spec: ContainerCreateSpec, opts?: CreateOptions): Promise<void>;
  /** Starts a created container; rejects with a clear message when the process cannot start. */
  startContainer(id: string): Promise<void>;
  /** SIGTERM (or the image's StopSignal), then SIGKILL after timeoutSeconds; resolves once it exited. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  /** Removes an exited (or created) container: runc delete, unmount, cgroup, bundle dir, log file. Idempotent. */
  removeContainer(id: string): Promise<void>;
  /** Every container this runtime manages (from disk), including exited ones not yet removed. */
  listContainers(filter?: ContainerFilter): Promise<ContainerStatus[]>;
  containerStatus(id: string): Promise<ContainerStatus | undefined>;
  /** Runs a command inside a running container. */
  exec(id: string, opts: ExecOptions): Promise<ExecSession>;
  stats(id: string): Promise<ContainerStats | undefined>;
  /** Removes the pod's cgroup parent once all its containers are gone. Idempotent. */
  removePodCgroup(cgroupParent: string): Promise<void>;
  /**
   * Calls `listener` soon after a container's process ended (or may have: the listener looks again).
   * Optional: without it the agent notices exits by polling. Returns the unsubscribe function.
   */
  onExit?(listener: (id: string, labels: ContainerLabels) => void): () => void;
}
