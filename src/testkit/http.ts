// An authenticated JSON caller for a running cluster (TLS with the cluster's CA, bearer token).
import { Agent, request } from 'undici';

export interface Caller {
  call(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** With `agent`, requests share that connection pool and `close()` leaves it open. */
export function callerFor(
  target: { url: string; caPem: string | undefined; adminToken: string },
  opts: { connections?: number; agent?: Agent } = {},
): Caller {
  const agent =
    opts.agent ??
    new Agent({
      connect: target.caPem === undefined ? {} : { ca: target.caPem },
      connections: opts.connections ?? 64,
    });
  return {
    async call(method, path, body, contentType = 'application/json') {
      const res = await request(`${target.url}${path}`, {
        method: method as 'GET',
        dispatcher: agent,
        headers: {
          authorization: `Bearer ${target.adminToken}`,
          ...(body === undefined ? {} : { 'content-type': contentType }),
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.body.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: res.statusCode, body: parsed, headers: res.headers };
    },
    close: async () => {
      if (opts.agent === undefined) await agent.close();
    },
  };
}

/**
 * The first `count` events of a plain-HTTP watch at `url` (one JSON object per line), or fewer when the
 * stream ends or `timeoutMs` passes; the watch is closed either way.
 */
export async function readWatchEvents(url: string, count: number, timeoutMs = 5000): Promise<any[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: any[] = [];
  try {
    const res = await fetch(url, { signal: controller.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buf = '';
    while (events.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        events.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}
