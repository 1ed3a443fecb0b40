// The Kubernetes service environment variables of a container, as the kubelet makes them: for every Service
// with a ClusterIP in the pod's namespace (when spec.enableServiceLinks is not false) and for the
// `kubernetes` Service of the default namespace (always), `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT`,
// `<NAME>_SERVICE_PORT_<PORT NAME>` and the Docker-link variables `<NAME>_PORT`, `<NAME>_PORT_<port>_<PROTO>`
// and its `_PROTO`, `_PORT`, `_ADDR`. Pure; explicit container env wins (buildEnv applies these first).
import type { KubeObject } from '../../api/types.js';

/** Services of this namespace with these names reach every pod, enableServiceLinks or not. */
const masterNamespace = 'default';
const masterServices = new Set(['kubernetes']);

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Upstream makeEnvVariableName: upper case, `-` → `_`. */
export function envVarName(serviceName: string): string {
  return serviceName.replace(/-/g, '_').toUpperCase();
}

function clusterIPOf(svc: KubeObject): string | undefined {
  const ip = rec(svc.spec)['clusterIP'];
  return typeof ip === 'string' && ip !== '' && ip !== 'None' ? ip : undefined;
}

interface Port {
  name: string;
  port: number;
  protocol: string;
}

function portsOf(svc: KubeObject): Port[] {
  const raw = rec(svc.spec)['ports'];
  const out: Port[] = [];
  for (const p of Array.isArray(raw) ? raw : []) {
    const r = rec(p);
    if (typeof r['port'] !== 'number') continue;
    out.push({
      name: typeof r['name'] === 'string' ? r['name'] : '',
      port: r['port'],
      protocol: typeof r['protocol'] === 'string' && r['protocol'] !== '' ? r['protocol'] : 'TCP',
    });
  }
  return out;
}

/** `host:port`, with brackets for an IPv6 host (Go's net.JoinHostPort). */
function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The variables of one Service (upstream envvars.FromServices for one entry). */
export function serviceVars(svc: KubeObject): [string, string][] {
  const ip = clusterIPOf(svc);
  const ports = portsOf(svc);
  const first = ports[0];
  if (ip === undefined || first === undefined) return [];
  const prefix = envVarName(svc.metadata.name ?? '');
  const out: [string, string][] = [
    [`${prefix}_SERVICE_HOST`, ip],
    [`${prefix}_SERVICE_PORT`, String(first.port)],
  ];
  for (const p of ports)
    if (p.name !== '') out.push([`${prefix}_SERVICE_PORT_${envVarName(p.name)}`, String(p.port)]);
  ports.forEach((p, i) => {
    const proto = p.protocol.toLowerCase();
    const url = `${proto}://${joinHostPort(ip, p.port)}`;
    if (i === 0) out.push([`${prefix}_PORT`, url]);
    const portPrefix = `${prefix}_PORT_${p.port}_${p.protocol.toUpperCase()}`;
    out.push(
      [portPrefix, url],
      [`${portPrefix}_PROTO`, proto],
      [`${portPrefix}_PORT`, String(p.port)],
      [`${portPrefix}_ADDR`, ip],
    );
  });
  return out;
}

/**
 * The service variables a container of `pod` gets, from every Service in the cluster. A Service of the
 * pod's own namespace beats a master Service of the same name; Services are taken in name order.
 */
export function serviceEnv(pod: KubeObject, services: KubeObject[]): Map<string, string> {
  const ns = pod.metadata.namespace ?? 'default';
  const links = rec(pod.spec)['enableServiceLinks'] !== false;
  const chosen = new Map<string, KubeObject>();
  for (const svc of services) {
    const name = svc.metadata.name ?? '';
    if (clusterIPOf(svc) === undefined) continue;
    const own = links && svc.metadata.namespace === ns;
    if (own) chosen.set(name, svc);
    else if (svc.metadata.namespace === masterNamespace && masterServices.has(name) && !chosen.has(name))
      chosen.set(name, svc);
  }
  const out = new Map<string, string>();
  for (const name of [...chosen.keys()].sort())
    for (const [k, v] of serviceVars(chosen.get(name) as KubeObject)) out.set(k, v);
  return out;
}
