// How ApiClient's requests reach the server.
//
// - undici over HTTPS (or HTTP), for every client that talks to a server over the network: the CLI, the
//   agent, tests. undici is imported on the first request, so a process that never uses this transport
//   never loads it (it costs about 10 MB of RSS).
// - node:http over the API server's local unix socket, for the controllers and the scheduler that run
//   inside the API server's own process: no TLS on either side of every watch event and request, and no
//   undici in the server.
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import type { Agent as UndiciAgent } from 'undici';

export interface TransportRequest {
  /** Path and query, e.g. `/api/v1/pods?watch=true`. */
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  signal: AbortSignal | undefined;
  /** Longest wait for the response headers, and between body chunks unless `stream`. */
  timeoutMs: number;
  /** A watch: the body may stay open for as long as the server likes. */
  stream: boolean;
}

export interface TransportResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
}

export interface Transport {
  request(r: TransportRequest): Promise<TransportResponse>;
  close(): Promise<void>;
}

/** The error code of a request that timed out, whichever transport (undici's own codes included). */
export const timeoutCodes = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'FLOTILLA_REQUEST_TIMEOUT',
]);

export interface TlsConnect {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
}

export function undiciTransport(server: string, connect: TlsConnect): Transport {
  let agent: UndiciAgent | undefined;
  let undici: Promise<typeof import('undici')> | undefined;
  return {
    async request(r) {
      undici ??= import('undici');
      const mod = await undici;
      agent ??= new mod.Agent({ connect });
      const res = await mod.request(server + r.path, {
        method: r.method,
        headers: r.headers,
        body: r.body ?? null,
        dispatcher: agent,
        signal: r.signal ?? null,
        headersTimeout: r.timeoutMs,
        bodyTimeout: r.stream ? 0 : r.timeoutMs,
      });
      return {
        statusCode: res.statusCode,
        headers: res.headers,
        body: res.body,
        text: () => res.body.text(),
      };
    },
    async close() {
      await agent?.close();
    },
  };
}

export function unixSocketTransport(socketPath: string): Transport {
  const agent = new HttpAgent({ keepAlive: true });
  return {
    request(r) {
      return new Promise<TransportResponse>((resolve, reject) => {
        const headers: Record<string, string> = { ...r.headers, host: 'localhost' };
        if (r.body !== undefined) headers['content-length'] = String(Buffer.byteLength(r.body));
        const req = httpRequest({
          socketPath,
          agent,
          path: r.path,
          method: r.method,
          headers,
        });
        // The abort is handled here rather than through http.request's `signal` option: that option destroys
        // the request with an AbortError, and once the response has ended (a watch closed right after its
        // last event, e.g. an ERROR 410 after compaction) that error is emitted where nobody listens and
        // becomes an uncaught exception. Destroying without an error ends the body stream for its reader.
        if (r.signal !== undefined) {
          const signal = r.signal;
          if (signal.aborted) {
            reject(abortError());
            return;
          }
          const onAbort = (): void => {
            req.destroy();
          };
          signal.addEventListener('abort', onAbort, { once: true });
          req.once('close', () => {
            signal.removeEventListener('abort', onAbort);
            reject(abortError());
          });
        }
        const timeout = (): void => {
          const err = Object.assign(new Error(`no answer within ${r.timeoutMs} ms`), {
            code: 'FLOTILLA_REQUEST_TIMEOUT',
          });
          req.destroy(err);
        };
        req.setTimeout(r.timeoutMs, timeout);
        // `on`, not `once`: an error after the response (an abort mid-watch) must not go unhandled; the body
        // stream reports it to its reader.
        req.on('error', reject);
        req.once('response', (res: IncomingMessage) => {
          if (r.stream) req.setTimeout(0);
          resolve({
            statusCode: res.statusCode ?? 0,
            headers: res.headers,
            body: res,
            text: () => readText(res),
          });
        });
        req.end(r.body);
      });
    },
    async close() {
      agent.destroy();
    },
  };
}

function abortError(): Error {
  return Object.assign(new Error('the request was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
