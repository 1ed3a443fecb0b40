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
