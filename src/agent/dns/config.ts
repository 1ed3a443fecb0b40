// Cluster DNS settings: upstream resolver addresses (`ip`, `ip:port`, `[v6]:port`) and the default upstreams
// from the host's resolv.conf. Pure: the caller reads the file.

export interface Upstream {
  host: string;
  port: number;
}

function isIpv4(s: string): boolean {
  const p = s.split('.');
  return p.length === 4 && p.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255);
}

function isIpv6(s: string): boolean {
  return /^[0-9a-fA-F:.]+$/.test(s) && s.includes(':') && (s.match(/::/g) ?? []).length <= 1;
}

/** Parses one upstream address; throws an Error naming the bad value. */
export function parseUpstream(text: string): Upstream {
  const s = text.trim();
  let host = s;
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const hostPort = /^([^:]+):(\d+)$/.exec(s);
  if (bracket !== null) {
    host = bracket[1] ?? '';
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (hostPort !== null) {
    host = hostPort[1] ?? '';
    port = Number(hostPort[2]);
  }
  if (!(isIpv4(host) || isIpv6(host)) || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`DNS upstream must be an IP address with an optional :port, got "${text}"`);
  return { host, port };
}

/** Parses a comma-separated list of upstreams (empty entries ignored). */
export function parseUpstreamList(text: string): Upstream[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(parseUpstream);
}

export function formatUpstream(u: Upstream): string {
  return u.host.includes(':') ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`;
}

/** The nameservers of a resolv.conf text, without `skip` (our own address: forwarding there would loop). */
export function upstreamsFromResolvConf(text: string, skip: string[] = []): Upstream[] {
  const out: Upstream[] = [];
  for (const raw of text.split('\n')) {
    const fields = raw
      .replace(/[#;].*$/, '')
      .trim()
      .split(/\s+/);
    if (fields[0] !== 'nameserver' || fields[1] === undefined) continue;
    // A zone index (fe80::1%eth0) cannot be dialled the same way from every netns; leave such entries out.
    if (fields[1].includes('%') || skip.includes(fields[1])) continue;
    try {
      out.push(parseUpstream(fields[1]));
    } catch {
      // Not an address: resolv.conf allows nothing else, so ignore it.
    }
  }
  return out;
}

/** What the agent hands its pods for dnsPolicy ClusterFirst. */
export function podClusterDns(
  nameserver: string,
  domain: string,
): { nameservers: string[]; searches: string[]; options: string[]; clusterDomain: string } {
  return {
    nameservers: [nameserver],
    searches: [`svc.${domain}`, domain],
    options: ['ndots:5'],
    clusterDomain: domain,
  };
}
