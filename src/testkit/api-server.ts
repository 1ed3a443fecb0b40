// An in-process API server on a MemoryStore (or a given store) for tests: plain HTTP, no auth, port 0.
import type { KubeObject } from '../api/types.js';
import { MemoryStore } from '../store/memory-store.js';
import type { Store } from '../store/store.js';
import { installKindHooks } from '../apiserver/hooks.js';
import { startApiServer } from '../apiserver/server.js';

export interface TestServer {
  url: string;
  store: Store;
  request(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export async function startTestServer(store: Store = new MemoryStore()): Promise<TestServer> {
  installKindHooks();
  const running = await startApiServer({ store, listen: '127.0.0.1:0', log: () => undefined });
  const ns = running.api.registry({ group: '', version: 'v1', resource: 'namespaces' });
  for (const name of ['default', 'kube-system']) {
    const obj: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
    await ns.create(undefined, obj, { dryRun: false, fieldValidation: 'Strict' });
  }
  return {
    url: running.url,
    store,
    async request(method, path, body, contentType = 'application/json') {
      const init: RequestInit = { method, headers: {} };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        init.headers = { 'Content-Type': contentType };
      }
      const res = await fetch(`${running.url}${path}`, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      await running.close();
      await store.close();
    },
  };
}
