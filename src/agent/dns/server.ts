// The cluster DNS server of one node: UDP and TCP (length-prefixed) on one address and port, answering
// names inside the cluster domain from a zone rebuilt on every ServiceView change, and forwarding every
// other name to the upstream resolvers (each tried in turn with a short timeout; SERVFAIL when none
// answers). Names inside the cluster domain are never forwarded.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { ServiceView } from '../services/view.js';
import { formatUpstream, type Upstream } from './config.js';
import {
  ClassIN,
  DnsFormatError,
  RCode,
  decodeHeader,
  decodeMessage,
  emptyFlags,
  encodeForUdp,
  encodeMessage,
  udpLimit,
  type DnsMessage,
} from './message.js';
import { answer, buildZone, defaultTtlSeconds, reply, type Zone } from './zone.js';

export interface DnsServerOptions {
  /** Address to listen on (the agent: its bridge address). */
  address: string;
  /** Port for UDP and TCP; 0 picks a free one (tests). */
  port: number;
  view: ServiceView;
  /** Cluster domain, e.g. `cluster.local`. */
  domain: string;
  upstreams: Upstream[];
  ttl?: number;
  /** Per upstream try (default 2000 ms); the next upstream is tried after it. */
  upstreamTimeoutMs?: number;
  /** Forwarded queries in flight at most (default 1024); beyond it clients get SERVFAIL at once. */
  maxForwards?: number;
  log?: (line: string) => void;
}

export interface DnsStats {
  queries: number;
  answeredLocally: number;
  forwarded: number;
  upstreamFailures: number;
  malformed: number;
}

type Transport = 'udp' | 'tcp';

export class DnsServer {
  private readonly opts: DnsServerOptions;
  private readonly log: (line: string) => void;
  private zone: Zone | undefined;
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly conns = new Set<Socket>();
  private readonly pending = new Set<{ close(): void }>();
  private unsubscribe: (() => void) | undefined;
  private boundPort = 0;
  private forwards = 0;
  private stopped = false;
  readonly stats: DnsStats = {
    queries: 0,
    answeredLocally: 0,
    forwarded: 0,
    upstreamFailures: 0,
    malformed: 0,
  };

  constructor(opts: DnsServerOptions) {
    this.opts = opts;
    this.log = opts.log ?? (() => undefined);
  }

  /** The port UDP and TCP listen on. */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    this.unsubscribe = this.opts.view.onChange(() => this.rebuild());
    this.rebuild();
    for (let attempt = 0; ; attempt++) {
      const udp = await this.bindUdp(this.opts.port).catch((err: unknown) => {
        this.unsubscribe?.();
        throw err;
      });
      const port = udp.address().port;
      try {
        this.tcp = await this.listenTcp(port);
        this.udp = udp;
        this.boundPort = port;
        break;
      } catch (err) {
        udp.close();
        // With port 0 the UDP port may be taken for TCP by someone else: pick another.
        if (this.opts.port !== 0 || attempt >= 5) {
          this.unsubscribe();
          throw err;
        }
      }
    }
    this.log(
      `dns: serving ${this.opts.domain} on ${this.opts.address}:${this.boundPort} (udp, tcp); upstreams ${
        this.opts.upstreams.map(formatUpstream).join(', ') || 'none'
      }`,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    for (const p of [...this.pending]) p.close();
    for (const c of this.conns) c.destroy();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    await Promise.all([
      udp === undefined ? undefined : new Promise<void>((resolve) => udp.close(() => resolve())),
      tcp === undefined ? undefined : new Promise<void>((resolve) => tcp.close(() => resolve())),
    ]);
  }

  /** Rebuilds the zone from the view (only once it has synced: before, cluster names get SERVFAIL). */
  private rebuild(): void {
    const { view } = this.opts;
    if (!view.synced()) return;
    try {
      this.zone = buildZone(view.services(), view.slices(), {
        domain: this.opts.domain,
        ttl: this.opts.ttl ?? defaultTtlSeconds,
        serial: view.revision(),
      });
    } catch (err) {
      this.log(`dns: zone rebuild failed: ${(err as Error).message}`);
    }
  }

  /** One query's bytes → the response bytes (undefined: send nothing). */
  async handle(bytes: Uint8Array, transport: Transport): Promise<Uint8Array | undefined> {
    this.stats.queries++;
    let query: DnsMessage;
    try {
      query = decodeMessage(bytes);
    } catch (err) {
      if (!(err instanceof DnsFormatError)) throw err;
      this.stats.malformed++;
      const header = decodeHeader(bytes);
      if (header === undefined || header.flags.qr) return undefined;
      return encodeMessage({
        id: header.id,
        flags: {
          ...emptyFlags(),
          qr: true,
          opcode: header.flags.opcode,
          rd: header.flags.rd,
          rcode: RCode.FORMERR,
        },
        questions: [],
        answers: [],
        authorities: [],
        additionals: [],
      });
    }
    if (query.flags.qr) return undefined; // a response sent to us: never answer it (reflection loops)
    const limit = transport === 'udp' ? udpLimit(query) : 65535;
    const a = answer(query, this.zone, this.opts.domain);
    if (a.kind === 'reply') {
      this.stats.answeredLocally++;
      const msg = a.message;
      if (a.chase !== undefined && a.chase !== '') await this.chase(query, msg, a.chase);
      return transport === 'udp' ? encodeForUdp(msg, limit) : encodeMessage(msg);
    }
    this.stats.forwarded++;
    const forwarded = await this.forward(bytes, transport);
    if (forwarded !== undefined) return forwarded;
    this.stats.upstreamFailures++;
    return encodeMessage(reply(query, RCode.SERVFAIL));
  }

  /** An ExternalName CNAME to a name outside the cluster: append the target's records from upstream. */
  private async chase(query: DnsMessage, msg: DnsMessage, target: string): Promise<void> {
    const q = query.questions[0];
    if (q === undefined) return;
    const sub: DnsMessage = {
      id: Math.floor(Math.random() * 65536),
      flags: { ...emptyFlags(), rd: true },
      questions: [{ name: target, type: q.type, class: ClassIN }],
      answers: [],
      authorities: [],
      additionals: [],
    };
    const bytes = await this.forward(encodeMessage(sub), 'udp');
    if (bytes === undefined) return;
    try {
      const res = decodeMessage(bytes);
      if (res.id === sub.id) msg.answers.push(...res.answers);
    } catch {
      // A broken upstream answer: the client still has the CNAME.
    }
  }

  /** Sends the query to each upstream in turn; the first answer wins. */
  private async forward(bytes: Uint8Array, transport: Transport): Promise<Uint8Array | undefined> {
    if (this.forwards >= (this.opts.maxForwards ?? 1024)) return undefined;
    this.forwards++;
    try {
      for (const u of this.opts.upstreams) {
        if (this.stopped) return undefined;
        const res = transport === 'udp' ? await this.forwardUdp(u, bytes) : await this.forwardTcp(u, bytes);
        if (res !== undefined) return res;
      }
      return undefined;
    } finally {
      this.forwards--;
    }
  }

  private timeoutMs(): number {
    return this.opts.upstreamTimeoutMs ?? 2000;
  }

  private forwardUdp(u: Upstream, bytes: Uint8Array): Promise<Uint8Array | undefined> {
    return new Promise((resolve) => {
      const sock = createSocket(isIPv6(u.host) ? 'udp6' : 'udp4');
      const id = ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0);
      let done = false;
      const finish = (res: Uint8Array | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.pending.delete(handle);
        try {
          sock.close();
        } catch {
          // already closed
        }
        resolve(res);
      };
      const handle = { close: () => finish(undefined) };
      this.pending.add(handle);
      const timer = setTimeout(() => finish(undefined), this.timeoutMs());
      // A closed port on the upstream answers ICMP unreachable: a connected socket reports it at once.
      sock.on('error', () => finish(undefined));
      sock.on('message', (msg) => {
        if (msg.length >= 2 && msg.readUInt16BE(0) === id) finish(new Uint8Array(msg));
      });
      sock.connect(u.port, u.host, () => {
        sock.send(bytes, (err) => {
          if (err) finish(undefined);
        });
      });
    });
  }

  private forwardTcp(u: Upstream, bytes: Uint8Array): Promise<Uint8Array | undefined> {
    return new Promise((resolve) => {
      const sock = connect({ host: u.host, port: u.port });
      let buf = Buffer.alloc(0);
      let done = false;
      const finish = (res: Uint8Array | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.pending.delete(handle);
        sock.destroy();
        resolve(res);
      };
      const handle = { close: () => finish(undefined) };
      this.pending.add(handle);
      const timer = setTimeout(() => finish(undefined), this.timeoutMs());
      sock.on('error', () => finish(undefined));
      sock.on('close', () => finish(undefined));
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(bytes.length);
        sock.write(Buffer.concat([len, bytes]));
      });
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 2) return;
        const n = buf.readUInt16BE(0);
        if (buf.length >= 2 + n) finish(new Uint8Array(buf.subarray(2, 2 + n)));
      });
    });
  }

  private bindUdp(port: number): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      const sock = createSocket(isIPv6(this.opts.address) ? 'udp6' : 'udp4');
      sock.once('error', reject);
      sock.bind(port, this.opts.address, () => {
        sock.off('error', reject);
        sock.on('error', (err) => this.log(`dns: udp: ${err.message}`));
        sock.on('message', (msg, rinfo) => {
          void this.handle(new Uint8Array(msg), 'udp')
            .then((res) => {
              if (res !== undefined && this.udp === sock) sock.send(res, rinfo.port, rinfo.address);
            })
            .catch((err: unknown) => this.log(`dns: ${(err as Error).message}`));
        });
        resolve(sock);
      });
    });
  }

  private listenTcp(port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer((conn) => this.serveConnection(conn));
      server.maxConnections = 512;
      server.once('error', reject);
      server.listen(port, this.opts.address, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log(`dns: tcp: ${err.message}`));
        resolve(server);
      });
    });
  }

  private serveConnection(conn: Socket): void {
    this.conns.add(conn);
    conn.setTimeout(10_000, () => conn.destroy());
    conn.on('close', () => this.conns.delete(conn));
    conn.on('error', () => conn.destroy());
    let buf = Buffer.alloc(0);
    conn.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (buf.length < 2 + n) break;
        const q = new Uint8Array(buf.subarray(2, 2 + n));
        buf = buf.subarray(2 + n);
        void this.handle(q, 'tcp')
          .then((res) => {
            if (res === undefined || conn.destroyed) return;
            const len = Buffer.alloc(2);
            len.writeUInt16BE(res.length);
            conn.write(Buffer.concat([len, res]));
          })
          .catch((err: unknown) => this.log(`dns: ${(err as Error).message}`));
      }
    });
  }
}
