// From a Pod to ContainerCreateSpecs: the pod's files and volumes on disk (preparePod), then per container
// the argv, environment, working dir, mounts, resources and security settings the runtime needs
// (buildContainerSpec), with Kubernetes semantics (kubelet + CRI runtime). See docs/design/agent-pod-spec.md.
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { QuantityError, quantityToMillis, quantityValue } from '../../api/quantity.js';
import type { KubeObject } from '../../api/types.js';
import { isObject } from '../../api/types.js';
import type { ImageInfo } from '../image/types.js';
import type { ContainerCreateSpec, Mount, ResourceLimits, SecuritySettings } from '../runtime/types.js';
import {
  ContainerConfigError,
  buildEnv,
  configError,
  expandVars,
  list,
  podSpec,
  rec,
  str,
  strList,
} from './env.js';
import { podHostname, writePodFiles } from './pod-files.js';
import { prepareVolumes, volumeMounts } from './volumes.js';

export { ContainerConfigError, isContainerConfigError } from './env.js';

export interface PodContext {
  /** The Pod as the API returned it. */
  pod: KubeObject;
  nodeName: string;
  hostIP: string;
  /** [] until the network is up. */
  podIPs: string[];
  /** undefined for hostNetwork pods. */
  netnsPath?: string;
  /** `<data-dir>/agent/pods/<uid>`; created by preparePod if missing. */
  podDir: string;
  /** e.g. 'flotilla/pod<uid>'. */
  cgroupParent: string;
  /**
   * Cluster DNS for dnsPolicy ClusterFirst; undefined = the host's resolv.conf. With `clusterDomain`, the
   * pod's `<namespace>.svc.<clusterDomain>` search entry comes first.
   */
  clusterDns?: { nameservers: string[]; searches: string[]; options: string[]; clusterDomain?: string };
  /** Cluster domain for the subdomain FQDN in /etc/hosts; default `cluster.local`. */
  clusterDomain?: string;
  /** Node allocatable, the value of resourceFieldRef limits a container does not set; default: this host's CPUs and memory. */
  nodeAllocatable?: { cpuMilli: number; memoryBytes: number; ephemeralStorageBytes?: number };
  /** The node's resolv.conf (default `/etc/resolv.conf`), hosts file (default `/etc/hosts`) and hostname (default os.hostname()). */
  hostResolvConfPath?: string;
  hostHostsPath?: string;
  hostHostname?: string;
  /**
   * Every Service in the cluster (the agent's ServiceView), for the service environment variables;
   * undefined while the agent has not read them yet (containers then wait, as the kubelet's do).
   */
  services?: () => KubeObject[] | undefined;
}

export interface ObjectLookup {
  configMap(namespace: string, name: string): Promise<KubeObject | undefined>;
  secret(namespace: string, name: string): Promise<KubeObject | undefined>;
}

export interface PreparedPod {
  /** Volume name → host path prepared for it. */
  volumes: Map<string, string>;
  hostsFile: string;
  resolvConfFile: string;
  hostnameFile: string;
}

/**
 * Writes /etc/hosts, resolv.conf, hostname and the volumes under ctx.podDir. Safe to call again (refreshes
 * configMap/secret contents atomically, rewrites the pod files in place). Throws ContainerConfigError for a
 * missing non-optional source or a failed hostPath type check.
 */
export async function preparePod(ctx: PodContext, lookup: ObjectLookup): Promise<PreparedPod> {
  const files = await writePodFiles(ctx);
  const volumes = await prepareVolumes(ctx, lookup);
  return {
    volumes,
    hostsFile: files.hostsFile,
    resolvConfFile: files.resolvConfFile,
    hostnameFile: files.hostnameFile,
  };
}

/** Where a container instance's termination message file lives on the host (read it after the container exited). */
export function terminationLogPath(podDir: string, containerName: string, containerId: string): string {
  return join(podDir, 'containers', containerName, containerId);
}

/**
 * The final argv as a CRI runtime builds it: `command` replaces the image Entrypoint and drops its Cmd;
 * `args` alone replaces Cmd; `$(VAR)` expanded with the pod's env. Empty → CreateContainerError.
 */
export function containerArgs(
  container: Record<string, unknown>,
  image: ImageInfo,
  podVars: Map<string, string>,
): string[] {
  const expand = (s: string): string => expandVars(s, (n) => podVars.get(n));
  const command = strList(container['command']).map(expand);
  let args = strList(container['args']).map(expand);
  let entry = command;
  if (command.length === 0) {
    if (args.length === 0) args = [...(image.config.Cmd ?? [])];
    const ep = image.config.Entrypoint ?? [];
    entry = ep.length === 1 && ep[0] === '' ? [] : [...ep];
  }
  const argv = [...entry, ...args];
  if (argv.length === 0) throw new ContainerConfigError('CreateContainerError', 'no command specified');
  return argv;
}

function quantityOf(v: unknown, field: string, convert: (q: string | number) => number): number | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  try {
    return convert(v);
  } catch (err) {
    if (err instanceof QuantityError) throw configError(`invalid quantity for ${field}: ${String(v)}`);
    throw err;
  }
}

/** resources → ResourceLimits: cpu request (the limit when no request), cpu and memory limits. */
export function resourceLimits(container: Record<string, unknown>): ResourceLimits {
  const resources = rec(container['resources']);
  const limits = rec(resources['limits']);
  const requests = rec(resources['requests']);
  const cpuLimit = quantityOf(limits['cpu'], 'limits.cpu', quantityToMillis);
  const cpuRequest = quantityOf(requests['cpu'], 'requests.cpu', quantityToMillis) ?? cpuLimit ?? 0;
  const memLimit = quantityOf(limits['memory'], 'limits.memory', quantityValue);
  const out: ResourceLimits = { cpuRequestMilli: cpuRequest };
  if (cpuLimit !== undefined) out.cpuLimitMilli = cpuLimit;
  if (memLimit !== undefined) out.memoryLimitBytes = memLimit;
  return out;
}

function intOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

function podLabel(pod: KubeObject): string {
  return `${pod.metadata.name ?? ''}_${pod.metadata.namespace ?? ''}(${pod.metadata.uid ?? ''})`;
}

/**
 * The pod securityContext merged with the container's (container wins). Checks runAsNonRoot against the
 * effective user (runAsUser, else the image User) as the kubelet does.
 */
export function securitySettings(
  pod: KubeObject,
  container: Record<string, unknown>,
  image: ImageInfo,
): { security: SecuritySettings; imageUser?: string } {
  const psc = rec(podSpec(pod)['securityContext']);
  const csc = rec(container['securityContext']);
  const name = str(container['name']) ?? '';
  const privileged = csc['privileged'] === true;
  const caps = rec(csc['capabilities']);
  const seccompType =
    str(rec(csc['seccompProfile'])['type']) ?? str(rec(psc['seccompProfile'])['type']) ?? 'RuntimeDefault';
  let seccomp: SecuritySettings['seccomp'];
  if (privileged || seccompType === 'Unconfined') seccomp = 'Unconfined';
  else if (seccompType === 'RuntimeDefault') seccomp = 'RuntimeDefault';
  else
    throw configError(
      `seccomp profile type ${seccompType} is not supported (use RuntimeDefault or Unconfined)`,
    );

  const security: SecuritySettings = {
    privileged,
    // no_new_privs only when explicitly false (upstream AddNoNewPrivileges); privileged always may escalate.
    allowPrivilegeEscalation: privileged || csc['allowPrivilegeEscalation'] !== false,
    readOnlyRootFilesystem: csc['readOnlyRootFilesystem'] === true,
    capabilitiesAdd: strList(caps['add']),
    capabilitiesDrop: strList(caps['drop']),
    seccomp,
  };
  const runAsUser = intOf(csc['runAsUser']) ?? intOf(psc['runAsUser']);
  const runAsGroup = intOf(csc['runAsGroup']) ?? intOf(psc['runAsGroup']);
  const nonRootRaw = csc['runAsNonRoot'] ?? psc['runAsNonRoot'];
  const runAsNonRoot = typeof nonRootRaw === 'boolean' ? nonRootRaw : undefined;
  const groups = list(psc['supplementalGroups'])
    .map(intOf)
    .filter((g): g is number => g !== undefined);
  const fsGroup = intOf(psc['fsGroup']);
  if (fsGroup !== undefined && !groups.includes(fsGroup)) groups.push(fsGroup);
  if (runAsUser !== undefined) security.runAsUser = runAsUser;
  if (runAsGroup !== undefined) security.runAsGroup = runAsGroup;
  if (runAsNonRoot !== undefined) security.runAsNonRoot = runAsNonRoot;
  if (groups.length > 0) security.supplementalGroups = groups;

  const imageUser =
    runAsUser === undefined && (image.config.User ?? '') !== '' ? image.config.User : undefined;
  if (runAsNonRoot === true) {
    if (runAsUser !== undefined) {
      if (runAsUser === 0)
        throw configError(
          `container's runAsUser breaks non-root policy (pod: "${podLabel(pod)}", container: ${name})`,
        );
    } else {
      const user = (imageUser ?? '').split(':')[0] ?? '';
      if (user === '' || user === '0' || user === 'root')
        throw configError(
          `container has runAsNonRoot and image will run as root (pod: "${podLabel(pod)}", container: ${name})`,
        );
      if (!/^[0-9]+$/.test(user))
        throw configError(
          `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root (pod: "${podLabel(pod)}", container: ${name})`,
        );
    }
  }
  return imageUser !== undefined ? { security, imageUser } : { security };
}

/** Builds the create spec for one container (regular or init). Throws ContainerConfigError. */
export async function buildContainerSpec(args: {
  ctx: PodContext;
  prepared: PreparedPod;
  /** One entry of spec.containers / spec.initContainers. */
  container: Record<string, unknown>;
  kind: 'regular' | 'init';
  attempt: number;
  id: string;
  image: ImageInfo;
  lookup: ObjectLookup;
}): Promise<ContainerCreateSpec> {
  const { ctx, prepared, container, image } = args;
  const pod = ctx.pod;
  const name = str(container['name']) ?? '';
  const host = podHostname(ctx);
  const { security, imageUser } = securitySettings(pod, container, image);
  const { env, podVars } = await buildEnv({
    ctx,
    container,
    image,
    hostname: host.hostname,
    lookup: args.lookup,
  });
  const argv = containerArgs(container, image, podVars);

  const mounts: Mount[] = await volumeMounts({ pod, container, volumes: prepared.volumes, podVars });
  const taken = new Set(mounts.map((m) => m.containerPath.replace(/\/+$/, '')));
  const addFile = (containerPath: string, hostPath: string, readOnly: boolean): void => {
    if (!taken.has(containerPath)) mounts.push({ containerPath, hostPath, readOnly });
  };
  const ro = security.readOnlyRootFilesystem;
  addFile('/etc/hosts', prepared.hostsFile, ro);
  addFile('/etc/hostname', prepared.hostnameFile, ro);
  addFile('/etc/resolv.conf', prepared.resolvConfFile, ro);
  const termPath = str(container['terminationMessagePath']) ?? '/dev/termination-log';
  if (termPath !== '') {
    const file = terminationLogPath(ctx.podDir, name, args.id);
    await mkdir(join(ctx.podDir, 'containers', name), { recursive: true, mode: 0o750 });
    await writeFile(file, '', { flag: 'a' });
    await chmod(file, 0o666);
    addFile(termPath, file, false);
  }

  const spec: ContainerCreateSpec = {
    id: args.id,
    labels: {
      podUid: pod.metadata.uid ?? '',
      podName: pod.metadata.name ?? '',
      podNamespace: pod.metadata.namespace ?? 'default',
      containerName: name,
      attempt: args.attempt,
      kind: args.kind,
      specHash: containerSpecHash(container),
    },
    imageRef: str(container['image']) ?? '',
    imageId: image.id,
    layerDirs: [...image.layerDirs],
    args: argv,
    env,
    workingDir: nonEmpty(str(container['workingDir'])) ?? nonEmpty(image.config.WorkingDir) ?? '/',
    hostname: host.hostname,
    mounts,
    resources: resourceLimits(container),
    security,
    tty: container['tty'] === true,
    stdin: container['stdin'] === true,
    cgroupParent: ctx.cgroupParent,
  };
  if (imageUser !== undefined) spec.imageUser = imageUser;
  if (ctx.netnsPath !== undefined) spec.netnsPath = ctx.netnsPath;
  return spec;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

/** JSON with sorted keys; null, empty lists and empty objects are left out (same as absent). */
function canonical(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) {
    if (v.length === 0) return undefined;
    return `[${v.map((x) => canonical(x) ?? 'null').join(',')}]`;
  }
  if (isObject(v)) {
    const parts: string[] = [];
    for (const k of Object.keys(v).sort()) {
      const c = canonical(v[k]);
      if (c !== undefined) parts.push(`${JSON.stringify(k)}:${c}`);
    }
    return parts.length === 0 ? undefined : `{${parts.join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Stable hash of a container's spec (image, command, args, env, ports, resources, ...): a change means replace. */
export function containerSpecHash(container: Record<string, unknown>): string {
  return createHash('sha256')
    .update(canonical(container) ?? '{}')
    .digest('hex')
    .slice(0, 16);
}

/** A runc-safe unique container id: `<pod uid first 8>-<container name>-<attempt>-<6 random hex>`, max 64 chars. */
export function newContainerId(podUid: string, containerName: string, attempt: number): string {
  const clean = (s: string): string => s.replace(/[^a-zA-Z0-9_.-]/g, '');
  const uid = clean(podUid).slice(0, 8) || 'pod';
  const tail = `-${Math.max(0, Math.trunc(attempt))}-${randomBytes(3).toString('hex')}`;
  const room = 64 - uid.length - 1 - tail.length;
  const name = clean(containerName).slice(0, room) || 'c';
  return `${uid}-${name}${tail}`;
}

/** Removes ctx.podDir and everything in it (unmounting nothing: volumes here are plain dirs). Idempotent. */
export async function cleanupPodDir(podDir: string): Promise<void> {
  if (podDir === '' || resolve(podDir) === '/') throw new Error(`refusing to remove pod dir "${podDir}"`);
  await rm(podDir, { recursive: true, force: true });
}
