// The pod's /etc/hosts, /etc/resolv.conf and /etc/hostname, written under the pod dir and bind-mounted
// into each container, with the kubelet's contents (managed hosts file, DNS policy and dnsConfig merge).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../api/types.js';
import { isObject } from '../../api/types.js';
import type { PodContext } from './container-spec.js';
import { configError, list, podSpec, rec, str, strList } from './env.js';

/** Upstream limits (glibc's classic limits; upstream kubelet now allows 32 searches / 2048 chars). */
export const maxDnsNameservers = 3;
export const maxDnsSearches = 6;
export const maxDnsSearchChars = 256;

export interface PodHostname {
  /** What the container's hostname is set to (the FQDN with setHostnameAsFQDN). */
  hostname: string;
  /** The short name used in /etc/hosts. */
  shortName: string;
  /** `<subdomain>.<namespace>.svc.<clusterDomain>` when the pod has a subdomain. */
  domain?: string;
}

function isDns1123Label(s: string): boolean {
  return s.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s);
}

/** The pod's hostname as upstream derives it (spec.hostname or the name cut to 63, subdomain, FQDN). */
export function podHostname(ctx: PodContext): PodHostname {
  const spec = podSpec(ctx.pod);
  if (spec['hostNetwork'] === true) {
    const h = ctx.hostHostname ?? osHostname();
    return { hostname: h, shortName: h };
  }
  let name = ctx.pod.metadata.name ?? '';
  const given = str(spec['hostname']);
  if (given !== undefined && given !== '') {
    if (!isDns1123Label(given)) throw configError(`pod Hostname "${given}" is not a valid DNS label`);
    name = given;
  }
  if (name.length > 63) name = name.slice(0, 63).replace(/[-.]+$/, '');
  const subdomain = str(spec['subdomain']);
  const out: PodHostname = { hostname: name, shortName: name };
  if (subdomain !== undefined && subdomain !== '') {
    out.domain = `${subdomain}.${ctx.pod.metadata.namespace ?? 'default'}.svc.${ctx.clusterDomain ?? 'cluster.local'}`;
    if (spec['setHostnameAsFQDN'] === true) {
      const fqdn = `${name}.${out.domain}`;
      if (fqdn.length > 64)
        throw configError(
          `failed to construct FQDN from pod hostname and cluster domain, FQDN ${fqdn} is too long (64 characters is the max, ${fqdn.length} characters requested)`,
        );
      out.hostname = fqdn;
    }
  }
  return out;
}

function hostAliasLines(pod: KubeObject): string {
  const aliases = list(podSpec(pod)['hostAliases']).filter(isObject);
  if (aliases.length === 0) return '';
  let out = '\n# Entries added by HostAliases.\n';
  for (const a of aliases) out += `${str(a['ip']) ?? ''}\t${strList(a['hostnames']).join('\t')}\n`;
  return out;
}

/** The managed /etc/hosts of a pod on the pod network. */
export function hostsFileContent(ctx: PodContext, host: PodHostname): string {
  let out =
    '# Kubernetes-managed hosts file.\n' +
    '127.0.0.1\tlocalhost\n' +
    '::1\tlocalhost ip6-localhost ip6-loopback\n' +
    'fe00::0\tip6-localnet\n' +
    'fe00::0\tip6-mcastprefix\n' +
    'fe00::1\tip6-allnodes\n' +
    'fe00::2\tip6-allrouters\n';
  for (const ip of ctx.podIPs) {
    out +=
      host.domain !== undefined
        ? `${ip}\t${host.shortName}.${host.domain}\t${host.shortName}\n`
        : `${ip}\t${host.shortName}\n`;
  }
  return out + hostAliasLines(ctx.pod);
}

export interface DnsConfig {
  nameservers: string[];
  searches: string[];
  options: string[];
}

/** Parses resolv.conf text (nameserver, search/domain, options lines). */
export function parseResolvConf(text: string): DnsConfig {
  const out: DnsConfig = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const fields = line.split(/\s+/).filter((f) => f !== '');
    const [key, ...rest] = fields;
    if (key === 'nameserver' && rest[0] !== undefined) out.nameservers.push(rest[0]);
    else if (key === 'search') out.searches = rest.filter((s) => s !== '.');
    else if (key === 'domain' && rest[0] !== undefined) out.searches = [rest[0]];
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Upstream mergeDNSOptions: pod options override by name; `name:value` or `name`. Order kept. */
function mergeOptions(existing: string[], extra: unknown[]): string[] {
  const m = new Map<string, string>();
  for (const op of existing) {
    const i = op.indexOf(':');
    if (i >= 0) m.set(op.slice(0, i), op.slice(i + 1));
    else m.set(op, '');
  }
  for (const raw of extra) {
    const o = rec(raw);
    const name = str(o['name']);
    if (name === undefined || name === '') continue;
    m.set(name, str(o['value']) ?? '');
  }
  return [...m].map(([k, v]) => (v === '' ? k : `${k}:${v}`));
}

function fitSearches(searches: string[]): string[] {
  let out = searches.slice(0, maxDnsSearches);
  while (out.join(' ').length > maxDnsSearchChars) out = out.slice(0, -1);
  return out;
}

/**
 * The pod's DNS configuration by dnsPolicy: ClusterFirst(WithHostNet) → cluster DNS with the host's
 * searches appended (the host's file when no cluster DNS is configured, and for hostNetwork pods with
 * ClusterFirst); Default → the host's; None → only dnsConfig. dnsConfig is then merged in.
 */
export function podDnsConfig(ctx: PodContext, hostResolv: DnsConfig): DnsConfig {
  const spec = podSpec(ctx.pod);
  const policy = str(spec['dnsPolicy']) ?? 'ClusterFirst';
  const hostNetwork = spec['hostNetwork'] === true;
  let cfg: DnsConfig;
  const clusterFirst = (policy === 'ClusterFirst' && !hostNetwork) || policy === 'ClusterFirstWithHostNet';
  if (policy === 'None') cfg = { nameservers: [], searches: [], options: [] };
  else if (clusterFirst && ctx.clusterDns !== undefined) {
    // The pod's own namespace first, as the kubelet writes it: `web` finds web.<ns>.svc.<domain>.
    const domain = ctx.clusterDns.clusterDomain;
    const own = domain === undefined ? [] : [`${ctx.pod.metadata.namespace ?? 'default'}.svc.${domain}`];
    cfg = {
      nameservers: [...ctx.clusterDns.nameservers],
      searches: dedupe([...own, ...ctx.clusterDns.searches, ...hostResolv.searches]),
      options: [...ctx.clusterDns.options],
    };
  } else
    cfg = {
      nameservers: [...hostResolv.nameservers],
      searches: [...hostResolv.searches],
      options: [...hostResolv.options],
    };
  const extra = isObject(spec['dnsConfig']) ? spec['dnsConfig'] : undefined;
  if (extra !== undefined) {
    cfg.nameservers = dedupe([...cfg.nameservers, ...strList(extra['nameservers'])]);
    cfg.searches = dedupe([...cfg.searches, ...strList(extra['searches'])]);
    cfg.options = mergeOptions(cfg.options, list(extra['options']));
  }
  cfg.nameservers = cfg.nameservers.slice(0, maxDnsNameservers);
  cfg.searches = fitSearches(cfg.searches);
  return cfg;
}

export function resolvConfContent(cfg: DnsConfig): string {
  let out = '';
  if (cfg.searches.length > 0) out += `search ${cfg.searches.join(' ')}\n`;
  for (const ns of cfg.nameservers) out += `nameserver ${ns}\n`;
  if (cfg.options.length > 0) out += `options ${cfg.options.join(' ')}\n`;
  return out;
}

async function readOr<T extends string | undefined>(path: string, fallback: T): Promise<string | T> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** Rewrites a pod file in place only when its content differs (each container of a pod asks again). */
async function writeIfChanged(path: string, content: string): Promise<void> {
  if ((await readOr(path, undefined)) === content) return;
  await writeFile(path, content, { mode: 0o644 });
}

/**
 * Writes `<podDir>/etc-hosts`, `<podDir>/resolv.conf` and `<podDir>/hostname`. Rewrites in place (same
 * inode), so containers that bind-mount them see a later refresh (for example the pod IP once known).
 */
export async function writePodFiles(
  ctx: PodContext,
): Promise<{ hostsFile: string; resolvConfFile: string; hostnameFile: string; hostname: PodHostname }> {
  await mkdir(ctx.podDir, { recursive: true, mode: 0o750 });
  const host = podHostname(ctx);
  const hostNetwork = podSpec(ctx.pod)['hostNetwork'] === true;
  const hostsFile = join(ctx.podDir, 'etc-hosts');
  const resolvConfFile = join(ctx.podDir, 'resolv.conf');
  const hostnameFile = join(ctx.podDir, 'hostname');

  let hosts: string;
  if (hostNetwork) {
    const nodeHosts = await readOr(ctx.hostHostsPath ?? '/etc/hosts', '');
    hosts = '# Kubernetes-managed hosts file (host network).\n' + nodeHosts + hostAliasLines(ctx.pod);
  } else hosts = hostsFileContent(ctx, host);
  const hostResolv = parseResolvConf(await readOr(ctx.hostResolvConfPath ?? '/etc/resolv.conf', ''));
  const resolv = resolvConfContent(podDnsConfig(ctx, hostResolv));

  await Promise.all([
    writeIfChanged(hostsFile, hosts),
    writeIfChanged(resolvConfFile, resolv),
    writeIfChanged(hostnameFile, `${host.hostname}\n`),
  ]);
  return { hostsFile, resolvConfFile, hostnameFile, hostname: host };
}
