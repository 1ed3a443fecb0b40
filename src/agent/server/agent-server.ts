// The agent's streaming server, like the kubelet's: container logs and exec over HTTPS, for the API
// server only (a client certificate signed by the cluster CA with CN `flotilla:apiserver`).
//
//   GET /containerLogs/{ns}/{pod}/{container}?follow&tailLines&sinceSeconds&sinceTime&timestamps&previous&limitBytes
//   GET /exec/{ns}/{pod}/{container}?command=..&command=..&stdin&stdout&stderr&tty   (WebSocket upgrade)
//   GET /stats/summary   (the kubelet Summary API document, from the StatsCollector; 503 without one)
//   GET /metrics         (Prometheus text: the agent's metrics registry; 503 without one)
//   GET /healthz
//
// Errors before a stream starts are Kubernetes Status JSON with the HTTP code; errors of an exec once the
// WebSocket is up go on channel 3, where kubectl prints them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { rejectUpgrade } from './reject-upgrade.js';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { MetricsRegistry } from '../../machinery/prom/index.js';
import type { ContainerRuntime, ExecSession } from '../runtime/types.js';
import {
  channel,
  decodeClientFrame,
  encodeFrame,
  errorPayload,
  exitStatus,
  failureStatus,
  negotiateProtocol,
  type ExecProtocol,
  type ExitStatus,
} from './channel.js';
import { logTimeOfDate, parseLogTime, streamCriLog, type LogTime } from './cri-log.js';
import { execTarget, findContainers, logTarget, type ContainerRef } from './resolve.js';
import { ensureServingCert, selfSignedCert, type KeyPairPem } from './serving-cert.js';
import { StatsCollector, type Summary } from './stats.js';

/** The Common Name the API server's client certificate carries. */
export const apiserverClientCN = 'flotilla:apiserver';

export interface AgentServerOptions {
  /** Address to listen on (the node's InternalIP, or 127.0.0.1 for a single machine). */
  host: string;
  /** 0 picks a free port (tests); the default agent port is 10250 like the kubelet's. */
  port: number;
  /**
   * The cluster CA (from the agent's kubeconfig): client certificates must chain to it. Without it no
   * client can be verified, so every logs/exec request is refused with 401 (said in the log at start).
   */
  caPem?: string | undefined;
  runtime: ContainerRuntime;
  log?: (line: string) => void;
  /** Keep the self-signed serving certificate in this dir (agent.crt/agent.key); in memory when unset. */
  certDir?: string;
  /** Use this serving key pair instead of a self-signed one. */
  servingCert?: KeyPairPem;
  /** How often a followed log polls for new bytes and the container's state (ms). */
  logPollMs?: number;
  /**
   * Serves `GET /stats/summary`. A StatsCollector is started with the server and stopped with it; a
   * function is just called per request. Without it the route answers 503.
   */
  stats?: StatsCollector | (() => Promise<Summary>) | undefined;
  /** Serves `GET /metrics` (Prometheus text). Without it the route answers 503. */
  metrics?: MetricsRegistry | undefined;
}

interface Problem {
  code: number;
  reason: string;
  message: string;
}

function statusBody(p: Problem): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: p.message,
    reason: p.reason,
    code: p.code,
  });
}

const reasons: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

function problem(code: number, message: string): Problem {
  return { code, reason: reasons[code] ?? 'InternalError', message };
}

function sendProblem(res: ServerResponse, p: Problem): void {
  const body = statusBody(p);
  res.writeHead(p.code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function boolQuery(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v !== null && (v === '' || v === 'true' || v === '1');
}

function intQuery(q: URLSearchParams, name: string): number | undefined | Problem {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) return problem(400, `${name}: Invalid value: "${v}": must be an integer`);
  return Number.parseInt(v, 10);
}

function isProblem(x: unknown): x is Problem {
  return typeof x === 'object' && x !== null && 'code' in x && 'message' in x;
}

/** `/containerLogs/ns/pod/container` → its parts. */
function routeOf(pathname: string): { route: string; ref: ContainerRef } | undefined {
  const parts = pathname.split('/').filter((p) => p !== '');
  if (parts.length !== 4) return undefined;
  try {
    const [route, namespace, pod, container] = parts.map(decodeURIComponent);
    if (route === undefined || namespace === undefined || pod === undefined || container === undefined)
      return undefined;
    return { route, ref: { namespace, pod, container } };
  } catch {
    return undefined;
  }
}

export class AgentServer {
  private readonly opts: AgentServerOptions;
  private readonly log: (line: string) => void;
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered: Set<string>) => negotiateProtocol(offered) ?? false,
  });
  private server: Server | undefined;
  private readonly sockets = new Set<Socket | Duplex>();
  private readonly sessions = new Set<ExecSession>();

  constructor(opts: AgentServerOptions) {
    this.opts = opts;
    this.log = opts.log ?? (() => undefined);
  }

  /** Start listening; resolves with the bound port. */
  async start(): Promise<number> {
    const pair =
      this.opts.servingCert ??
      (this.opts.certDir !== undefined
        ? await ensureServingCert(this.opts.certDir, [this.opts.host])
        : await selfSignedCert([this.opts.host]));
    if (this.opts.caPem === undefined)
      this.log('agent server: no cluster CA given, so logs and exec requests will all be refused (401)');
    const server = createServer(
      {
        cert: pair.certPem,
        key: pair.keyPem,
        // An empty CA list when none is given: nothing verifies.
        ca: this.opts.caPem ?? [],
        requestCert: true,
        // Checked per request, so an unauthenticated client gets a 401 it can read instead of a TLS alert.
        rejectUnauthorized: false,
      },
      (req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          this.log(
            `agent server: ${req.method ?? ''} ${req.url ?? ''}: ${(err as Error).stack ?? String(err)}`,
          );
          if (!res.headersSent) sendProblem(res, problem(500, (err as Error).message));
          else res.destroy();
        });
      },
    );
    server.requestTimeout = 0;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      this.upgrade(req, socket, head);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    if (this.opts.stats instanceof StatsCollector) this.opts.stats.start();
    return this.port;
  }

  get port(): number {
    const addr = this.server?.address() as AddressInfo | null | undefined;
    return addr?.port ?? 0;
  }

  /** Same as close(). */
  stop(): Promise<void> {
    return this.close();
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (this.opts.stats instanceof StatsCollector) this.opts.stats.stop();
    for (const s of this.sessions) s.kill();
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    for (const s of this.sockets) s.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** 401 without a certificate from the cluster CA, 403 for any other user than the API server. */
  private authProblem(req: IncomingMessage): Problem | undefined {
    const sock = req.socket as TLSSocket;
    const peer = sock.getPeerCertificate();
    if (peer === null || Object.keys(peer).length === 0)
      return problem(401, 'Unauthorized: the agent requires a client certificate from the cluster CA');
    if (!sock.authorized)
      return problem(
        401,
        `Unauthorized: client certificate not accepted: ${String(sock.authorizationError ?? 'unknown')}`,
      );
    const cn = peer.subject?.CN;
    const name = Array.isArray(cn) ? cn.join(',') : (cn ?? '');
    if (name !== apiserverClientCN)
      return problem(403, `Forbidden: user "${name}" may not use the agent's logs and exec endpoints`);
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://agent');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
      return;
    }
    const denied = this.authProblem(req);
    if (denied !== undefined) {
      sendProblem(res, denied);
      return;
    }
    if (url.pathname.replace(/\/+$/, '') === '/stats/summary') {
      await this.serveStatsSummary(req, res);
      return;
    }
    if (url.pathname.replace(/\/+$/, '') === '/metrics') {
      await this.serveMetrics(req, res);
      return;
    }
    const route = routeOf(url.pathname);
    if (route?.route === 'exec') {
      sendProblem(
        res,
        problem(400, 'exec needs a WebSocket upgrade (subprotocol v5.channel.k8s.io or v4.channel.k8s.io)'),
      );
      return;
    }
    if (route?.route !== 'containerLogs') {
      sendProblem(res, problem(404, `the agent has no handler for ${url.pathname}`));
      return;
    }
    if (req.method !== 'GET') {
      sendProblem(res, problem(405, `${req.method ?? ''} is not supported on containerLogs; use GET`));
      return;
    }
    await this.serveLogs(req, res, route.ref, url.searchParams);
  }

  private async serveStatsSummary(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET')
      return sendProblem(
        res,
        problem(405, `${req.method ?? ''} is not supported on /stats/summary; use GET`),
      );
    const stats = this.opts.stats;
    if (stats === undefined)
      return sendProblem(
        res,
        problem(503, 'this agent was started without a stats collector, so it has no stats to serve'),
      );
    const doc = stats instanceof StatsCollector ? await stats.summary() : await stats();
    const body = JSON.stringify(doc);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  private async serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET')
      return sendProblem(res, problem(405, `${req.method ?? ''} is not supported on /metrics; use GET`));
    const metrics = this.opts.metrics;
    if (metrics === undefined)
      return sendProblem(res, problem(503, 'this agent was started without a metrics registry'));
    const body = await metrics.text();
    res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  private async serveLogs(
    req: IncomingMessage,
    res: ServerResponse,
    ref: ContainerRef,
    q: URLSearchParams,
  ): Promise<void> {
    const tailLines = intQuery(q, 'tailLines');
    const limitBytes = intQuery(q, 'limitBytes');
    const sinceSeconds = intQuery(q, 'sinceSeconds');
    for (const v of [tailLines, limitBytes, sinceSeconds]) if (isProblem(v)) return sendProblem(res, v);
    let since: LogTime | undefined;
    const sinceTime = q.get('sinceTime');
    if (sinceTime !== null && sinceTime !== '') {
      since = parseLogTime(sinceTime);
      if (since === undefined)
        return sendProblem(
          res,
          problem(400, `sinceTime: Invalid value: "${sinceTime}": must be an RFC 3339 time`),
        );
    } else if (typeof sinceSeconds === 'number') {
      since = logTimeOfDate(new Date(Date.now() - sinceSeconds * 1000));
    }
    const resolved = await findContainers(this.opts.runtime, ref);
    const target = logTarget(resolved, ref, boolQuery(q, 'previous'));
    if (!target.ok) return sendProblem(res, problem(400, target.message));
    const id = target.container.id;
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    req.socket.once('close', () => abort.abort());
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    const runtime = this.opts.runtime;
    await streamCriLog(target.container.logPath, res, {
      tailLines: tailLines as number | undefined,
      limitBytes: limitBytes as number | undefined,
      since,
      timestamps: boolQuery(q, 'timestamps'),
      follow: boolQuery(q, 'follow'),
      stillRunning: async () => {
        const s = await runtime.containerStatus(id);
        return s !== undefined && (s.state === 'running' || s.state === 'created');
      },
      pollMs: this.opts.logPollMs ?? 200,
      signal: abort.signal,
    });
    res.end();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const denied = this.authProblem(req);
    if (denied !== undefined) {
      rejectUpgrade(socket, denied.code, statusBody(denied));
      return;
    }
    const url = new URL(req.url ?? '/', 'https://agent');
    const route = routeOf(url.pathname);
    if (route?.route !== 'exec') {
      rejectUpgrade(
        socket,
        404,
        statusBody(problem(404, `the agent has no streaming handler for ${url.pathname}`)),
      );
      return;
    }
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      rejectUpgrade(
        socket,
        400,
        statusBody(
          problem(400, 'the agent speaks the WebSocket streaming protocol only (v5.channel.k8s.io)'),
        ),
      );
      return;
    }
    const q = url.searchParams;
    const command = q.getAll('command');
    if (command.length === 0) {
      rejectUpgrade(
        socket,
        400,
        statusBody(problem(400, 'you must specify at least one command for the container')),
      );
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const protocol = negotiateProtocol([ws.protocol]) ?? 'channel.k8s.io';
      this.runExec(ws, protocol, route.ref, {
        command,
        stdin: boolQuery(q, 'stdin') || boolQuery(q, 'input'),
        stdout: boolQuery(q, 'stdout') || boolQuery(q, 'output'),
        stderr: boolQuery(q, 'stderr') || boolQuery(q, 'error'),
        tty: boolQuery(q, 'tty'),
      }).catch((err: unknown) => {
        this.log(`agent server: exec ${route.ref.namespace}/${route.ref.pod}: ${String(err)}`);
        ws.terminate();
      });
    });
  }

  private async runExec(
    ws: WebSocket,
    protocol: ExecProtocol,
    ref: ContainerRef,
    p: { command: string[]; stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
  ): Promise<void> {
    let finished = false;
    const finish = (status: ExitStatus): void => {
      if (finished) return;
      finished = true;
      const payload = errorPayload(protocol, status);
      if (ws.readyState === ws.OPEN) {
        if (payload !== undefined) ws.send(encodeFrame(channel.error, payload));
        ws.close(1000);
      }
    };
    // Frames that arrive while the process starts are kept and replayed.
    let session: ExecSession | undefined;
    let clientGone = false;
    const early: Buffer[] = [];
    const onFrame = (data: Buffer): void => {
      if (session === undefined) {
        early.push(data);
        return;
      }
      const frame = decodeClientFrame(data);
      switch (frame.kind) {
        case 'stdin':
          if (p.stdin && session.stdin !== null && frame.data.length > 0) session.stdin.write(frame.data);
          return;
        case 'resize':
          if (p.tty) session.resize(frame.width, frame.height);
          return;
        case 'close':
          if (frame.stream === channel.stdin) session.stdin?.end();
          return;
        case 'ignored':
        case 'invalid':
          return;
      }
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      onFrame(isBinary ? data : Buffer.from(data));
    });
    ws.on('close', () => {
      clientGone = true;
      if (!finished) session?.kill();
    });
    ws.on('error', () => undefined);

    const target = execTarget(await findContainers(this.opts.runtime, ref), ref);
    if (!target.ok) return finish(failureStatus(target.message, 404));
    try {
      session = await this.opts.runtime.exec(target.container.id, {
        command: p.command,
        tty: p.tty,
        stdin: p.stdin,
      });
    } catch (err) {
      return finish(failureStatus(`failed to exec in container: ${(err as Error).message}`));
    }
    const s = session;
    this.sessions.add(s);
    if (clientGone) s.kill();
    if (!p.stdin) s.stdin?.end();
    for (const data of early.splice(0)) onFrame(data);

    const pump = (stream: NodeJS.ReadableStream | null, id: number, wanted: boolean): Promise<void> =>
      new Promise((resolve) => {
        if (stream === null) return resolve();
        stream.on('data', (d: Buffer | string) => {
          if (wanted && ws.readyState === ws.OPEN)
            ws.send(encodeFrame(id, typeof d === 'string' ? Buffer.from(d) : d));
        });
        stream.once('end', () => resolve());
        stream.once('close', () => resolve());
        stream.once('error', () => resolve());
      });
    const streams = Promise.all([
      pump(s.stdout, channel.stdout, p.stdout),
      pump(s.stderr, channel.stderr, p.stderr && !p.tty),
    ]);
    const code = await s.exit;
    // Output still in flight is sent first; a background child holding the pipes open does not keep
    // the session alive past a short grace.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([streams, new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    this.sessions.delete(s);
    finish(exitStatus(code));
  }
}
