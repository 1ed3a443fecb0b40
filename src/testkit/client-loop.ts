// Plain-HTTP clients for data-path tests: one GET, and a bounded loop of sequential GETs that counts
// answers and failures (the "no request fails while ..." checks of the Service and rollout tests).
import { request, type Agent as HttpAgent } from 'node:http';

/**
 * One GET `/` on a new connection (or the given agent's); the trimmed body of a 200, or an error whose
 * `code` is the socket's (ECONNREFUSED, EHOSTUNREACH, ...) or `TIMEOUT`.
 */
export function httpGet(
  host: string,
  port: number,
  opts: { agent?: HttpAgent; timeoutMs?: number; path?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port, path: opts.path ?? '/', agent: opts.agent ?? false, timeout: opts.timeoutMs ?? 3_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(body.trim())
            : reject(Object.assign(new Error(`HTTP ${res.statusCode} ${body.trim()}`), { code: 'HTTP' })),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', reject);
    req.end();
  });
}

export interface ClientLoopResult {
  ok: number;
  /** One line per failed request: its time, error code and message. */
  failed: string[];
  /** Each answer's latency in milliseconds, in order. */
  latenciesMs: number[];
}

/**
 * Sequential GETs to `host:port` until `stop()` (or `maxMs`). The per-request timeout is generous
 * (10 s) because a forked busybox httpd on a loaded 2-core CI machine can take seconds to answer; a
 * request sent to a backend that is gone fails on its own (ECONNREFUSED or EHOSTUNREACH) before that.
 */
export function clientLoop(
  host: string,
  port: number,
  opts: { gapMs?: number; timeoutMs?: number; maxMs?: number; path?: string } = {},
): { stop(): Promise<ClientLoopResult> } {
  let running = true;
  const result: ClientLoopResult = { ok: 0, failed: [], latenciesMs: [] };
  const done = (async () => {
    const deadline = Date.now() + (opts.maxMs ?? 300_000);
    while (running && Date.now() < deadline) {
      const t0 = Date.now();
      try {
        await httpGet(host, port, {
          timeoutMs: opts.timeoutMs ?? 10_000,
          ...(opts.path === undefined ? {} : { path: opts.path }),
        });
        result.ok += 1;
        result.latenciesMs.push(Date.now() - t0);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        result.failed.push(`${new Date().toISOString()} ${e.code ?? 'ERROR'} ${e.message}`);
      }
      await new Promise((r) => setTimeout(r, opts.gapMs ?? 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return result;
    },
  };
}
