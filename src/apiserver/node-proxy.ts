// The API server's proxy to node agents for `pods/{name}/log` and `pods/{name}/exec`, as kube-apiserver
// proxies to kubelets: the request is authenticated and authorized like any other (exec needs create on
// pods/exec), the pod and its node are looked up, the parameters checked, and then the agent is called over
// HTTPS with the API server's client certificate (CN `flotilla:apiserver`). The agent's serving certificate
// is not verified, as kube-apiserver does not verify kubelets by default.
//
// Logs stream through chunk by chunk. Exec is a WebSocket upgrade: the agent answers the handshake and both
// sockets are piped; the agent speaks the channel protocol itself. If the agent cannot be reached, the API
// server completes the handshake itself and reports the failure on channel 3, so kubectl prints the cause
// (a non-101 answer would make kubectl retry over SPDY and show that error instead).
//
// Agent unreachable: 503 ServiceUnavailable naming the node, its agent address and the dial error
// (kube-apiserver answers 500 "error dialing backend"; 503 says better that the backend is what failed).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { rejectUpgrade } from '../agent/server/reject-upgrade.js';
import {
  channel,
  encodeFrame,
  errorPayload,
  failureStatus,
  negotiateProtocol,
} from '../agent/server/channel.js';
import { ApiError, errors, isApiError } from '../api/errors.js';
import { isObject, type KubeObject } from '../api/types.js';

export interface AgentClientCredentials {
  certPem: string;
  keyPem: string;
}

export interface NodeProxyDeps {
  getPod(namespace: string, name: string): Promise<KubeObject>;
  getNode(name: string): Promise<KubeObject>;
  /** The client certificate for agents; undefined when the PKI has none (old data dir, plain-HTTP tests). */
  agentClient: AgentClientCredentials | undefined;
  log: (line: string) => void;
  /** Connection timeout towards an agent (ms). */
  dialTimeoutMs?: number;
}

export const spdyRefusal =
  'Flotilla speaks the WebSocket streaming protocol (v5.channel.k8s.io), not SPDY: use kubectl 1.30 or ' +
  'newer, which uses WebSocket by default (and leave KUBECTL_REMOTE_COMMAND_WEBSOCKETS unset or true)';

export interface AgentEndpoint {
  node: string;
  host: string;
  port: number;
}

export interface LogOptions {
  container: string;
  query: URLSearchParams;
}

export interface ExecOptions {
  container: string;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

const badRequest = (message: string): ApiError => errors.badRequest(message);

function bool(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw badRequest(`${name}: Invalid value: "${v}": must be true or false`);
}

function int(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`${name}: Invalid value: "${v}": must be an integer`);
  return Number.parseInt(v, 10);
}

function containerNames(pod: KubeObject): { main: string[]; init: string[]; ephemeral: string[] } {
  const spec = isObject(pod.spec) ? pod.spec : {};
  const names = (list: unknown): string[] =>
    Array.isArray(list) ? list.map((c) => (isObject(c) && typeof c.name === 'string' ? c.name : '')) : [];
  return {
    main: names(spec.containers),
    init: names(spec.initContainers),
    ephemeral: names(spec.ephemeralContainers),
  };
}

/**
 * The container a request is for: the one named (it must exist in the pod), else the only one. A pod with
 * several containers needs the name, with upstream's message listing them (kubectl picks the first itself).
 */
export function chooseContainer(pod: KubeObject, requested: string | null): string {
  const podName = pod.metadata.name ?? '';
  const { main, init, ephemeral } = containerNames(pod);
  if (requested === null || requested === '') {
    if (main.length === 1) return main[0] ?? '';
    if (main.length === 0) throw badRequest(`a container name must be specified for pod ${podName}`);
    let message = `a container name must be specified for pod ${podName}, choose one of: [${main.join(' ')}]`;
    if (init.length > 0) message += ` or one of the init containers: [${init.join(' ')}]`;
    throw badRequest(message);
  }
  if (![...main, ...init, ...ephemeral].includes(requested))
    throw badRequest(`container ${requested} is not valid for pod ${podName}`);
  return requested;
}

/** Checks the log parameters as kube-apiserver's PodLogOptions validation does; the query for the agent. */
export function logQuery(q: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  const tailLines = int(q, 'tailLines');
  const limitBytes = int(q, 'limitBytes');
  const sinceSeconds = int(q, 'sinceSeconds');
  const sinceTime = q.get('sinceTime');
  const problems: string[] = [];
  if (tailLines !== undefined && tailLines < 0)
    problems.push(`tailLines: Invalid value: ${tailLines}: must be greater than or equal to 0`);
  if (limitBytes !== undefined && limitBytes < 1)
    problems.push(`limitBytes: Invalid value: ${limitBytes}: must be greater than 0`);
  if (sinceSeconds !== undefined && sinceSeconds < 1)
    problems.push(`sinceSeconds: Invalid value: ${sinceSeconds}: must be greater than 0`);
  const hasSinceTime = sinceTime !== null && sinceTime !== '';
  if (hasSinceTime && sinceSeconds !== undefined)
    problems.push('at most one of `sinceTime` or `sinceSeconds` may be specified');
  if (hasSinceTime && Number.isNaN(Date.parse(sinceTime)))
    problems.push(`sinceTime: Invalid value: "${sinceTime}": must be an RFC 3339 time`);
  if (problems.length > 0)
    throw badRequest(problems.length === 1 ? (problems[0] ?? '') : `[${problems.join(', ')}]`);
  for (const name of ['follow', 'previous', 'timestamps'] as const) {
    if (bool(q, name) === true) out.set(name, 'true');
  }
  if (tailLines !== undefined) out.set('tailLines', String(tailLines));
  if (limitBytes !== undefined) out.set('limitBytes', String(limitBytes));
  if (sinceSeconds !== undefined) out.set('sinceSeconds', String(sinceSeconds));
  if (hasSinceTime) out.set('sinceTime', sinceTime);
  return out;
}

/** Checks the exec parameters; the query for the agent. */
export function execQuery(q: URLSearchParams): { query: URLSearchParams; tty: boolean } {
  const command = q.getAll('command');
  if (command.length === 0) throw badRequest('you must specify at least one command for the container');
  const stdin = bool(q, 'stdin') ?? false;
  const stdout = bool(q, 'stdout') ?? false;
  const stderr = bool(q, 'stderr') ?? false;
  const tty = bool(q, 'tty') ?? false;
  if (!stdin && !stdout && !stderr) throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
  const out = new URLSearchParams();
  for (const c of command) out.append('command', c);
  if (stdin) out.set('stdin', 'true');
  if (stdout) out.set('stdout', 'true');
  if (stderr) out.set('stderr', 'true');
  if (tty) out.set('tty', 'true');
  return { query: out, tty };
}

/** Where a node's agent listens: its InternalIP (else Hostname) and kubelet endpoint port. */
export function agentEndpoint(node: KubeObject): AgentEndpoint {
  const name = node.metadata.name ?? '';
  const status = isObject(node.status) ? node.status : {};
  const addresses = Array.isArray(status.addresses) ? status.addresses.filter(isObject) : [];
  const pick = (type: string): string | undefined => {
    const a = addresses.find((x) => x.type === type && typeof x.address === 'string' && x.address !== '');
    return a === undefined ? undefined : String(a.address);
  };
  const host = pick('InternalIP') ?? pick('Hostname') ?? pick('ExternalIP');
  if (host === undefined)
    throw new ApiError(
      'ServiceUnavailable',
      `node "${name}" has no InternalIP or Hostname address to reach its agent`,
    );
  const daemon = isObject(status.daemonEndpoints) ? status.daemonEndpoints : {};
  const kubelet = isObject(daemon.kubeletEndpoint) ? daemon.kubeletEndpoint : {};
  const port = typeof kubelet.Port === 'number' && kubelet.Port > 0 ? kubelet.Port : 10250;
  return { node: name, host, port };
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function dialError(ep: AgentEndpoint, err: unknown): ApiError {
  const e = err as NodeJS.ErrnoException;
  return new ApiError(
    'ServiceUnavailable',
    `error dialing backend: node "${ep.node}" (agent at https://${hostForUrl(ep.host)}:${ep.port}): ${e.message ?? String(err)}`,
  );
}

/** A non-2xx answer from an agent as the error to give the client (its Status when it sent one). */
function agentError(ep: AgentEndpoint, code: number, body: string): ApiError {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (isObject(parsed) && parsed.kind === 'Status' && typeof parsed.message === 'string') {
      const reason = typeof parsed.reason === 'string' ? parsed.reason : '';
      if (code === 400) return errors.badRequest(parsed.message);
      if (code === 404) return new ApiError('NotFound', parsed.message);
      if (code === 401 || code === 403)
        return new ApiError(
          'InternalError',
          `node "${ep.node}" refused the API server's client certificate (${reason}): ${parsed.message}`,
        );
      return errors.internal(parsed.message);
    }
  } catch {
    // not JSON
  }
  return errors.internal(`node "${ep.node}" answered ${code}: ${body.trim()}`);
}

/** What GET nodes/{name}/proxy/... may reach on an agent. */
export const nodeProxyPaths: readonly string[] = ['/stats/summary', '/metrics', '/healthz'];

/** The message of a Status body, else the body itself. */
function statusMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (isObject(parsed) && typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON
  }
  return body.trim();
}

function podPath(ns: string, pod: string, container: string): string {
  return [ns, pod, container].map(encodeURIComponent).join('/');
}

export class NodeProxy {
  private readonly deps: NodeProxyDeps;
  /** Made on the first failed exec that needs it: `ws` is loaded only then. */
  private wss: WebSocketServer | undefined;

  constructor(deps: NodeProxyDeps) {
    this.deps = deps;
  }

  private credentials(): AgentClientCredentials {
    const c = this.deps.agentClient;
    if (c === undefined)
      throw new ApiError(
        'ServiceUnavailable',
        'the API server has no client certificate for node agents (pki/ca.key is missing in an old data dir): ' +
          'regenerate the PKI to use logs and exec',
      );
    return c;
  }

  /** Pod, container, node and agent address for a request; throws the client's error. */
  private async target(
    ns: string,
    name: string,
    container: string | null,
  ): Promise<{ container: string; ep: AgentEndpoint }> {
    const pod = await this.deps.getPod(ns, name);
    const chosen = chooseContainer(pod, container);
    const spec = isObject(pod.spec) ? pod.spec : {};
    const nodeName = typeof spec.nodeName === 'string' ? spec.nodeName : '';
    if (nodeName === '') throw badRequest(`pod ${name} does not have a host assigned`);
    return { container: chosen, ep: agentEndpoint(await this.deps.getNode(nodeName)) };
  }

  private requestOptions(ep: AgentEndpoint, path: string, headers: Record<string, string>): RequestOptions {
    const creds = this.credentials();
    return {
      host: ep.host,
      port: ep.port,
      path,
      method: 'GET',
      headers,
      cert: creds.certPem,
      key: creds.keyPem,
      rejectUnauthorized: false,
      agent: false,
    };
  }

  /** Bounds the connection phase only: a followed log may then be idle for hours. */
  private dialTimer(req: ReturnType<typeof httpsRequest>, ep: AgentEndpoint): void {
    const timer = setTimeout(
      () => req.destroy(new Error(`no connection after ${this.deps.dialTimeoutMs ?? 10_000} ms`)),
      this.deps.dialTimeoutMs ?? 10_000,
    );
    req.once('socket', (s) => {
      s.once('secureConnect', () => clearTimeout(timer));
    });
    req.once('close', () => clearTimeout(timer));
    req.once('response', () => clearTimeout(timer));
    void ep;
  }

  /** GET pods/{name}/log. */
  async serveLog(
    req: IncomingMessage,
    res: ServerResponse,
    ns: string,
    name: string,
    q: URLSearchParams,
  ): Promise<void> {
    const query = logQuery(q);
    const { container, ep } = await this.target(ns, name, q.get('container'));
    const path = `/containerLogs/${podPath(ns, name, container)}?${query.toString()}`;
    const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = httpsRequest(this.requestOptions(ep, path, { Accept: 'text/plain' }), resolve);
      this.dialTimer(r, ep);
      r.once('error', (err) => reject(dialError(ep, err)));
      res.once('close', () => r.destroy());
      r.end();
    });
    const code = upstream.statusCode ?? 500;
    if (code !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of upstream) chunks.push(c as Buffer);
      throw agentError(ep, code, Buffer.concat(chunks).toString('utf8'));
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    await new Promise<void>((resolve) => {
      upstream.on('data', (chunk: Buffer) => {
        if (!res.write(chunk)) {
          upstream.pause();
          res.once('drain', () => upstream.resume());
        }
      });
      upstream.once('end', () => {
        res.end();
        resolve();
      });
      upstream.once('error', () => {
        res.destroy();
        resolve();
      });
      res.once('close', () => {
        upstream.destroy();
        resolve();
      });
    });
  }

  /**
   * GET nodes/{name}/proxy/{path}: the node's agent answers. Only the agent's read-only documents are
   * forwarded (`nodeProxyPaths`); logs and exec have their own pod subresources with their own checks.
   */
  async serveNodeProxy(res: ServerResponse, nodeName: string, path: string): Promise<void> {
    const clean = `/${path
      .split('/')
      .filter((p) => p !== '')
      .join('/')}`;
    if (!nodeProxyPaths.includes(clean))
      throw new ApiError(
        'NotFound',
        `the node proxy serves only ${nodeProxyPaths.join(', ')} of an agent; not ${JSON.stringify(clean)}`,
      );
    const ep = agentEndpoint(await this.deps.getNode(nodeName));
    const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = httpsRequest(
        this.requestOptions(ep, clean, { Accept: clean === '/metrics' ? 'text/plain' : 'application/json' }),
        resolve,
      );
      this.dialTimer(r, ep);
      r.once('error', (err) => reject(dialError(ep, err)));
      res.once('close', () => r.destroy());
      r.end();
    });
    const chunks: Buffer[] = [];
    try {
      for await (const c of upstream) chunks.push(c as Buffer);
    } catch (err) {
      throw dialError(ep, err);
    }
    const body = Buffer.concat(chunks);
    const code = upstream.statusCode ?? 500;
    if (code === 503)
      throw new ApiError(
        'ServiceUnavailable',
        `node "${ep.node}" cannot serve ${clean}: ${statusMessage(body.toString('utf8'))}`,
      );
    if (code !== 200) throw agentError(ep, code, body.toString('utf8'));
    const type = upstream.headers['content-type'];
    res.writeHead(200, {
      'Content-Type': typeof type === 'string' ? type : 'application/octet-stream',
      'Content-Length': body.length,
    });
    res.end(body);
  }

  /** pods/{name}/exec without an upgrade (or with SPDY): checked like the real thing, then refused. */
  async refuseExec(ns: string, name: string, q: URLSearchParams, spdy: boolean): Promise<never> {
    execQuery(q);
    await this.target(ns, name, q.get('container'));
    throw badRequest(
      spdy
        ? spdyRefusal
        : `pods/exec needs a WebSocket upgrade (v5.channel.k8s.io); ${spdyRefusal.split(': ')[1]}`,
    );
  }

  /** pods/{name}/exec with an Upgrade header (after authentication and authorization). */
  async serveExecUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    ns: string,
    name: string,
    q: URLSearchParams,
  ): Promise<void> {
    const websocket = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if (!websocket || req.method !== 'GET') await this.refuseExec(ns, name, q, true);
    const { query } = execQuery(q);
    const { container, ep } = await this.target(ns, name, q.get('container'));
    const headers: Record<string, string> = { Connection: 'Upgrade', Upgrade: 'websocket' };
    for (const h of [
      'sec-websocket-key',
      'sec-websocket-version',
      'sec-websocket-protocol',
      'sec-websocket-extensions',
    ]) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const path = `/exec/${podPath(ns, name, container)}?${query.toString()}`;
    const options = this.requestOptions(ep, path, headers);
    await new Promise<void>((resolve) => {
      const upstream = httpsRequest(options);
      this.dialTimer(upstream, ep);
      let settled = false;
      const fail = (message: string): void => {
        if (settled) return;
        settled = true;
        this.failOverWebSocket(req, socket, head, message);
        resolve();
      };
      upstream.once('upgrade', (agentRes: IncomingMessage, agentSocket: Duplex, agentHead: Buffer) => {
        settled = true;
        let reply = `HTTP/1.1 101 Switching Protocols\r\n`;
        const raw = agentRes.rawHeaders;
        for (let i = 0; i + 1 < raw.length; i += 2) reply += `${raw[i] ?? ''}: ${raw[i + 1] ?? ''}\r\n`;
        socket.write(`${reply}\r\n`);
        if (agentHead.length > 0) socket.write(agentHead);
        if (head.length > 0) agentSocket.write(head);
        agentSocket.pipe(socket);
        socket.pipe(agentSocket);
        const end = (): void => {
          agentSocket.destroy();
          socket.destroy();
        };
        agentSocket.once('error', end);
        socket.once('error', end);
        agentSocket.once('close', () => socket.end());
        socket.once('close', () => agentSocket.destroy());
        resolve();
      });
      upstream.once('response', (agentRes: IncomingMessage) => {
        const chunks: Buffer[] = [];
        agentRes.on('data', (c: Buffer) => chunks.push(c));
        agentRes.once('end', () =>
          fail(agentError(ep, agentRes.statusCode ?? 500, Buffer.concat(chunks).toString('utf8')).message),
        );
        agentRes.once('error', (err) => fail(dialError(ep, err).message));
      });
      upstream.once('error', (err) => fail(dialError(ep, err).message));
      socket.once('close', () => upstream.destroy());
      upstream.end();
    });
  }

  /** Complete the client's handshake ourselves and report `message` on the error channel. */
  private failOverWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, message: string): void {
    if (socket.destroyed) return;
    this.deps.log(`node proxy: exec ${req.url ?? ''}: ${message}`);
    void import('ws').then(({ WebSocketServer }) => {
      if (socket.destroyed) return;
      this.wss ??= new WebSocketServer({
        noServer: true,
        handleProtocols: (offered: Set<string>) => negotiateProtocol(offered) ?? false,
      });
      this.completeFailure(this.wss, req, socket, head, message);
    });
  }

  private completeFailure(
    wss: WebSocketServer,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    message: string,
  ): void {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const protocol = negotiateProtocol([ws.protocol]) ?? 'channel.k8s.io';
      const payload = errorPayload(protocol, failureStatus(message));
      if (payload !== undefined) ws.send(encodeFrame(channel.error, payload));
      ws.close(1000);
    });
  }

  close(): void {
    if (this.wss === undefined) return;
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
  }
}

/** Answer a failed upgrade with the Status of `err` (a JSON HTTP response on the raw socket). */
export function rejectUpgradeWith(socket: Duplex, err: unknown): void {
  const status = isApiError(err)
    ? err.toStatus()
    : errors.internal(String((err as Error).message ?? err)).toStatus();
  rejectUpgrade(socket, status.code, JSON.stringify(status));
}
