// `flotilla describe` output, section for section what kubectl's describers print
// (k8s.io/kubectl/pkg/describe): tab-aligned `Key:  value` lines, nested sections, and an `Events:`
// table at the end. Values are printed as stored (no defaults filled in), as kubectl does, so the two
// tools print the same text for the same object. Describers may read related objects (ReplicaSets of
// a Deployment, EndpointSlices of a Service, pods on a Node, the Node's Lease) and events.
import type { ApiClient } from '../api/client/client.js';
import { formatQuantity, quantityToMillis, quantityValue, tryParseQuantity } from '../api/quantity.js';
import { findByKind, type ResourceInfo } from '../api/resources.js';
import { age, formatLabelSelector, formatLabels, nodeRoles } from '../api/table/columns.js';
import type { KubeObject } from '../api/types.js';
import { lastAppliedAnnotation } from './apply-patch.js';
import { tabwrite } from './printers/tabwriter.js';

type Rec = Record<string, unknown>;

function rec(v: unknown): Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {};
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}
/** Go's `%d` of an optional int field: 0 when absent. */
function num(v: unknown): string {
  return typeof v === 'number' ? String(v) : '0';
}
/** Go's `%v` of a bool field: false when absent. */
function bool(v: unknown): string {
  return v === true ? 'true' : 'false';
}
function orNone(v: string): string {
  return v === '' ? '<none>' : v;
}
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 1123 with numeric zone, in UTC: `Mon, 02 Jan 2006 15:04:05 +0000` (kubectl's describe format). */
export function formatTime(ts: unknown): string {
  if (typeof ts !== 'string' || ts === '') return 'Mon, 01 Jan 0001 00:00:00 +0000';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()] ?? ''}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()] ?? ''} ${d.getUTCFullYear()} ${p(
    d.getUTCHours(),
  )}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Lines with kubectl's PrefixWriter levels (two spaces each); cells separated by tabs. */
export class DescribeWriter {
  private readonly lines: string[] = [];

  line(level: number, text: string): void {
    this.lines.push(`${'  '.repeat(level)}${text}`);
  }

  /** kubectl's printLabelsMultilineWithIndent: `Title:\tk=v`, further pairs on `\tk=v` lines. */
  multiline(level: number, title: string, values: string[]): void {
    if (values.length === 0) {
      this.line(level, `${title}:\t<none>`);
      return;
    }
    values.forEach((v, i) => this.line(level, i === 0 ? `${title}:\t${v}` : `\t${v}`));
  }

  labels(level: number, title: string, labels: unknown): void {
    const map = rec(labels);
    this.multiline(
      level,
      title,
      Object.keys(map)
        .sort(cmp)
        .map((k) => `${k}=${str(map[k])}`),
    );
  }

  /** kubectl's printAnnotationsMultiline: long or multi-line values go on their own lines. */
  annotations(level: number, title: string, annotations: unknown): void {
    const map = rec(annotations);
    const keys = Object.keys(map)
      .filter((k) => k !== lastAppliedAnnotation)
      .sort(cmp);
    if (keys.length === 0) {
      this.line(level, `${title}:\t<none>`);
      return;
    }
    keys.forEach((k, i) => {
      const first = i === 0 ? `${title}:\t` : '\t';
      const value = str(map[k]).replace(/\n$/, '');
      if (value.length + k.length + 2 > 140 || value.includes('\n')) {
        this.line(level, `${first}${k}:`);
        for (const s of value.split('\n'))
          this.line(level, `\t  ${s.length > 138 ? `${s.slice(0, 138)}...` : s}`);
      } else {
        this.line(level, `${first}${k}: ${value}`);
      }
    });
  }

  toString(): string {
    return this.lines.length === 0 ? '' : tabwrite(`${this.lines.join('\n')}\n`, { minWidth: 0, padding: 2 });
  }
}

export interface DescribeContext {
  client: ApiClient;
  now: number;
}

function controlledBy(obj: KubeObject): string {
  const owner = (obj.metadata.ownerReferences ?? []).find((o) => o.controller === true);
  return owner === undefined ? '' : `${owner.kind}/${owner.name}`;
}

async function listQuiet(
  ctx: DescribeContext,
  apiVersion: string,
  kind: string,
  namespace: string | undefined,
  opts: { labelSelector?: string; fieldSelector?: string } = {},
): Promise<KubeObject[] | undefined> {
  const info = findByKind(apiVersion, kind);
  if (info === undefined) return undefined;
  try {
    return (await ctx.client.list(info, namespace, opts)).items;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Quantities and resources.

function quantityString(v: unknown): string {
  const q = tryParseQuantity(v);
  return q === undefined ? str(v) : formatQuantity(q);
}

function resources(w: DescribeWriter, level: number, res: Rec): void {
  for (const [key, title] of [
    ['limits', 'Limits'],
    ['requests', 'Requests'],
  ] as const) {
    const list = rec(res[key]);
    const names = Object.keys(list).sort(cmp);
    if (names.length === 0) continue;
    w.line(level, `${title}:`);
    for (const n of names) w.line(level + 1, `${n}:\t${quantityString(list[n])}`);
  }
}

type ResourceTotals = Map<string, bigint>;

/** resourcehelper.PodRequests/PodLimits: containers summed, init containers as a floor, plus overhead. */
function podResources(
  pod: KubeObject,
  key: 'requests' | 'limits',
): Map<string, { nanos: bigint; text: string }> {
  const spec = rec(pod.spec);
  const texts = new Map<string, string>();
  const acc = (list: Rec, into: Map<string, bigint>): void => {
    for (const [k, v] of Object.entries(list)) {
      const q = tryParseQuantity(v);
      if (q === undefined) continue;
      into.set(k, (into.get(k) ?? 0n) + q.nanos);
      if (!texts.has(k)) texts.set(k, str(v));
    }
  };
  const total = new Map<string, bigint>();
  for (const c of arr(spec['containers'])) acc(rec(rec(rec(c)['resources'])[key]), total);
  for (const c of arr(spec['initContainers'])) {
    const one = new Map<string, bigint>();
    acc(rec(rec(rec(c)['resources'])[key]), one);
    for (const [k, v] of one) if (v > (total.get(k) ?? 0n)) total.set(k, v);
  }
  acc(rec(spec['overhead']), total);
  const out = new Map<string, { nanos: bigint; text: string }>();
  for (const [k, nanos] of total) {
    const like = tryParseQuantity(texts.get(k) ?? '0');
    out.set(k, { nanos, text: formatQuantity({ nanos, format: like?.format ?? 'DecimalSI' }) });
  }
  return out;
}

const NANO = 1_000_000_000n;

/** Go's int64(float64(a)/float64(b)*100); NaN and ±Inf become math.MinInt64 as on amd64. */
function percent(part: number, whole: number): string {
  const f = (part / whole) * 100;
  if (!Number.isFinite(f)) return '-9223372036854775808';
  return String(Math.trunc(f));
}

// ---------------------------------------------------------------------------------------------
// Containers (pods and pod templates).

function portsText(c: Rec, host: boolean): string {
  return arr(c['ports'])
    .map(rec)
    .map((p) => {
      const base = `${num(host ? p['hostPort'] : p['containerPort'])}/${str(p['protocol'])}`;
      return str(p['name']) !== '' ? `${base} (${str(p['name'])})` : base;
    })
    .join(', ');
}

function intOrString(v: unknown): string {
  return typeof v === 'number' ? String(v) : typeof v === 'string' ? v : '0';
}

/** kubectl's DescribeProbe. */
export function probeText(p: Rec): string {
  const attrs = `delay=${num(p['initialDelaySeconds'])}s timeout=${num(p['timeoutSeconds'])}s period=${num(p['periodSeconds'])}s #success=${num(p['successThreshold'])} #failure=${num(p['failureThreshold'])}`;
  if (p['exec'] !== undefined) return `exec [${arr(rec(p['exec'])['command']).map(str).join(' ')}] ${attrs}`;
  if (p['httpGet'] !== undefined) {
    const h = rec(p['httpGet']);
    const scheme = str(h['scheme']).toLowerCase();
    const port = intOrString(h['port']);
    const hostName = str(h['host']);
    const host = port !== '' ? `${hostName.includes(':') ? `[${hostName}]` : hostName}:${port}` : hostName;
    let path = str(h['path']);
    if (path !== '' && !path.startsWith('/') && host !== '') path = `/${path}`;
    return `http-get ${scheme === '' ? '' : `${scheme}:`}//${host}${path} ${attrs}`;
  }
  if (p['tcpSocket'] !== undefined) {
    const t = rec(p['tcpSocket']);
    return `tcp-socket ${str(t['host'])}:${intOrString(t['port'])} ${attrs}`;
  }
  if (p['grpc'] !== undefined) {
    const g = rec(p['grpc']);
    return `grpc <pod>:${num(g['port'])} ${str(g['service'])} ${attrs}`;
  }
  return `unknown ${attrs}`;
}

function stateText(w: DescribeWriter, title: string, state: Rec): void {
  if (state['running'] !== undefined) {
    w.line(2, `${title}:\tRunning`);
    w.line(3, `Started:\t${formatTime(rec(state['running'])['startedAt'])}`);
  } else if (state['waiting'] !== undefined) {
    const s = rec(state['waiting']);
    w.line(2, `${title}:\tWaiting`);
    if (str(s['reason']) !== '') w.line(3, `Reason:\t${str(s['reason'])}`);
  } else if (state['terminated'] !== undefined) {
    const s = rec(state['terminated']);
    w.line(2, `${title}:\tTerminated`);
    if (str(s['reason']) !== '') w.line(3, `Reason:\t${str(s['reason'])}`);
    if (str(s['message']) !== '') w.line(3, `Message:\t${str(s['message'])}`);
    w.line(3, `Exit Code:\t${num(s['exitCode'])}`);
    if (typeof s['signal'] === 'number' && s['signal'] > 0) w.line(3, `Signal:\t${s['signal']}`);
    w.line(3, `Started:\t${formatTime(s['startedAt'])}`);
    w.line(3, `Finished:\t${formatTime(s['finishedAt'])}`);
  } else {
    w.line(2, `${title}:\tWaiting`);
  }
}

/** The value a pod field reference resolves to (fieldpath.ExtractFieldPathAsString). */
function fieldRefValue(pod: KubeObject | undefined, fieldPath: string): string {
  if (pod === undefined) return '';
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
  if (m !== null) return str(rec(pod.metadata[m[1] as 'labels' | 'annotations'])[m[2] ?? '']);
  switch (fieldPath) {
    case 'metadata.labels':
    case 'metadata.annotations': {
      const map = rec(pod.metadata[fieldPath === 'metadata.labels' ? 'labels' : 'annotations']);
      return Object.keys(map)
        .sort(cmp)
        .map((k) => `${k}="${str(map[k])}"`)
        .join('\n');
    }
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    default:
      // kubectl resolves only metadata fields on the client (fieldpath.ExtractFieldPathAsString).
      return '';
  }
}

/** kubectl's ExtractContainerResourceValue for env vars from resourceFieldRef. */
function resourceFieldValue(container: Rec, ref: Rec): string {
  const resource = str(ref['resource']);
  const [kind = '', name = ''] = resource.split('.');
  const q = tryParseQuantity(rec(rec(container['resources'])[kind])[name]);
  const divisor = tryParseQuantity(ref['divisor'] ?? (name === 'cpu' ? '1' : '1')) ?? tryParseQuantity('1');
  let value = '0';
  if (q !== undefined && divisor !== undefined && divisor.nanos !== 0n) {
    if (name === 'cpu') {
      const m = BigInt(quantityToMillis(q));
      const d = BigInt(quantityToMillis(divisor));
      value = String((m + d - 1n) / d);
    } else {
      value = String((q.nanos + divisor.nanos - 1n) / divisor.nanos);
    }
  }
  if (value === '0' && (resource === 'limits.cpu' || resource === 'limits.memory')) return 'node allocatable';
  return value;
}

function containers(
  w: DescribeWriter,
  title: string,
  specs: unknown,
  statuses: unknown,
  pod: KubeObject | undefined,
  template: boolean,
): void {
  const list = arr(specs).map(rec);
  const space = template ? '  ' : '';
  w.line(0, `${space}${title}:${list.length === 0 ? ' <none>' : ''}`);
  const byName = new Map(arr(statuses).map((s) => [str(rec(s)['name']), rec(s)] as const));
  for (const c of list) {
    const name = str(c['name']);
    const st = byName.get(name);
    w.line(1, `${template ? ' ' : ''}${name}:`);
    if (st !== undefined) w.line(2, `Container ID:\t${str(st['containerID'])}`);
    w.line(2, `Image:\t${str(c['image'])}`);
    if (st !== undefined) w.line(2, `Image ID:\t${str(st['imageID'])}`);
    const ports = portsText(c, false);
    w.line(2, ports.includes(',') ? `Ports:\t${ports}` : `Port:\t${orNone(ports)}`);
    const hostPorts = portsText(c, true);
    w.line(2, hostPorts.includes(',') ? `Host Ports:\t${hostPorts}` : `Host Port:\t${orNone(hostPorts)}`);
    const seccomp = rec(rec(c['securityContext'])['seccompProfile']);
    if (Object.keys(seccomp).length > 0) {
      w.line(2, `SeccompProfile:\t${str(seccomp['type'])}`);
      if (str(seccomp['type']) === 'Localhost')
        w.line(3, `LocalhostProfile:\t${str(seccomp['localhostProfile'])}`);
    }
    for (const [key, label] of [
      ['command', 'Command'],
      ['args', 'Args'],
    ] as const) {
      const items = arr(c[key]).map(str);
      if (items.length === 0) continue;
      w.line(2, `${label}:`);
      for (const x of items) for (const s of x.split('\n')) w.line(3, s);
    }
    if (st !== undefined) {
      stateText(w, 'State', rec(st['state']));
      if (rec(st['lastState'])['terminated'] !== undefined) stateText(w, 'Last State', rec(st['lastState']));
      w.line(2, `Ready:\t${st['ready'] === true ? 'True' : 'False'}`);
      w.line(2, `Restart Count:\t${num(st['restartCount'])}`);
    }
    resources(w, 2, rec(c['resources']));
    for (const [key, label] of [
      ['livenessProbe', 'Liveness'],
      ['readinessProbe', 'Readiness'],
      ['startupProbe', 'Startup'],
    ] as const) {
      if (c[key] !== undefined && c[key] !== null) w.line(2, `${label}:\t${probeText(rec(c[key]))}`);
    }
    const envFrom = arr(c['envFrom']).map(rec);
    if (envFrom.length > 0) {
      w.line(2, 'Environment Variables from:');
      for (const e of envFrom) {
        const cm = rec(e['configMapRef']);
        const secret = rec(e['secretRef']);
        const [from, ref] = e['configMapRef'] !== undefined ? ['ConfigMap', cm] : ['Secret', secret];
        const prefix = str(e['prefix']);
        w.line(
          3,
          `${str(ref['name'])}\t${from}${prefix !== '' ? ` with prefix '${prefix}'` : ''}\tOptional: ${bool(ref['optional'])}`,
        );
      }
    }
    const env = arr(c['env']).map(rec);
    w.line(2, `Environment:${env.length === 0 ? '\t<none>' : ''}`);
    for (const e of env) {
      const name2 = str(e['name']);
      const from = rec(e['valueFrom']);
      if (e['valueFrom'] === undefined || e['valueFrom'] === null) {
        str(e['value'])
          .split('\n')
          .forEach((s, i) => w.line(3, i === 0 ? `${name2}:\t${s}` : `\t${s}`));
        continue;
      }
      if (from['fieldRef'] !== undefined) {
        const f = rec(from['fieldRef']);
        w.line(
          3,
          `${name2}:\t${fieldRefValue(pod, str(f['fieldPath']))} (${str(f['apiVersion'])}:${str(f['fieldPath'])})`,
        );
      } else if (from['resourceFieldRef'] !== undefined) {
        const r = rec(from['resourceFieldRef']);
        w.line(3, `${name2}:\t${resourceFieldValue(c, r)} (${str(r['resource'])})`);
      } else if (from['secretKeyRef'] !== undefined) {
        const r = rec(from['secretKeyRef']);
        w.line(
          3,
          `${name2}:\t<set to the key '${str(r['key'])}' in secret '${str(r['name'])}'>\tOptional: ${bool(r['optional'])}`,
        );
      } else if (from['configMapKeyRef'] !== undefined) {
        const r = rec(from['configMapKeyRef']);
        w.line(
          3,
          `${name2}:\t<set to the key '${str(r['key'])}' of config map '${str(r['name'])}'>\tOptional: ${bool(r['optional'])}`,
        );
      }
    }
    const mounts = arr(c['volumeMounts'])
      .map(rec)
      .sort((a, b) => cmp(str(a['mountPath']), str(b['mountPath'])));
    w.line(2, `Mounts:${mounts.length === 0 ? '\t<none>' : ''}`);
    for (const m of mounts) {
      const flags = [m['readOnly'] === true ? 'ro' : 'rw'];
      if (str(m['subPath']) !== '') flags.push(`path=${JSON.stringify(str(m['subPath']))}`);
      w.line(3, `${str(m['mountPath'])} from ${str(m['name'])} (${flags.join(',')})`);
    }
    const devices = arr(c['volumeDevices'])
      .map(rec)
      .sort((a, b) => cmp(str(a['devicePath']), str(b['devicePath'])));
    if (devices.length > 0) {
      w.line(2, 'Devices:');
      for (const d of devices) w.line(3, `${str(d['devicePath'])} from ${str(d['name'])}`);
    }
  }
}

/** kubectl's describeVolumes and the print*VolumeSource functions for the common types. */
function volumes(w: DescribeWriter, specVolumes: unknown, template: boolean): void {
  const list = arr(specVolumes).map(rec);
  const space = template ? '  ' : '';
  if (list.length === 0) {
    w.line(0, `${space}Volumes:\t<none>`);
    return;
  }
  w.line(0, `${space}Volumes:`);
  for (const v of list) {
    w.line(1, `${template ? ' ' : ''}${str(v['name'])}:`);
    const lines = (type: string, fields: [string, string][]): void => {
      w.line(2, `Type:\t${type}`);
      for (const [k, val] of fields) w.line(2, `${k}:\t${val}`);
    };
    if (v['hostPath'] !== undefined) {
      const h = rec(v['hostPath']);
      lines('HostPath (bare host directory volume)', [
        ['Path', str(h['path'])],
        ['HostPathType', str(h['type']) === '' && h['type'] === undefined ? '<none>' : str(h['type'])],
      ]);
    } else if (v['emptyDir'] !== undefined) {
      const e = rec(v['emptyDir']);
      const size = tryParseQuantity(e['sizeLimit']);
      lines("EmptyDir (a temporary directory that shares a pod's lifetime)", [
        ['Medium', str(e['medium'])],
        ['SizeLimit', size !== undefined && size.nanos > 0n ? formatQuantity(size) : '<unset>'],
      ]);
    } else if (v['secret'] !== undefined) {
      const s = rec(v['secret']);
      lines('Secret (a volume populated by a Secret)', [
        ['SecretName', str(s['secretName'])],
        ['Optional', bool(s['optional'])],
      ]);
    } else if (v['configMap'] !== undefined) {
      const c = rec(v['configMap']);
      lines('ConfigMap (a volume populated by a ConfigMap)', [
        ['Name', str(c['name'])],
        ['Optional', bool(c['optional'])],
      ]);
    } else if (v['nfs'] !== undefined) {
      const n = rec(v['nfs']);
      lines('NFS (an NFS mount that lasts the lifetime of a pod)', [
        ['Server', str(n['server'])],
        ['Path', str(n['path'])],
        ['ReadOnly', bool(n['readOnly'])],
      ]);
    } else if (v['persistentVolumeClaim'] !== undefined) {
      const p = rec(v['persistentVolumeClaim']);
      lines('PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)', [
        ['ClaimName', str(p['claimName'])],
        ['ReadOnly', bool(p['readOnly'])],
      ]);
    } else if (v['ephemeral'] !== undefined) {
      lines(
        'EphemeralVolume (an inline specification for a volume that gets created and deleted with the pod)',
        [],
      );
    } else if (v['downwardAPI'] !== undefined) {
      w.line(2, 'Type:\tDownwardAPI (a volume populated by information about the pod)');
      w.line(2, 'Items:');
      for (const it of arr(rec(v['downwardAPI'])['items']).map(rec)) {
        if (it['fieldRef'] !== undefined)
          w.line(3, `${str(rec(it['fieldRef'])['fieldPath'])} -> ${str(it['path'])}`);
        if (it['resourceFieldRef'] !== undefined)
          w.line(3, `${str(rec(it['resourceFieldRef'])['resource'])} -> ${str(it['path'])}`);
      }
    } else if (v['projected'] !== undefined) {
      w.line(2, 'Type:\tProjected (a volume that contains injected data from multiple sources)');
      for (const src of arr(rec(v['projected'])['sources']).map(rec)) {
        if (src['secret'] !== undefined) {
          w.line(2, `SecretName:\t${str(rec(src['secret'])['name'])}`);
          w.line(2, `Optional:\t${bool(rec(src['secret'])['optional'])}`);
        } else if (src['downwardAPI'] !== undefined) {
          w.line(2, 'DownwardAPI:\ttrue');
        } else if (src['configMap'] !== undefined) {
          w.line(2, `ConfigMapName:\t${str(rec(src['configMap'])['name'])}`);
          w.line(2, `Optional:\t${bool(rec(src['configMap'])['optional'])}`);
        } else if (src['serviceAccountToken'] !== undefined) {
          w.line(2, `TokenExpirationSeconds:\t${num(rec(src['serviceAccountToken'])['expirationSeconds'])}`);
        }
      }
    } else if (v['csi'] !== undefined) {
      const c = rec(v['csi']);
      lines('CSI (a Container Storage Interface (CSI) volume source)', [
        ['Driver', str(c['driver'])],
        ['FSType', str(c['fsType'])],
        ['ReadOnly', bool(c['readOnly'])],
      ]);
      const attrs = rec(c['volumeAttributes']);
      const keys = Object.keys(attrs).sort(cmp);
      if (keys.length === 0) w.line(2, 'VolumeAttributes:\t<none>');
      keys.forEach((k, i) => {
        const text = `${k}=${str(attrs[k])}`;
        const shown = text.length > 140 ? `${text.slice(0, 140)}...` : text;
        if (i === 0) w.line(2, `VolumeAttributes:\t${shown}`);
        else w.line(2, `    \t    ${shown}`);
      });
    } else if (v['image'] !== undefined) {
      const im = rec(v['image']);
      lines('Image (a container image or OCI artifact)', [
        ['Reference', str(im['reference'])],
        ['PullPolicy', str(im['pullPolicy'])],
      ]);
    } else {
      w.line(1, '<unknown>');
    }
  }
}

/** kubectl's printTolerationsMultilineWithIndent. */
function tolerations(w: DescribeWriter, title: string, list: unknown): void {
  const items = arr(list)
    .map(rec)
    .map((t, i) => ({ t, i }))
    .sort((a, b) => cmp(str(a.t['key']), str(b.t['key'])) || a.i - b.i)
    .map((x) => x.t);
  w.multiline(
    0,
    title,
    items.map((t) => {
      let s = str(t['key']);
      if (str(t['value']) !== '') s += `=${str(t['value'])}`;
      if (str(t['effect']) !== '') s += `:${str(t['effect'])}`;
      if (str(t['operator']) === 'Exists' && str(t['value']) === '') {
        s += str(t['key']) !== '' || str(t['effect']) !== '' ? ' op=Exists' : 'op=Exists';
      }
      if (typeof t['tolerationSeconds'] === 'number') s += ` for ${t['tolerationSeconds']}s`;
      return s;
    }),
  );
}

function topologySpread(w: DescribeWriter, list: unknown, space: string): void {
  const items = arr(list)
    .map(rec)
    .sort((a, b) => cmp(str(a['topologyKey']), str(b['topologyKey'])));
  items.forEach((t, i) => {
    const sel =
      t['labelSelector'] !== undefined
        ? ` for selector ${formatLabelSelector(t['labelSelector']) || '<none>'}`
        : '';
    const text = `${str(t['topologyKey'])}:${str(t['whenUnsatisfiable'])} when max skew ${num(t['maxSkew'])} is exceeded${sel}`;
    w.line(0, i === 0 ? `${space}Topology Spread Constraints:\t${text}` : `${space}\t${text}`);
  });
}

/** kubectl's DescribePodTemplate. */
function podTemplate(w: DescribeWriter, template: unknown): void {
  const t = rec(template);
  const tmeta = rec(t['metadata']);
  const spec = rec(t['spec']);
  w.line(0, 'Pod Template:');
  w.labels(0, '  Labels', tmeta['labels']);
  if (Object.keys(rec(tmeta['annotations'])).length > 0)
    w.annotations(0, '  Annotations', tmeta['annotations']);
  if (str(spec['serviceAccountName']) !== '')
    w.line(1, `Service Account:\t${str(spec['serviceAccountName'])}`);
  if (arr(spec['initContainers']).length > 0)
    containers(w, 'Init Containers', spec['initContainers'], undefined, undefined, true);
  containers(w, 'Containers', spec['containers'], undefined, undefined, true);
  volumes(w, spec['volumes'], true);
  topologySpread(w, spec['topologySpreadConstraints'], '  ');
  if (str(spec['priorityClassName']) !== '')
    w.line(1, `Priority Class Name:\t${str(spec['priorityClassName'])}`);
  w.labels(0, '  Node-Selectors', spec['nodeSelector']);
  tolerations(w, '  Tolerations', spec['tolerations']);
}

/** `Conditions:` with a `Type Status Reason` table, rows as kubectl writes them (`%v \t%v\t%v`). */
function typeStatusReason(w: DescribeWriter, conditions: unknown): void {
  const list = arr(conditions).map(rec);
  if (list.length === 0) return;
  w.line(0, 'Conditions:');
  w.line(1, 'Type\tStatus\tReason');
  w.line(1, '----\t------\t------');
  for (const c of list) w.line(1, `${str(c['type'])} \t${str(c['status'])}\t${str(c['reason'])}`);
}

// ---------------------------------------------------------------------------------------------
// Per-kind describers.

type Describer = (
  obj: KubeObject,
  info: ResourceInfo,
  ctx: DescribeContext,
  w: DescribeWriter,
) => Promise<void>;

/** The QoS class the kubelet would give a pod (qos.GetPodQOS), for pods whose status lacks it. */
export function podQos(podSpec: unknown): 'BestEffort' | 'Burstable' | 'Guaranteed' {
  const all = [...arr(rec(podSpec)['containers']), ...arr(rec(podSpec)['initContainers'])].map((c) =>
    rec(rec(c)['resources']),
  );
  let any = false;
  let guaranteed = true;
  for (const r of all) {
    const limits = rec(r['limits']);
    const requests = { ...limits, ...rec(r['requests']) };
    const counted = (list: Rec): string[] =>
      Object.keys(list).filter((k) => k === 'cpu' || k === 'memory' || k.startsWith('hugepages-'));
    if (counted(limits).length > 0 || counted(requests).length > 0) any = true;
    for (const res of ['cpu', 'memory']) {
      const l = tryParseQuantity(limits[res]);
      const q = tryParseQuantity(requests[res]);
      if (l === undefined || q === undefined || l.nanos !== q.nanos) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

const describePod: Describer = async (pod, _info, ctx, w) => {
  const spec = rec(pod.spec);
  const status = rec(pod.status);
  w.line(0, `Name:\t${pod.metadata.name ?? ''}`);
  w.line(0, `Namespace:\t${pod.metadata.namespace ?? ''}`);
  if (typeof spec['priority'] === 'number') w.line(0, `Priority:\t${spec['priority']}`);
  if (str(spec['priorityClassName']) !== '')
    w.line(0, `Priority Class Name:\t${str(spec['priorityClassName'])}`);
  if (str(spec['runtimeClassName']) !== '')
    w.line(0, `Runtime Class Name:\t${str(spec['runtimeClassName'])}`);
  if (str(spec['serviceAccountName']) !== '')
    w.line(0, `Service Account:\t${str(spec['serviceAccountName'])}`);
  const node = str(spec['nodeName']);
  w.line(0, `Node:\t${node === '' ? '<none>' : `${node}/${str(status['hostIP'])}`}`);
  if (status['startTime'] !== undefined && status['startTime'] !== null)
    w.line(0, `Start Time:\t${formatTime(status['startTime'])}`);
  w.labels(0, 'Labels', pod.metadata.labels);
  w.annotations(0, 'Annotations', pod.metadata.annotations);
  const phase = str(status['phase']);
  if (pod.metadata.deletionTimestamp !== undefined && phase !== 'Failed' && phase !== 'Succeeded') {
    w.line(0, `Status:\tTerminating (lasts ${age(pod.metadata.deletionTimestamp, ctx.now)})`);
    w.line(0, `Termination Grace Period:\t${num(pod.metadata.deletionGracePeriodSeconds)}s`);
  } else {
    w.line(0, `Status:\t${phase}`);
  }
  if (str(status['reason']) !== '') w.line(0, `Reason:\t${str(status['reason'])}`);
  if (str(status['message']) !== '') w.line(0, `Message:\t${str(status['message'])}`);
  const seccomp = rec(rec(spec['securityContext'])['seccompProfile']);
  if (Object.keys(seccomp).length > 0) {
    w.line(0, `SeccompProfile:\t${str(seccomp['type'])}`);
    if (str(seccomp['type']) === 'Localhost')
      w.line(0, `LocalhostProfile:\t${str(seccomp['localhostProfile'])}`);
  }
  w.line(0, `IP:\t${str(status['podIP'])}`);
  const ips = arr(status['podIPs']).map((x) => str(rec(x)['ip']));
  if (ips.length === 0) w.line(0, 'IPs:\t<none>');
  else {
    w.line(0, 'IPs:');
    for (const ip of ips) w.line(1, `IP:\t${ip}`);
  }
  const owner = controlledBy(pod);
  if (owner !== '') w.line(0, `Controlled By:\t${owner}`);
  if (str(status['nominatedNodeName']) !== '')
    w.line(0, `NominatedNodeName:\t${str(status['nominatedNodeName'])}`);
  if (spec['resources'] !== undefined && spec['resources'] !== null) {
    w.line(0, 'Resources:');
    resources(w, 1, rec(spec['resources']));
  }
  if (arr(spec['initContainers']).length > 0)
    containers(w, 'Init Containers', spec['initContainers'], status['initContainerStatuses'], pod, false);
  containers(w, 'Containers', spec['containers'], status['containerStatuses'], pod, false);
  if (arr(spec['ephemeralContainers']).length > 0)
    containers(
      w,
      'Ephemeral Containers',
      spec['ephemeralContainers'],
      status['ephemeralContainerStatuses'],
      pod,
      false,
    );
  const conds = arr(status['conditions']).map(rec);
  const gates = arr(spec['readinessGates']).map(rec);
  if (gates.length > 0) {
    w.line(0, 'Readiness Gates:');
    w.line(1, 'Type\tStatus');
    for (const g of gates) {
      const c = conds.find((x) => str(x['type']) === str(g['conditionType']));
      w.line(1, `${str(g['conditionType'])} \t${c === undefined ? '<none>' : str(c['status'])} `);
    }
  }
  if (conds.length > 0) {
    w.line(0, 'Conditions:');
    w.line(1, 'Type\tStatus');
    for (const c of conds) w.line(1, `${str(c['type'])} \t${str(c['status'])} `);
  }
  volumes(w, spec['volumes'], false);
  w.line(0, `QoS Class:\t${str(status['qosClass']) || podQos(spec)}`);
  w.labels(0, 'Node-Selectors', spec['nodeSelector']);
  tolerations(w, 'Tolerations', spec['tolerations']);
  topologySpread(w, spec['topologySpreadConstraints'], '');
};

function withoutHash(template: unknown): unknown {
  const t = structuredClone(rec(template));
  const meta = rec(t['metadata']);
  const labels = { ...rec(meta['labels']) };
  delete labels['pod-template-hash'];
  if (Object.keys(labels).length > 0) meta['labels'] = labels;
  else delete meta['labels'];
  t['metadata'] = meta;
  return normalize(t);
}

/** Empty maps and lists count as absent (apimachinery's semantic equality). */
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.map(normalize);
  if (typeof v !== 'object' || v === null) return v;
  const out: Rec = {};
  for (const [k, x] of Object.entries(v)) {
    const n = normalize(x);
    if (n !== undefined) out[k] = n;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function sameJson(a: unknown, b: unknown): boolean {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (typeof v !== 'object' || v === null) return v;
    const out: Rec = {};
    for (const k of Object.keys(v).sort(cmp)) out[k] = sort((v as Rec)[k]);
    return out;
  };
  return JSON.stringify(sort(a)) === JSON.stringify(sort(b));
}

const describeDeployment: Describer = async (d, _info, ctx, w) => {
  const spec = rec(d.spec);
  const status = rec(d.status);
  w.line(0, `Name:\t${d.metadata.name ?? ''}`);
  w.line(0, `Namespace:\t${d.metadata.namespace ?? ''}`);
  w.line(0, `CreationTimestamp:\t${formatTime(d.metadata.creationTimestamp)}`);
  w.labels(0, 'Labels', d.metadata.labels);
  w.annotations(0, 'Annotations', d.metadata.annotations);
  const selector = formatLabelSelector(spec['selector']);
  w.line(0, `Selector:\t${selector}`);
  const desired = typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
  w.line(
    0,
    `Replicas:\t${desired} desired | ${num(status['updatedReplicas'])} updated | ${num(status['replicas'])} total | ${num(status['availableReplicas'])} available | ${num(status['unavailableReplicas'])} unavailable`,
  );
  const strategy = rec(spec['strategy']);
  w.line(0, `StrategyType:\t${str(strategy['type'])}`);
  w.line(0, `MinReadySeconds:\t${num(spec['minReadySeconds'])}`);
  if (strategy['rollingUpdate'] !== undefined && strategy['rollingUpdate'] !== null) {
    const ru = rec(strategy['rollingUpdate']);
    w.line(
      0,
      `RollingUpdateStrategy:\t${intOrString(ru['maxUnavailable'])} max unavailable, ${intOrString(ru['maxSurge'])} max surge`,
    );
  }
  podTemplate(w, spec['template']);
  typeStatusReason(w, status['conditions']);
  // deploymentutil.GetAllReplicaSets: the RSes it controls, the new one is the oldest with its template.
  const owned = (
    (await listQuiet(ctx, 'apps/v1', 'ReplicaSet', d.metadata.namespace, { labelSelector: selector })) ?? []
  ).filter((rs) =>
    (rs.metadata.ownerReferences ?? []).some((o) => o.controller === true && o.uid === d.metadata.uid),
  );
  owned.sort(
    (a, b) =>
      cmp(a.metadata.creationTimestamp ?? '', b.metadata.creationTimestamp ?? '') ||
      cmp(a.metadata.name ?? '', b.metadata.name ?? ''),
  );
  const want = withoutHash(spec['template']);
  const newRs = owned.find((rs) => sameJson(withoutHash(rec(rs.spec)['template']), want));
  const old = owned.filter((rs) => rs !== newRs);
  const rsText = (rs: KubeObject): string =>
    `${rs.metadata.name ?? ''} (${num(rec(rs.status)['replicas'])}/${num(rec(rs.spec)['replicas'])} replicas created)`;
  if (old.length > 0 || newRs !== undefined) {
    w.line(0, `OldReplicaSets:\t${old.length === 0 ? '<none>' : old.map(rsText).join(', ')}`);
    w.line(0, `NewReplicaSet:\t${newRs === undefined ? '<none>' : rsText(newRs)}`);
  }
};

/** Pods a controller owns, by phase (getPodStatusForController). */
async function podPhases(ctx: DescribeContext, obj: KubeObject, selector: string): Promise<string> {
  const pods = (
    (await listQuiet(ctx, 'v1', 'Pod', obj.metadata.namespace, { labelSelector: selector })) ?? []
  ).filter((p) =>
    (p.metadata.ownerReferences ?? []).some((o) => o.controller === true && o.uid === obj.metadata.uid),
  );
  const phase = (ph: string): number => pods.filter((p) => str(rec(p.status)['phase']) === ph).length;
  return `${phase('Running')} Running / ${phase('Pending')} Waiting / ${phase('Succeeded')} Succeeded / ${phase('Failed')} Failed`;
}

const describeReplicaSet: Describer = async (rs, _info, ctx, w) => {
  const spec = rec(rs.spec);
  const status = rec(rs.status);
  w.line(0, `Name:\t${rs.metadata.name ?? ''}`);
  w.line(0, `Namespace:\t${rs.metadata.namespace ?? ''}`);
  const selector = formatLabelSelector(spec['selector']);
  w.line(0, `Selector:\t${selector}`);
  w.labels(0, 'Labels', rs.metadata.labels);
  w.annotations(0, 'Annotations', rs.metadata.annotations);
  const owner = controlledBy(rs);
  if (owner !== '') w.line(0, `Controlled By:\t${owner}`);
  const desired = typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
  w.line(0, `Replicas:\t${num(status['replicas'])} current / ${desired} desired`);
  w.line(0, `Pods Status:\t${await podPhases(ctx, rs, selector)}`);
  podTemplate(w, spec['template']);
  typeStatusReason(w, status['conditions']);
};

/** kubectl's formatEndpointSlices: up to three ready `ip:port` for the named port, then `+ N more...`. */
export function formatEndpointSlices(slices: KubeObject[], portName: string): string {
  if (slices.length === 0) return '<none>';
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const s of slices) {
    const ports = arr(s['ports']).map(rec);
    const endpoints = arr(s['endpoints']).map(rec);
    const ready = (e: Rec): boolean => rec(e['conditions'])['ready'] !== false;
    if (ports.length === 0) {
      for (const e of endpoints) {
        if (list.length === max) more = true;
        if (!ready(e)) continue;
        if (!more) list.push(str(arr(e['addresses'])[0]));
        count++;
      }
      continue;
    }
    for (const p of ports) {
      if (str(p['name']) !== portName) continue;
      for (const e of endpoints) {
        if (list.length === max) more = true;
        if (!ready(e)) continue;
        const addr = str(arr(e['addresses'])[0]);
        if (!more) list.push(`${addr.includes(':') ? `[${addr}]` : addr}:${num(p['port'])}`);
        count++;
      }
    }
  }
  const ret = list.join(',');
  return more ? `${ret} + ${count - max} more...` : ret;
}

const describeService: Describer = async (svc, _info, ctx, w) => {
  const spec = rec(svc.spec);
  w.line(0, `Name:\t${svc.metadata.name ?? ''}`);
  w.line(0, `Namespace:\t${svc.metadata.namespace ?? ''}`);
  w.labels(0, 'Labels', svc.metadata.labels);
  w.annotations(0, 'Annotations', svc.metadata.annotations);
  w.line(0, `Selector:\t${formatLabels(spec['selector'])}`);
  w.line(0, `Type:\t${str(spec['type'])}`);
  if (str(spec['ipFamilyPolicy']) !== '') w.line(0, `IP Family Policy:\t${str(spec['ipFamilyPolicy'])}`);
  w.line(0, `IP Families:\t${orNone(arr(spec['ipFamilies']).map(str).join(','))}`);
  w.line(0, `IP:\t${str(spec['clusterIP'])}`);
  w.line(0, `IPs:\t${orNone(arr(spec['clusterIPs']).map(str).join(','))}`);
  const externalIPs = arr(spec['externalIPs']).map(str);
  if (externalIPs.length > 0) w.line(0, `External IPs:\t${externalIPs.join(',')}`);
  if (str(spec['loadBalancerIP']) !== '')
    w.line(0, `Desired LoadBalancer IP:\t${str(spec['loadBalancerIP'])}`);
  if (str(spec['externalName']) !== '') w.line(0, `External Name:\t${str(spec['externalName'])}`);
  const ingress = arr(rec(rec(svc.status)['loadBalancer'])['ingress']).map(rec);
  if (ingress.length > 0) {
    const text = ingress
      .map((i) =>
        str(i['ip']) !== ''
          ? `${str(i['ip'])}${str(i['ipMode']) !== '' ? ` (${str(i['ipMode'])})` : ''}`
          : str(i['hostname']),
      )
      .join(', ');
    w.line(0, `LoadBalancer Ingress:\t${text}`);
  }
  const slices =
    (await listQuiet(ctx, 'discovery.k8s.io/v1', 'EndpointSlice', svc.metadata.namespace, {
      labelSelector: `kubernetes.io/service-name=${svc.metadata.name ?? ''}`,
    })) ?? [];
  for (const p of arr(spec['ports']).map(rec)) {
    const name = str(p['name']) || '<unset>';
    const proto = str(p['protocol']);
    w.line(0, `Port:\t${name}\t${num(p['port'])}/${proto}`);
    w.line(0, `TargetPort:\t${intOrString(p['targetPort'])}/${proto}`);
    if (str(p['appProtocol']) !== '') w.line(0, `AppProtocol:\t${str(p['appProtocol'])}`);
    if (typeof p['nodePort'] === 'number' && p['nodePort'] !== 0)
      w.line(0, `NodePort:\t${name}\t${p['nodePort']}/${proto}`);
    w.line(0, `Endpoints:\t${formatEndpointSlices(slices, str(p['name']))}`);
  }
  w.line(0, `Session Affinity:\t${str(spec['sessionAffinity'])}`);
  if (str(spec['externalTrafficPolicy']) !== '')
    w.line(0, `External Traffic Policy:\t${str(spec['externalTrafficPolicy'])}`);
  if (str(spec['internalTrafficPolicy']) !== '')
    w.line(0, `Internal Traffic Policy:\t${str(spec['internalTrafficPolicy'])}`);
  if (typeof spec['healthCheckNodePort'] === 'number' && spec['healthCheckNodePort'] !== 0)
    w.line(0, `HealthCheck NodePort:\t${spec['healthCheckNodePort']}`);
  const ranges = arr(spec['loadBalancerSourceRanges']).map(str);
  if (ranges.length > 0) w.line(0, `LoadBalancer Source Ranges:\t${ranges.join(',')}`);
  if (str(spec['trafficDistribution']) !== '')
    w.line(0, `Traffic Distribution:\t${str(spec['trafficDistribution'])}`);
};

const describeNode: Describer = async (node, _info, ctx, w) => {
  const spec = rec(node.spec);
  const status = rec(node.status);
  const name = node.metadata.name ?? '';
  w.line(0, `Name:\t${name}`);
  w.line(0, `Roles:\t${orNone(nodeRoles(node).join(','))}`);
  w.labels(0, 'Labels', node.metadata.labels);
  w.annotations(0, 'Annotations', node.metadata.annotations);
  w.line(0, `CreationTimestamp:\t${formatTime(node.metadata.creationTimestamp)}`);
  const taints = arr(spec['taints'])
    .map(rec)
    .sort((a, b) => cmp(`${str(a['effect'])},${str(a['key'])}`, `${str(b['effect'])},${str(b['key'])}`));
  w.multiline(
    0,
    'Taints',
    taints.map(
      (t) => `${str(t['key'])}${str(t['value']) !== '' ? `=${str(t['value'])}` : ''}:${str(t['effect'])}`,
    ),
  );
  w.line(0, `Unschedulable:\t${bool(spec['unschedulable'])}`);
  const leaseInfo = findByKind('coordination.k8s.io/v1', 'Lease');
  if (leaseInfo !== undefined) {
    try {
      const lease = await ctx.client.get(leaseInfo, 'kube-node-lease', name);
      const ls = rec(lease.spec);
      w.line(0, 'Lease:');
      w.line(1, `HolderIdentity:\t${str(ls['holderIdentity']) || '<unset>'}`);
      w.line(
        1,
        `AcquireTime:\t${ls['acquireTime'] === undefined ? '<unset>' : formatTime(ls['acquireTime'])}`,
      );
      w.line(1, `RenewTime:\t${ls['renewTime'] === undefined ? '<unset>' : formatTime(ls['renewTime'])}`);
    } catch (err) {
      w.line(0, `Lease:\tFailed to get lease: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const conds = arr(status['conditions']).map(rec);
  if (conds.length > 0) {
    w.line(0, 'Conditions:');
    w.line(1, 'Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage');
    w.line(1, '----\t------\t-----------------\t------------------\t------\t-------');
    for (const c of conds) {
      w.line(
        1,
        `${str(c['type'])} \t${str(c['status'])} \t${formatTime(c['lastHeartbeatTime'])} \t${formatTime(c['lastTransitionTime'])} \t${str(c['reason'])} \t${str(c['message'])}`,
      );
    }
  }
  w.line(0, 'Addresses:');
  for (const a of arr(status['addresses']).map(rec)) w.line(1, `${str(a['type'])}:\t${str(a['address'])}`);
  for (const [key, title] of [
    ['capacity', 'Capacity'],
    ['allocatable', 'Allocatable'],
  ] as const) {
    const list = rec(status[key]);
    const names = Object.keys(list).sort(cmp);
    if (names.length === 0) continue;
    w.line(0, `${title}:`);
    for (const n of names) w.line(1, `${n}:\t${quantityString(list[n])}`);
  }
  const ni = rec(status['nodeInfo']);
  w.line(0, 'System Info:');
  for (const [k, label] of [
    ['machineID', 'Machine ID'],
    ['systemUUID', 'System UUID'],
    ['bootID', 'Boot ID'],
    ['kernelVersion', 'Kernel Version'],
    ['osImage', 'OS Image'],
    ['operatingSystem', 'Operating System'],
    ['architecture', 'Architecture'],
    ['containerRuntimeVersion', 'Container Runtime Version'],
    ['kubeletVersion', 'Kubelet Version'],
    ['kubeProxyVersion', 'Kube-Proxy Version'],
  ] as const) {
    w.line(1, `${label}:\t${str(ni[k])}`);
  }
  if (str(spec['podCIDR']) !== '') w.line(0, `PodCIDR:\t${str(spec['podCIDR'])}`);
  const cidrs = arr(spec['podCIDRs']).map(str);
  if (cidrs.length > 0) w.line(0, `PodCIDRs:\t${cidrs.join(',')}`);
  if (str(spec['providerID']) !== '') w.line(0, `ProviderID:\t${str(spec['providerID'])}`);
  const pods = await listQuiet(ctx, 'v1', 'Pod', undefined, {
    fieldSelector: `spec.nodeName=${name},status.phase!=Succeeded,status.phase!=Failed`,
  });
  if (pods === undefined) {
    w.line(0, 'Pods:\tnot authorized');
    return;
  }
  nodeResources(w, node, pods, ctx.now);
};

/** kubectl's describeNodeResource: the non-terminated pods' requests and limits against allocatable. */
function nodeResources(w: DescribeWriter, node: KubeObject, pods: KubeObject[], now: number): void {
  const status = rec(node.status);
  const allocatable =
    Object.keys(rec(status['allocatable'])).length > 0 ? rec(status['allocatable']) : rec(status['capacity']);
  const allocMillis = (k: string): number => {
    const q = tryParseQuantity(allocatable[k]);
    return q === undefined ? 0 : k === 'cpu' ? quantityToMillis(q) : quantityValue(q);
  };
  w.line(0, `Non-terminated Pods:\t(${pods.length} in total)`);
  w.line(1, 'Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge');
  w.line(1, '---------\t----\t\t------------\t----------\t---------------\t-------------\t---');
  const reqTotals: ResourceTotals = new Map();
  const limTotals: ResourceTotals = new Map();
  const formats = new Map<string, string>();
  for (const pod of pods) {
    const req = podResources(pod, 'requests');
    const lim = podResources(pod, 'limits');
    for (const [k, v] of req) {
      reqTotals.set(k, (reqTotals.get(k) ?? 0n) + v.nanos);
      if (!formats.has(k)) formats.set(k, v.text);
    }
    for (const [k, v] of lim) {
      limTotals.set(k, (limTotals.get(k) ?? 0n) + v.nanos);
      if (!formats.has(k)) formats.set(k, v.text);
    }
    const cell = (m: Map<string, { nanos: bigint; text: string }>, k: string): string => {
      const v = m.get(k);
      const n = v?.nanos ?? 0n;
      const amount = k === 'cpu' ? Number((n + 999_999n) / 1_000_000n) : Number((n + NANO - 1n) / NANO);
      return `${v?.text ?? '0'} (${percent(amount, allocMillis(k))}%)`;
    };
    w.line(
      1,
      `${pod.metadata.namespace ?? ''}\t${pod.metadata.name ?? ''}\t\t${cell(req, 'cpu')}\t${cell(lim, 'cpu')}\t${cell(req, 'memory')}\t${cell(lim, 'memory')}\t${age(pod.metadata.creationTimestamp, now)}`,
    );
  }
  w.line(0, 'Allocated resources:');
  w.line(0, '  (Total limits may be over 100 percent, i.e., overcommitted.)');
  w.line(1, 'Resource\tRequests\tLimits');
  w.line(1, '--------\t--------\t------');
  const total = (totals: ResourceTotals, k: string): string => {
    const n = totals.get(k) ?? 0n;
    const like = tryParseQuantity(formats.get(k) ?? '0');
    return formatQuantity({ nanos: n, format: like?.format ?? 'DecimalSI' });
  };
  const fraction = (totals: ResourceTotals, k: string): string => {
    const whole = allocMillis(k);
    if (whole === 0) return '0';
    const n = totals.get(k) ?? 0n;
    const part = k === 'cpu' ? Number((n + 999_999n) / 1_000_000n) : Number((n + NANO - 1n) / NANO);
    return percent(part, whole);
  };
  for (const k of ['cpu', 'memory', 'ephemeral-storage']) {
    w.line(
      1,
      `${k}\t${total(reqTotals, k)} (${fraction(reqTotals, k)}%)\t${total(limTotals, k)} (${fraction(limTotals, k)}%)`,
    );
  }
  const standard = new Set(['cpu', 'memory', 'ephemeral-storage', 'storage', 'pods']);
  const names = Object.keys(allocatable).sort(cmp);
  for (const k of names.filter((n) => n.startsWith('hugepages-')))
    w.line(
      1,
      `${k}\t${total(reqTotals, k)} (${fraction(reqTotals, k)}%)\t${total(limTotals, k)} (${fraction(limTotals, k)}%)`,
    );
  for (const k of names.filter(
    (n) =>
      !n.startsWith('hugepages-') &&
      !standard.has(n) &&
      !n.startsWith('requests.') &&
      !n.startsWith('limits.'),
  ))
    w.line(1, `${k}\t${total(reqTotals, k)}\t${total(limTotals, k)}`);
}

const describeNamespace: Describer = async (ns, _info, ctx, w) => {
  w.line(0, `Name:\t${ns.metadata.name ?? ''}`);
  w.labels(0, 'Labels', ns.metadata.labels);
  w.annotations(0, 'Annotations', ns.metadata.annotations);
  const status = rec(ns.status);
  w.line(0, `Status:\t${str(status['phase'])}`);
  const conds = arr(status['conditions']).map(rec);
  if (conds.length > 0) {
    w.line(0, 'Conditions:');
    w.line(1, 'Type\tStatus\tLastTransitionTime\tReason\tMessage');
    w.line(1, '----\t------\t------------------\t------\t-------');
    for (const c of conds)
      w.line(
        1,
        `${str(c['type'])}\t${str(c['status'])}\t${formatTime(c['lastTransitionTime'])}\t${str(c['reason'])}\t${str(c['message'])}`,
      );
  }
  // Quotas and limit ranges are shown only by servers that serve them (kubectl skips them on 404).
  const quotas = await listQuiet(ctx, 'v1', 'ResourceQuota', ns.metadata.name);
  if (quotas !== undefined) {
    w.line(0, '');
    if (quotas.length === 0) w.line(0, 'No resource quota.');
  }
  const limits = await listQuiet(ctx, 'v1', 'LimitRange', ns.metadata.name);
  if (limits !== undefined) {
    w.line(0, '');
    if (limits.length === 0) w.line(0, 'No LimitRange resource.');
  }
};

const describeConfigMap: Describer = async (cm, _info, _ctx, w) => {
  w.line(0, `Name:\t${cm.metadata.name ?? ''}`);
  w.line(0, `Namespace:\t${cm.metadata.namespace ?? ''}`);
  w.labels(0, 'Labels', cm.metadata.labels);
  w.annotations(0, 'Annotations', cm.metadata.annotations);
  w.line(0, '');
  w.line(0, 'Data');
  w.line(0, '====');
  const data = rec(cm['data']);
  for (const k of Object.keys(data).sort(cmp)) {
    w.line(0, `${k}:`);
    w.line(0, '----');
    for (const l of str(data[k]).split('\n')) w.line(0, l);
    w.line(0, '');
  }
  w.line(0, '');
  w.line(0, 'BinaryData');
  w.line(0, '====');
  const binary = rec(cm['binaryData']);
  for (const k of Object.keys(binary).sort(cmp))
    w.line(0, `${k}: ${Buffer.from(str(binary[k]), 'base64').length} bytes`);
  w.line(0, '');
};

const describeSecret: Describer = async (secret, _info, _ctx, w) => {
  w.line(0, `Name:\t${secret.metadata.name ?? ''}`);
  w.line(0, `Namespace:\t${secret.metadata.namespace ?? ''}`);
  w.labels(0, 'Labels', secret.metadata.labels);
  w.annotations(0, 'Annotations', secret.metadata.annotations);
  w.line(0, '');
  w.line(0, `Type:\t${str(secret['type'])}`);
  w.line(0, '');
  w.line(0, 'Data');
  w.line(0, '====');
  const data = rec(secret['data']);
  for (const k of Object.keys(data).sort(cmp)) {
    const bytes = Buffer.from(str(data[k]), 'base64');
    if (k === 'token' && str(secret['type']) === 'kubernetes.io/service-account-token')
      w.line(0, `${k}:\t${bytes.toString()}`);
    else w.line(0, `${k}:\t${bytes.length} bytes`);
  }
};

function metricValue(v: unknown): string {
  return v === undefined || v === null ? '<unknown>' : quantityString(v);
}

const describeHpa: Describer = async (hpa, _info, _ctx, w) => {
  const spec = rec(hpa.spec);
  const status = rec(hpa.status);
  w.line(0, `Name:\t${hpa.metadata.name ?? ''}`);
  w.line(0, `Namespace:\t${hpa.metadata.namespace ?? ''}`);
  w.labels(0, 'Labels', hpa.metadata.labels);
  w.annotations(0, 'Annotations', hpa.metadata.annotations);
  w.line(0, `CreationTimestamp:\t${formatTime(hpa.metadata.creationTimestamp)}`);
  const ref = rec(spec['scaleTargetRef']);
  w.line(0, `Reference:\t${str(ref['kind'])}/${str(ref['name'])}`);
  w.line(0, 'Metrics:\t( current / target )');
  const current = arr(status['currentMetrics']).map(rec);
  arr(spec['metrics'])
    .map(rec)
    .forEach((m, i) => {
      const cur = current[i];
      const type = str(m['type']);
      const utilization = (kind: 'resource' | 'containerResource', prefix: string): void => {
        const src = rec(m[kind]);
        const target = rec(src['target']);
        const c = rec(rec(cur?.[kind])['current']);
        if (target['averageValue'] !== undefined) {
          const cv = cur?.[kind] !== undefined ? metricValue(c['averageValue']) : '<unknown>';
          w.line(1, `${prefix}:\t${cv} / ${metricValue(target['averageValue'])}`);
          return;
        }
        const cv =
          cur?.[kind] !== undefined && typeof c['averageUtilization'] === 'number'
            ? `${c['averageUtilization']}% (${metricValue(c['averageValue'])})`
            : '<unknown>';
        const tv =
          typeof target['averageUtilization'] === 'number' ? `${target['averageUtilization']}%` : '<auto>';
        w.line(1, `${prefix}  (as a percentage of request):\t${cv} / ${tv}`);
      };
      switch (type) {
        case 'Resource':
          utilization('resource', `resource ${str(rec(m['resource'])['name'])} on pods`);
          break;
        case 'ContainerResource': {
          const cr = rec(m['containerResource']);
          utilization(
            'containerResource',
            `resource ${str(cr['name'])} of container "${str(cr['container'])}" on pods`,
          );
          break;
        }
        case 'Pods': {
          const p = rec(m['pods']);
          const cv =
            cur?.['pods'] !== undefined
              ? metricValue(rec(rec(cur['pods'])['current'])['averageValue'])
              : '<unknown>';
          w.line(
            1,
            `"${str(rec(p['metric'])['name'])}" on pods:\t${cv} / ${metricValue(rec(p['target'])['averageValue'])}`,
          );
          break;
        }
        case 'Object': {
          const o = rec(m['object']);
          const target = rec(o['target']);
          const obj = rec(o['describedObject']);
          const avg = str(target['type']) === 'AverageValue';
          const c = rec(rec(cur?.['object'])['current']);
          const cv =
            cur?.['object'] !== undefined ? metricValue(avg ? c['averageValue'] : c['value']) : '<unknown>';
          w.line(
            1,
            `"${str(rec(o['metric'])['name'])}" on ${str(obj['kind'])}/${str(obj['name'])} ${avg ? '(target average value)' : '(target value)'}:\t${cv} / ${metricValue(avg ? target['averageValue'] : target['value'])}`,
          );
          break;
        }
        case 'External': {
          const e = rec(m['external']);
          const target = rec(e['target']);
          const avg = target['averageValue'] !== undefined;
          const c = rec(rec(cur?.['external'])['current']);
          const cv =
            cur?.['external'] !== undefined ? metricValue(avg ? c['averageValue'] : c['value']) : '<unknown>';
          w.line(
            1,
            `"${str(rec(e['metric'])['name'])}" ${avg ? '(target average value)' : '(target value)'}:\t${cv} / ${metricValue(avg ? target['averageValue'] : target['value'])}`,
          );
          break;
        }
        default:
          w.line(1, `<unknown metric type "${type}">`);
      }
    });
  w.line(0, `Min replicas:\t${typeof spec['minReplicas'] === 'number' ? spec['minReplicas'] : '<unset>'}`);
  w.line(0, `Max replicas:\t${num(spec['maxReplicas'])}`);
  const behavior = rec(spec['behavior']);
  if (spec['behavior'] !== undefined && spec['behavior'] !== null) {
    w.line(0, 'Behavior:');
    for (const [key, title] of [
      ['scaleUp', 'Scale Up'],
      ['scaleDown', 'Scale Down'],
    ] as const) {
      if (behavior[key] === undefined || behavior[key] === null) continue;
      const rules = rec(behavior[key]);
      w.line(1, `${title}:`);
      if (typeof rules['stabilizationWindowSeconds'] === 'number')
        w.line(2, `Stabilization Window: ${rules['stabilizationWindowSeconds']} seconds`);
      const policies = arr(rules['policies']).map(rec);
      if (policies.length > 0) {
        w.line(2, `Select Policy: ${str(rules['selectPolicy']) || 'Max'}`);
        w.line(2, 'Policies:');
        for (const p of policies)
          w.line(
            3,
            `- Type: ${str(p['type'])}\tValue: ${num(p['value'])}\tPeriod: ${num(p['periodSeconds'])} seconds`,
          );
      }
    }
  }
  w.line(
    0,
    `${str(ref['kind'])} pods:\t${num(status['currentReplicas'])} current / ${num(status['desiredReplicas'])} desired`,
  );
  const conds = arr(status['conditions']).map(rec);
  if (conds.length > 0) {
    w.line(0, 'Conditions:');
    w.line(1, 'Type\tStatus\tReason\tMessage');
    w.line(1, '----\t------\t------\t-------');
    for (const c of conds)
      w.line(1, `${str(c['type'])}\t${str(c['status'])}\t${str(c['reason'])}\t${str(c['message'])}`);
  }
};

const describeEndpoints: Describer = async (ep, _info, _ctx, w) => {
  w.line(0, `Name:\t${ep.metadata.name ?? ''}`);
  w.line(0, `Namespace:\t${ep.metadata.namespace ?? ''}`);
  w.labels(0, 'Labels', ep.metadata.labels);
  w.annotations(0, 'Annotations', ep.metadata.annotations);
  w.line(0, 'Subsets:');
  for (const s of arr(ep['subsets']).map(rec)) {
    const ips = (k: string): string =>
      orNone(
        arr(s[k])
          .map((a) => str(rec(a)['ip']))
          .join(','),
      );
    w.line(1, `Addresses:\t${ips('addresses')}`);
    w.line(1, `NotReadyAddresses:\t${ips('notReadyAddresses')}`);
    const ports = arr(s['ports']).map(rec);
    if (ports.length > 0) {
      w.line(1, 'Ports:');
      w.line(2, 'Name\tPort\tProtocol');
      w.line(2, '----\t----\t--------');
      for (const p of ports)
        w.line(2, `${str(p['name']) || '<unset>'}\t${num(p['port'])}\t${str(p['protocol'])}`);
    }
    w.line(0, '');
  }
};

const describeEndpointSlice: Describer = async (eps, _info, _ctx, w) => {
  w.line(0, `Name:\t${eps.metadata.name ?? ''}`);
  w.line(0, `Namespace:\t${eps.metadata.namespace ?? ''}`);
  w.labels(0, 'Labels', eps.metadata.labels);
  w.annotations(0, 'Annotations', eps.metadata.annotations);
  w.line(0, `AddressType:\t${str(eps['addressType'])}`);
  const ports = arr(eps['ports']).map(rec);
  if (ports.length === 0) w.line(0, 'Ports: <unset>');
  else {
    w.line(0, 'Ports:');
    w.line(1, 'Name\tPort\tProtocol');
    w.line(1, '----\t----\t--------');
    for (const p of ports)
      w.line(
        1,
        `${str(p['name']) || '<unset>'}\t${typeof p['port'] === 'number' ? p['port'] : '<unset>'}\t${str(p['protocol'])}`,
      );
  }
  const endpoints = arr(eps['endpoints']).map(rec);
  if (endpoints.length === 0) {
    w.line(0, 'Endpoints: <none>');
    return;
  }
  w.line(0, 'Endpoints:');
  for (const e of endpoints) {
    w.line(1, `- Addresses:\t${orNone(arr(e['addresses']).map(str).join(', '))}`);
    w.line(2, 'Conditions:');
    const ready = rec(e['conditions'])['ready'];
    w.line(3, `Ready:\t${typeof ready === 'boolean' ? String(ready) : '<unset>'}`);
    w.line(2, `Hostname:\t${typeof e['hostname'] === 'string' ? e['hostname'] : '<unset>'}`);
    if (e['targetRef'] !== undefined && e['targetRef'] !== null) {
      const t = rec(e['targetRef']);
      w.line(2, `TargetRef:\t${str(t['kind'])}/${str(t['name'])}`);
    }
    w.line(2, `NodeName:\t${typeof e['nodeName'] === 'string' ? e['nodeName'] : '<unset>'}`);
    w.line(2, `Zone:\t${typeof e['zone'] === 'string' ? e['zone'] : '<unset>'}`);
  }
};

// ---------------------------------------------------------------------------------------------
// The generic describer (kinds kubectl has no describer for: Event, Lease).

/** fatih/camelcase.Split: runs of lower, upper, digit, other; `HTMLFile` → HTML, File. */
function camelSplit(s: string): string[] {
  const cls = (c: string): number => (/[a-z]/.test(c) ? 1 : /[A-Z]/.test(c) ? 2 : /[0-9]/.test(c) ? 3 : 4);
  const runs: string[] = [];
  let last = 0;
  for (const c of s) {
    const k = cls(c);
    if (k === last && runs.length > 0) runs[runs.length - 1] += c;
    else runs.push(c);
    last = k;
  }
  for (let i = 0; i < runs.length - 1; i++) {
    const a = runs[i] ?? '';
    const b = runs[i + 1] ?? '';
    if (cls(a[0] ?? '') === 2 && cls(b[0] ?? '') === 1) {
      runs[i] = a.slice(0, -1);
      runs[i + 1] = a.slice(-1) + b;
    }
  }
  return runs.filter((r) => r !== '');
}

/** kubectl's smartLabelFor: `apiVersion` → `API Version`, `holderIdentity` → `Holder Identity`. */
export function smartLabelFor(field: string): string {
  if ([...field].some((c) => !/\p{L}/u.test(c) && c !== '-')) return field;
  const acronyms = ['API', 'URL', 'UID', 'GUID'];
  const parts = camelSplit(field);
  const merged: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? '';
    const next = parts[i + 1];
    if (next !== undefined && part.length >= 2 && part === part.toUpperCase() && /^[A-Z]/.test(next)) {
      merged.push(part + next);
      i++;
      continue;
    }
    merged.push(part);
  }
  return merged
    .filter((p) => p !== '_')
    .map((p) =>
      acronyms.includes(p.toUpperCase())
        ? p.toUpperCase()
        : p === p.toLowerCase()
          ? p.charAt(0).toUpperCase() + p.slice(1)
          : p,
    )
    .join(' ');
}

/** Go's `%v` of a JSON value in unstructured content. */
function goValue(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return String(v);
  return JSON.stringify(v);
}

function printUnstructured(
  w: DescribeWriter,
  level: number,
  content: Rec,
  prefix: string,
  skip: Set<string>,
): void {
  for (const field of Object.keys(content).sort(cmp)) {
    const value = content[field];
    const path = `${prefix}.${field}`;
    if (skip.has(path)) continue;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      w.line(level, `${smartLabelFor(field)}:`);
      printUnstructured(w, level + 1, value as Rec, path, skip);
    } else if (Array.isArray(value)) {
      w.line(level, `${smartLabelFor(field)}:`);
      for (const child of value) {
        if (typeof child === 'object' && child !== null && !Array.isArray(child))
          printUnstructured(w, level + 1, child as Rec, path, skip);
        else w.line(level + 1, goValue(child));
      }
    } else {
      w.line(level, `${smartLabelFor(field)}:\t${goValue(value)}`);
    }
  }
}

const genericSkip = new Set([
  '.metadata.managedFields',
  '.metadata.name',
  '.metadata.namespace',
  '.metadata.labels',
  '.metadata.annotations',
]);

const describeGeneric: Describer = async (obj, _info, _ctx, w) => {
  w.line(0, `Name:\t${obj.metadata.name ?? ''}`);
  w.line(0, `Namespace:\t${obj.metadata.namespace ?? ''}`);
  w.labels(0, 'Labels', obj.metadata.labels);
  w.annotations(0, 'Annotations', obj.metadata.annotations);
  printUnstructured(w, 0, obj, '', genericSkip);
};

interface DescriberEntry {
  describe: Describer;
  /** kubectl's describer for the kind lists the object's events. */
  events: boolean;
}

const describers: Record<string, DescriberEntry> = {
  '/Pod': { describe: describePod, events: true },
  'apps/Deployment': { describe: describeDeployment, events: true },
  'apps/ReplicaSet': { describe: describeReplicaSet, events: true },
  '/Service': { describe: describeService, events: true },
  '/Node': { describe: describeNode, events: true },
  '/Namespace': { describe: describeNamespace, events: false },
  '/ConfigMap': { describe: describeConfigMap, events: true },
  '/Secret': { describe: describeSecret, events: false },
  'autoscaling/HorizontalPodAutoscaler': { describe: describeHpa, events: true },
  '/Endpoints': { describe: describeEndpoints, events: true },
  'discovery.k8s.io/EndpointSlice': { describe: describeEndpointSlice, events: true },
};

function eventTime(e: KubeObject): number {
  return Date.parse(str(e['lastTimestamp'])) || 0;
}

/** The `Events:` section from a list of events about one object (kubectl's DescribeEvents). */
export function describeEvents(events: KubeObject[], now: number): string {
  if (events.length === 0) return 'Events:  <none>\n';
  const sorted = [...events].sort((a, b) => eventTime(a) - eventTime(b));
  const w = new DescribeWriter();
  w.line(0, 'Events:');
  w.line(1, 'Type\tReason\tAge\tFrom\tMessage');
  w.line(1, '----\t------\t----\t----\t-------');
  for (const e of sorted) {
    const hasEventTime = typeof e['eventTime'] === 'string' && e['eventTime'] !== '';
    const first = hasEventTime ? age(e['eventTime'], now) : age(e['firstTimestamp'], now);
    const series = rec(e['series']);
    let interval: string;
    if (e['series'] !== undefined && e['series'] !== null)
      interval = `${age(series['lastObservedTime'], now)} (x${num(series['count'])} over ${first})`;
    else if (typeof e['count'] === 'number' && e['count'] > 1)
      interval = `${age(e['lastTimestamp'], now)} (x${e['count']} over ${first})`;
    else interval = first;
    const source =
      str(rec(e['source'])['component']) || str(e['reportingController']) || str(e['reportingComponent']);
    let message = str(e['message']).trim();
    const fieldPath = str(rec(e['involvedObject'])['fieldPath']);
    if (fieldPath !== '') message = `${fieldPath}: ${message}`;
    w.line(1, `${str(e['type'])}\t${str(e['reason'])}\t${interval}\t${source}\t${message}`);
  }
  return w.toString();
}

/** Events about an object: by involvedObject name, namespace, kind (except pods) and uid. */
export async function eventsFor(
  ctx: DescribeContext,
  obj: KubeObject,
  info: ResourceInfo,
): Promise<KubeObject[]> {
  const select = async (uid: string | undefined): Promise<KubeObject[]> => {
    const parts: string[] = [];
    if (info.kind !== 'Pod' || info.group !== '') parts.push(`involvedObject.kind=${info.kind}`);
    parts.push(`involvedObject.name=${obj.metadata.name ?? ''}`);
    if (info.namespaced) parts.push(`involvedObject.namespace=${obj.metadata.namespace ?? ''}`);
    if (uid !== undefined && uid !== '') parts.push(`involvedObject.uid=${uid}`);
    return (
      (await listQuiet(ctx, 'v1', 'Event', info.namespaced ? obj.metadata.namespace : undefined, {
        fieldSelector: parts.join(','),
      })) ?? []
    );
  };
  const events = await select(obj.metadata.uid);
  // Node events come with the node's uid (controllers) or its name as the uid (the kubelet).
  if (info.group === '' && info.kind === 'Node' && obj.metadata.name !== obj.metadata.uid)
    events.push(...(await select(obj.metadata.name)));
  return events;
}

/** The whole description of an object, events included where kubectl shows them. */
export async function describeObject(
  obj: KubeObject,
  info: ResourceInfo,
  ctx: DescribeContext,
): Promise<string> {
  const w = new DescribeWriter();
  const entry = describers[`${info.group}/${info.kind}`] ?? { describe: describeGeneric, events: true };
  await entry.describe(obj, info, ctx, w);
  if (!entry.events) return w.toString();
  const events = await eventsFor(ctx, obj, info);
  if (events.length === 0) {
    // Written before the flush, like kubectl: aligned with the lines above it.
    w.line(0, 'Events:\t<none>');
    return w.toString();
  }
  return w.toString() + describeEvents(events, ctx.now);
}

/** kubectl's DescribePodTemplate on its own (`rollout history --revision=N` prints it). */
export function describePodTemplate(template: unknown): string {
  const w = new DescribeWriter();
  podTemplate(w, template);
  return w.toString();
}
