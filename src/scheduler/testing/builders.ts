// Fluent builders for scheduler tests (after upstream's MakePod().Name().Node().Obj()):
//   node('n1').cpu('4').memory('8Gi').label('zone', 'a').taint('k', 'v', 'NoSchedule').obj()
//   pod('web-1').label('app', 'web').req({ cpu: '500m' }).antiAffinity('kubernetes.io/hostname', { app: 'web' }).obj()

import type { KubeObject } from '../../api/types.js';

type Obj = Record<string, unknown>;

/** `{app: 'web'}` is shorthand for `{matchLabels: {app: 'web'}}`; full selectors pass through. */
export type SelectorLike =
  Record<string, string> | { matchLabels?: Record<string, string>; matchExpressions?: Obj[] };

export function selector(s: SelectorLike): Obj {
  if ('matchLabels' in s || 'matchExpressions' in s) return s;
  return { matchLabels: { ...(s as Record<string, string>) } };
}

export interface Buildable {
  obj(): KubeObject;
}

export class NodeBuilder implements Buildable {
  private readonly labels: Record<string, string>;
  private readonly allocatable: Record<string, string> = { cpu: '4', memory: '8Gi', pods: '110' };
  private readonly taints: Obj[] = [];
  private readonly images: Obj[] = [];
  private cordoned = false;

  constructor(private readonly name: string) {
    this.labels = { 'kubernetes.io/hostname': name };
  }
  cpu(q: string): this {
    this.allocatable['cpu'] = q;
    return this;
  }
  memory(q: string): this {
    this.allocatable['memory'] = q;
    return this;
  }
  pods(n: number): this {
    this.allocatable['pods'] = String(n);
    return this;
  }
  ephemeralStorage(q: string): this {
    this.allocatable['ephemeral-storage'] = q;
    return this;
  }
  /** Any allocatable resource, e.g. `resource('example.com/gpu', '2')`. */
  resource(name: string, q: string): this {
    this.allocatable[name] = q;
    return this;
  }
  label(key: string, value: string): this {
    this.labels[key] = value;
    return this;
  }
  /** Removes a label (e.g. the default kubernetes.io/hostname). */
  withoutLabel(key: string): this {
    delete this.labels[key];
    return this;
  }
  zone(z: string): this {
    return this.label('topology.kubernetes.io/zone', z);
  }
  taint(key: string, value: string, effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'): this {
    this.taints.push({ key, value, effect });
    return this;
  }
  unschedulable(): this {
    this.cordoned = true;
    return this;
  }
  image(names: string[], sizeBytes: number): this {
    this.images.push({ names, sizeBytes });
    return this;
  }
  obj(): KubeObject {
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: this.name, uid: `node-${this.name}`, labels: { ...this.labels } },
      spec: {
        ...(this.taints.length > 0 ? { taints: this.taints.map((t) => ({ ...t })) } : {}),
        ...(this.cordoned ? { unschedulable: true } : {}),
      },
      status: {
        allocatable: { ...this.allocatable },
        capacity: { ...this.allocatable },
        ...(this.images.length > 0 ? { images: this.images } : {}),
      },
    };
  }
}

export interface SpreadOptions {
  maxSkew?: number;
  topologyKey: string;
  whenUnsatisfiable?: 'DoNotSchedule' | 'ScheduleAnyway';
  selector: SelectorLike;
  minDomains?: number;
  nodeAffinityPolicy?: 'Honor' | 'Ignore';
  nodeTaintsPolicy?: 'Honor' | 'Ignore';
  matchLabelKeys?: string[];
}

export interface TermOptions {
  namespaces?: string[];
  namespaceSelector?: SelectorLike | Record<string, never>;
}

export class PodBuilder implements Buildable {
  private namespace = 'default';
  private readonly labels: Record<string, string> = {};
  private readonly containers: Obj[] = [];
  private readonly initContainers: Obj[] = [];
  private readonly spec: Obj = {};
  private readonly status: Obj = {};
  private uid: string | undefined;
  private deletionTimestamp: string | undefined;
  private creationTimestamp: string | undefined;

  constructor(private readonly name: string) {}

  ns(namespace: string): this {
    this.namespace = namespace;
    return this;
  }
  withUid(uid: string): this {
    this.uid = uid;
    return this;
  }
  label(key: string, value: string): this {
    this.labels[key] = value;
    return this;
  }
  /** Adds a container with these requests (call again for more containers). */
  req(requests: Record<string, string>, image = 'registry.local/app:1'): this {
    this.containers.push({
      name: `c${this.containers.length}`,
      image,
      resources: { requests: { ...requests } },
    });
    return this;
  }
  initReq(requests: Record<string, string>): this {
    this.initContainers.push({
      name: `init${this.initContainers.length}`,
      image: 'registry.local/init:1',
      resources: { requests: { ...requests } },
    });
    return this;
  }
  overhead(o: Record<string, string>): this {
    this.spec['overhead'] = { ...o };
    return this;
  }
  /** A container with this image and no requests. */
  image(image: string): this {
    this.containers.push({ name: `c${this.containers.length}`, image });
    return this;
  }
  hostPort(port: number, protocol = 'TCP', hostIP?: string): this {
    this.ensureContainer();
    const c = this.containers[0] as Obj;
    const ports = (c['ports'] as Obj[] | undefined) ?? [];
    ports.push({
      containerPort: port,
      hostPort: port,
      protocol,
      ...(hostIP !== undefined ? { hostIP } : {}),
    });
    c['ports'] = ports;
    return this;
  }
  priority(p: number): this {
    this.spec['priority'] = p;
    return this;
  }
  preemptionPolicy(p: 'Never' | 'PreemptLowerPriority'): this {
    this.spec['preemptionPolicy'] = p;
    return this;
  }
  schedulerName(name: string): this {
    this.spec['schedulerName'] = name;
    return this;
  }
  /** spec.nodeName: a pod already bound (cache input) or asking for a node. */
  node(nodeName: string): this {
    this.spec['nodeName'] = nodeName;
    return this;
  }
  nodeSelector(sel: Record<string, string>): this {
    this.spec['nodeSelector'] = { ...sel };
    return this;
  }
  toleration(t: { key?: string; operator?: 'Equal' | 'Exists'; value?: string; effect?: string }): this {
    const list = (this.spec['tolerations'] as Obj[] | undefined) ?? [];
    list.push({ ...t });
    this.spec['tolerations'] = list;
    return this;
  }
  /** One required nodeSelectorTerm (terms are ORed; call again to add another). */
  requiredNodeAffinity(matchExpressions: Obj[], matchFields?: Obj[]): this {
    const na = this.nodeAffinity();
    const req = (na['requiredDuringSchedulingIgnoredDuringExecution'] as Obj | undefined) ?? {
      nodeSelectorTerms: [],
    };
    (req['nodeSelectorTerms'] as Obj[]).push({
      matchExpressions,
      ...(matchFields !== undefined ? { matchFields } : {}),
    });
    na['requiredDuringSchedulingIgnoredDuringExecution'] = req;
    return this;
  }
  preferredNodeAffinity(weight: number, matchExpressions: Obj[]): this {
    const na = this.nodeAffinity();
    const list = (na['preferredDuringSchedulingIgnoredDuringExecution'] as Obj[] | undefined) ?? [];
    list.push({ weight, preference: { matchExpressions } });
    na['preferredDuringSchedulingIgnoredDuringExecution'] = list;
    return this;
  }
  affinity(topologyKey: string, sel: SelectorLike, opts: TermOptions = {}): this {
    return this.podTerm('podAffinity', 'required', topologyKey, sel, opts);
  }
  antiAffinity(topologyKey: string, sel: SelectorLike, opts: TermOptions = {}): this {
    return this.podTerm('podAntiAffinity', 'required', topologyKey, sel, opts);
  }
  preferredAffinity(weight: number, topologyKey: string, sel: SelectorLike, opts: TermOptions = {}): this {
    return this.podTerm('podAffinity', 'preferred', topologyKey, sel, opts, weight);
  }
  preferredAntiAffinity(
    weight: number,
    topologyKey: string,
    sel: SelectorLike,
    opts: TermOptions = {},
  ): this {
    return this.podTerm('podAntiAffinity', 'preferred', topologyKey, sel, opts, weight);
  }
  spread(o: SpreadOptions): this {
    const list = (this.spec['topologySpreadConstraints'] as Obj[] | undefined) ?? [];
    list.push({
      maxSkew: o.maxSkew ?? 1,
      topologyKey: o.topologyKey,
      whenUnsatisfiable: o.whenUnsatisfiable ?? 'DoNotSchedule',
      labelSelector: selector(o.selector),
      ...(o.minDomains !== undefined ? { minDomains: o.minDomains } : {}),
      ...(o.nodeAffinityPolicy !== undefined ? { nodeAffinityPolicy: o.nodeAffinityPolicy } : {}),
      ...(o.nodeTaintsPolicy !== undefined ? { nodeTaintsPolicy: o.nodeTaintsPolicy } : {}),
      ...(o.matchLabelKeys !== undefined ? { matchLabelKeys: o.matchLabelKeys } : {}),
    });
    this.spec['topologySpreadConstraints'] = list;
    return this;
  }
  deleting(at = '2024-01-01T00:00:00Z'): this {
    this.deletionTimestamp = at;
    return this;
  }
  phase(p: string): this {
    this.status['phase'] = p;
    return this;
  }
  startTime(t: string): this {
    this.status['startTime'] = t;
    return this;
  }
  createdAt(t: string): this {
    this.creationTimestamp = t;
    return this;
  }
  nominatedNodeName(n: string): this {
    this.status['nominatedNodeName'] = n;
    return this;
  }
  obj(): KubeObject {
    if (this.containers.length === 0) this.ensureContainer();
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        uid: this.uid ?? `uid-${this.namespace}-${this.name}`,
        labels: { ...this.labels },
        ...(this.creationTimestamp !== undefined ? { creationTimestamp: this.creationTimestamp } : {}),
        ...(this.deletionTimestamp !== undefined ? { deletionTimestamp: this.deletionTimestamp } : {}),
      },
      spec: structuredClone({
        ...this.spec,
        containers: this.containers,
        ...(this.initContainers.length > 0 ? { initContainers: this.initContainers } : {}),
      }),
      status: { phase: 'Pending', ...this.status },
    };
  }

  private ensureContainer(): void {
    if (this.containers.length === 0) this.containers.push({ name: 'c0', image: 'registry.local/app:1' });
  }
  private affinityObj(): Obj {
    const a = (this.spec['affinity'] as Obj | undefined) ?? {};
    this.spec['affinity'] = a;
    return a;
  }
  private nodeAffinity(): Obj {
    const a = this.affinityObj();
    const na = (a['nodeAffinity'] as Obj | undefined) ?? {};
    a['nodeAffinity'] = na;
    return na;
  }
  private podTerm(
    kind: 'podAffinity' | 'podAntiAffinity',
    mode: 'required' | 'preferred',
    topologyKey: string,
    sel: SelectorLike,
    opts: TermOptions,
    weight = 1,
  ): this {
    const a = this.affinityObj();
    const section = (a[kind] as Obj | undefined) ?? {};
    a[kind] = section;
    const term: Obj = {
      topologyKey,
      labelSelector: selector(sel),
      ...(opts.namespaces !== undefined ? { namespaces: opts.namespaces } : {}),
      ...(opts.namespaceSelector !== undefined
        ? { namespaceSelector: selector(opts.namespaceSelector) }
        : {}),
    };
    const field = `${mode}DuringSchedulingIgnoredDuringExecution`;
    const list = (section[field] as Obj[] | undefined) ?? [];
    list.push(mode === 'required' ? term : { weight, podAffinityTerm: term });
    section[field] = list;
    return this;
  }
}

export function node(name: string): NodeBuilder {
  return new NodeBuilder(name);
}

export function pod(name: string): PodBuilder {
  return new PodBuilder(name);
}

export function namespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export function build(x: KubeObject | Buildable): KubeObject {
  return 'obj' in x && typeof x.obj === 'function' ? x.obj() : (x as KubeObject);
}

/** A small deterministic PRNG (mulberry32) for reproducible tie-breaks in tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
