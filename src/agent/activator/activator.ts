// The activator: scale from zero. For every Service an HPA may scale to zero (annotation
// `flotilla.dev/scale-to-zero: "true"`, minReplicas 0, an Object metric describing the Service), this
// node listens on one port per TCP service port, on the pod bridge's address. While the Service has no
// endpoint, the proxy sends its new connections here (ruleset.ts) instead of refusing them. A held
// connection asks for one replica (the target's scale subresource, from 0 to 1), waits until the Service
// has a ready endpoint and is then spliced to it, bytes the client already sent included. The wait and
// the queue are bounded: past them an HTTP client gets a 503 that says why, anything else a closed
// connection, never a hang.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { ApiClient } from '../../api/client/client.js';
import { isApiError } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { activationServiceOf, scaleToZeroAnnotation } from '../../api/kinds/horizontalpodautoscaler.js';
import { asNum, asObj, asStr } from '../../api/validation/access.js';
import { servicePortsOf, slicesByService, usableEndpoints, type EndpointInfo } from '../proxy/ruleset.js';
import type { ServiceView } from '../services/view.js';

export interface ScaleTarget {
  apiVersion: string;
  kind: string;
  name: string;
}

/** A Service whose connections wake a target scaled to zero. */
export interface Activation {
  namespace: string;
  service: string;
  hpa: string;
  target: ScaleTarget;
}

/**
 * The Services that wake a target, from the HPAs: opted in, minReplicas 0, and the first Object metric
 * describing a v1 Service. By `<namespace>/<service>`; the first HPA by name wins a Service two name.
 */
export function activationsOf(hpas: readonly KubeObject[]): Map<string, Activation> {
  const out = new Map<string, Activation>();
  const sorted = [...hpas].sort((a, b) =>
    `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`.localeCompare(
      `${b.metadata.namespace ?? ''}/${b.metadata.name ?? ''}`,
    ),
  );
  for (const h of sorted) {
    if (h.metadata.annotations?.[scaleToZeroAnnotation] !== 'true') continue;
    const spec = asObj(h.spec) ?? {};
    if (asNum(spec['minReplicas']) !== 0) continue;
    const ref = asObj(spec['scaleTargetRef']) ?? {};
    const kind = asStr(ref['kind']);
    const name = asStr(ref['name']);
    if (kind === undefined || name === undefined) continue;
    // The same Service the API's validation accepted the HPA for.
    const service = activationServiceOf(spec);
    const namespace = h.metadata.namespace ?? 'default';
    if (service === undefined || out.has(`${namespace}/${service}`)) continue;
    out.set(`${namespace}/${service}`, {
      namespace,
      service,
      hpa: h.metadata.name ?? '',
      target: { apiVersion: asStr(ref['apiVersion']) ?? 'apps/v1', kind, name },
    });
  }
  return out;
}

/** A ready endpoint of one service port (by its ruleset id), or undefined. */
export function readyEndpointOf(
  view: ServiceView,
  namespace: string,
  service: string,
  portId: string,
): EndpointInfo | undefined {
  const svc = view.service(namespace, service);
  if (svc === undefined) return undefined;
  const slices = slicesByService(view.slices()).get(`${namespace}/${service}`) ?? [];
  const port = servicePortsOf(svc, slices).find((p) => p.id === portId);
  const ready = usableEndpoints(port?.endpoints ?? []).filter((e) => e.ready);
  return ready[Math.floor(Math.random() * ready.length)];
}

/** True when the first bytes a client sent open an HTTP/1.x request. */
export function looksLikeHttp(first: Buffer): boolean {
  return /^(GET|POST|PUT|HEAD|DELETE|PATCH|OPTIONS|CONNECT|TRACE) /.test(
    first.subarray(0, 8).toString('latin1'),
  );
}

/** The answer an HTTP client gets when its request cannot be served. */
export function unavailableResponse(message: string): string {
  const body = `${message}\n`;
  return [
    'HTTP/1.1 503 Service Unavailable',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    'Retry-After: 5',
    '',
    body,
  ].join('\r\n');
}

/** Asks for one replica of a target at zero (a no-op when it is above zero already). */
export type Wake = (namespace: string, target: ScaleTarget) => Promise<void>;

export function wakeThroughApi(client: ApiClient): Wake {
  return async (namespace, target) => {
    const ref = { apiVersion: target.apiVersion, kind: target.kind };
    for (let attempt = 0; attempt < 5; attempt++) {
      const scale = await client.getScale(ref, namespace, target.name);
      if ((scale.spec?.replicas ?? 0) > 0) return;
      try {
        await client.updateScale(ref, namespace, target.name, {
          metadata: { resourceVersion: scale.metadata?.resourceVersion ?? '' },
          spec: { replicas: 1 },
        });
        return;
      } catch (err) {
        if (isApiError(err) && err.reason === 'Conflict') continue;
        throw err;
      }
    }
  };
}

export interface ActivatorOptions {
  /** Where the listeners bind: the pod bridge's address (reachable from the host and every pod). */
  address: string;
  view: ServiceView;
  /** The HPAs of the cluster (an informer's list) and a way to hear of changes. */
  hpas: { list(): KubeObject[]; onChange(fn: () => void): () => void };
  wake: Wake;
  /** How long a held connection waits for a ready endpoint (default 60 s). */
  timeoutMs?: number;
  /** Connections held per Service at most; more are refused at once (default 100). */
  maxHeld?: number;
  /** Called when the listening addresses changed (the proxy reprograms). */
  onAddressesChanged?: () => void;
  log?: (line: string) => void;
}

interface Listener {
  server: Server;
  address: string;
  namespace: string;
  service: string;
}

interface Waiting {
  namespace: string;
  service: string;
  portId: string;
  socket: Socket;
  since: number;
  settle: () => void;
}

export class Activator {
  private readonly opts: ActivatorOptions;
  private readonly log: (line: string) => void;
  /** By service port id (`ns/name/tcp/port`). */
  private readonly listeners = new Map<string, Listener>();
  private readonly waiting = new Set<Waiting>();
  private readonly wakes = new Map<string, Promise<void>>();
  private readonly unsubscribe: Array<() => void> = [];
  private reconciling: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(opts: ActivatorOptions) {
    this.opts = opts;
    this.log = opts.log ?? (() => undefined);
  }

  async start(): Promise<void> {
    this.unsubscribe.push(
      this.opts.view.onChange(() => {
        this.release();
        this.schedule();
      }),
      this.opts.hpas.onChange(() => this.schedule()),
    );
    this.schedule();
    await this.reconciling;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe) u();
    await this.reconciling;
    for (const w of this.waiting) w.socket.destroy();
    this.waiting.clear();
    await Promise.all([...this.listeners.values()].map((l) => new Promise((r) => l.server.close(r))));
    this.listeners.clear();
  }

  /** Where each activatable TCP service port's held connections go: id → `ip:port`. */
  addresses(): ReadonlyMap<string, string> {
    return new Map([...this.listeners].map(([id, l]) => [id, l.address]));
  }

  /** Connections held now. */
  held(): number {
    return this.waiting.size;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.reconciling = this.reconciling
      .then(() => this.reconcile())
      .catch((err: unknown) => {
        this.log(`activator: ${(err as Error).message}`);
      });
  }

  /** Opens a listener for every TCP port of every activatable Service, closes the others. */
  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    const wanted = new Map<string, { namespace: string; service: string }>();
    for (const a of activationsOf(this.opts.hpas.list()).values()) {
      const svc = this.opts.view.service(a.namespace, a.service);
      if (svc === undefined) continue;
      for (const p of servicePortsOf(svc, [])) {
        if (p.protocol === 'tcp') wanted.set(p.id, { namespace: a.namespace, service: a.service });
      }
    }
    let changed = false;
    for (const [id, l] of this.listeners) {
      if (wanted.has(id)) continue;
      this.listeners.delete(id);
      l.server.close();
      changed = true;
    }
    for (const [id, w] of wanted) {
      if (this.listeners.has(id)) continue;
      const server = createServer((socket) => this.accept(id, w.namespace, w.service, socket));
      server.on('error', (err) => this.log(`activator: ${id}: ${err.message}`));
      const port = await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, this.opts.address, () => {
          const a = server.address();
          resolve(typeof a === 'object' && a !== null ? a.port : 0);
        });
      });
      this.listeners.set(id, { server, address: `${this.opts.address}:${port}`, ...w });
      changed = true;
    }
    if (changed) this.opts.onAddressesChanged?.();
  }

  private accept(portId: string, namespace: string, service: string, socket: Socket): void {
    socket.pause();
    socket.on('error', () => socket.destroy());
    const key = `${namespace}/${service}`;
    const ready = readyEndpointOf(this.opts.view, namespace, service, portId);
    if (ready !== undefined) {
      this.forward(socket, ready);
      return;
    }
    const heldHere = [...this.waiting].filter(
      (w) => w.namespace === namespace && w.service === service,
    ).length;
    const maxHeld = this.opts.maxHeld ?? 100;
    if (heldHere >= maxHeld) {
      this.refuse(
        socket,
        `flotilla: ${key} is starting from zero and already holds ${maxHeld} connections; retry shortly`,
      );
      return;
    }
    const timeoutMs = this.opts.timeoutMs ?? 60_000;
    const w: Waiting = { namespace, service, portId, socket, since: Date.now(), settle: () => undefined };
    const timer = setTimeout(() => {
      this.waiting.delete(w);
      this.log(`activator: ${key}: no ready endpoint within ${timeoutMs} ms; refusing a held connection`);
      this.refuse(
        socket,
        `flotilla: ${key} has no ready pod ${Math.round(timeoutMs / 1000)} s after being woken from zero`,
      );
    }, timeoutMs);
    w.settle = () => clearTimeout(timer);
    socket.once('close', () => {
      if (this.waiting.delete(w)) clearTimeout(timer);
    });
    this.waiting.add(w);
    this.wakeOnce(key);
  }

  private wakeOnce(key: string): void {
    if (this.wakes.has(key)) return;
    const a = activationsOf(this.opts.hpas.list()).get(key);
    if (a === undefined) return;
    const started = Date.now();
    const p = this.opts
      .wake(a.namespace, a.target)
      .then(() => this.log(`activator: ${key}: asked ${a.target.kind} ${a.target.name} for one replica`))
      .catch((err: unknown) =>
        this.log(
          `activator: ${key}: waking ${a.target.kind} ${a.target.name} failed: ${(err as Error).message}`,
        ),
      )
      .finally(() => {
        // Later connections ask again only after a pause (the first request is still on its way).
        setTimeout(() => this.wakes.delete(key), Math.max(0, 2_000 - (Date.now() - started))).unref();
      });
    this.wakes.set(key, p);
  }

  /** Held connections whose Service has a ready endpoint now go to it. */
  private release(): void {
    for (const w of [...this.waiting]) {
      const ep = readyEndpointOf(this.opts.view, w.namespace, w.service, w.portId);
      if (ep === undefined) continue;
      this.waiting.delete(w);
      w.settle();
      this.log(
        `activator: ${w.namespace}/${w.service}: held connection sent to ${ep.ip}:${ep.port} after ${Date.now() - w.since} ms`,
      );
      this.forward(w.socket, ep);
    }
  }

  private forward(socket: Socket, ep: EndpointInfo): void {
    const upstream = connect({ host: ep.ip, port: ep.port });
    upstream.on('error', () => {
      upstream.destroy();
      socket.destroy();
    });
    socket.on('error', () => upstream.destroy());
    upstream.once('connect', () => {
      socket.pipe(upstream);
      upstream.pipe(socket);
      socket.resume();
    });
  }

  /** An HTTP client gets a 503 with `message`; anything else a closed connection. */
  private refuse(socket: Socket, message: string): void {
    const t = setTimeout(() => socket.destroy(), 1_000);
    socket.once('data', (first: Buffer) => {
      clearTimeout(t);
      if (looksLikeHttp(first)) socket.end(unavailableResponse(message));
      else socket.destroy();
    });
    socket.resume();
  }
}
