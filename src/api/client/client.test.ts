import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generatePki } from '../../apiserver/certs.js';
import { testDir } from '../../testkit/temp-dir.js';
import { ApiError, isApiError } from '../errors.js';
import { findByKind } from '../resources.js';
import type { KubeObject, WatchEvent } from '../types.js';
import { ApiClient, apiErrorFromResponse, infoFor, isServerError, resourcePath } from './client.js';

const pods = findByKind('v1', 'Pod')!;
const deployments = findByKind('apps/v1', 'Deployment')!;
const namespaces = findByKind('v1', 'Namespace')!;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const servers: Server[] = [];
const clients: ApiClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: Handler, seen: Seen[] = []): Promise<string> {
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(server: string, extra: Partial<ConstructorParameters<typeof ApiClient>[0]> = {}): ApiClient {
  const c = new ApiClient({ server, token: 'tok', ...extra });
  clients.push(c);
  return c;
}

function json(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function status(code: number, reason: string, message: string, details?: unknown): unknown {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    code,
    reason,
    message,
    details,
  };
}

async function caught(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (isApiError(err)) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

const pod = (name: string, rv = '1'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', resourceVersion: rv },
});

describe('paths', () => {
  it('builds core, group, all-namespace, cluster-scoped and subresource paths', () => {
    expect(resourcePath(pods, 'default', 'web')).toBe('/api/v1/namespaces/default/pods/web');
    expect(resourcePath(pods, undefined)).toBe('/api/v1/pods');
    expect(resourcePath(deployments, 'a b', 'x/y', 'scale')).toBe(
      '/apis/apps/v1/namespaces/a%20b/deployments/x%2Fy/scale',
    );
    expect(resourcePath(namespaces, 'ignored', 'dev', 'status')).toBe('/api/v1/namespaces/dev/status');
    expect(() => resourcePath(pods, undefined, 'web')).toThrow(/namespace is required/);
    expect(infoFor('apps/v1', 'Deployment')).toBe(deployments);
    expect(() => infoFor('apps/v1', 'Foo')).toThrow('no resource type for apps/v1 Foo');
  });
});

describe('requests', () => {
  it('sends the bearer token, JSON bodies, write options and patch content types', async () => {
    const seen: Seen[] = [];
    const url = await serve(
      (req, res, body) =>
        json(res, req.method === 'POST' ? 201 : 200, body === '' ? pod('web') : JSON.parse(body)),
      seen,
    );
    const c = client(url);
    await c.get(pods, 'default', 'web');
    await c.create(pods, 'default', pod('web'), {
      fieldValidation: 'Strict',
      fieldManager: 'flotilla',
      dryRun: true,
    });
    await c.update(pods, 'default', pod('web'));
    await c.updateStatus(pods, 'default', pod('web'));
    await c.patch(
      deployments,
      'ns',
      'web',
      'merge',
      { spec: { replicas: 2 } },
      { fieldValidation: 'Strict' },
    );
    await c.patch(deployments, 'ns', 'web', 'apply', { spec: {} }, { fieldManager: 'me', force: true });
    await c.patch(deployments, 'ns', 'web', 'json', [{ op: 'add', path: '/x', value: 1 }]);
    await c.patch(deployments, 'ns', 'web', 'strategic', {}, { subresource: 'status' });
    await c.list(pods, undefined, {
      labelSelector: 'app=web',
      fieldSelector: 'spec.nodeName=n1',
      limit: 5,
      continue: 'abc',
    });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /api/v1/namespaces/default/pods/web',
      'POST /api/v1/namespaces/default/pods?fieldValidation=Strict&fieldManager=flotilla&dryRun=All',
      'PUT /api/v1/namespaces/default/pods/web',
      'PUT /api/v1/namespaces/default/pods/web/status',
      'PATCH /apis/apps/v1/namespaces/ns/deployments/web?fieldValidation=Strict',
      'PATCH /apis/apps/v1/namespaces/ns/deployments/web?fieldManager=me&force=true',
      'PATCH /apis/apps/v1/namespaces/ns/deployments/web',
      'PATCH /apis/apps/v1/namespaces/ns/deployments/web/status',
      'GET /api/v1/pods?labelSelector=app%3Dweb&fieldSelector=spec.nodeName%3Dn1&limit=5&continue=abc',
    ]);
    expect(seen.every((s) => s.headers.authorization === 'Bearer tok')).toBe(true);
    expect(seen.slice(4, 8).map((s) => s.headers['content-type'])).toEqual([
      'application/merge-patch+json',
      'application/apply-patch+yaml',
      'application/json-patch+json',
      'application/strategic-merge-patch+json',
    ]);
    expect(JSON.parse(seen[4]!.body)).toEqual({ spec: { replicas: 2 } });
  });

  it('sends DeleteOptions and returns the Status or the terminating object', async () => {
    const seen: Seen[] = [];
    const url = await serve(
      (_req, res) =>
        json(res, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Success',
          details: { name: 'web', uid: 'u1' },
        }),
      seen,
    );
    const res = await client(url).delete(deployments, 'ns', 'web', {
      propagationPolicy: 'Foreground',
      gracePeriodSeconds: 0,
    });
    expect(res.kind).toBe('Status');
    expect(seen[0]!.method).toBe('DELETE');
    expect(JSON.parse(seen[0]!.body)).toEqual({
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      propagationPolicy: 'Foreground',
      gracePeriodSeconds: 0,
    });
  });

  it('reads and writes the scale subresource', async () => {
    const seen: Seen[] = [];
    const url = await serve(
      (_req, res, body) =>
        json(
          res,
          200,
          body === ''
            ? {
                apiVersion: 'autoscaling/v1',
                kind: 'Scale',
                metadata: { name: 'web' },
                spec: { replicas: 1 },
              }
            : JSON.parse(body),
        ),
      seen,
    );
    const c = client(url);
    expect((await c.getScale(deployments, 'ns', 'web')).spec.replicas).toBe(1);
    const updated = await c.updateScale(deployments, 'ns', 'web', { spec: { replicas: 4 } });
    expect(updated).toMatchObject({
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name: 'web', namespace: 'ns' },
      spec: { replicas: 4 },
    });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /apis/apps/v1/namespaces/ns/deployments/web/scale',
      'PUT /apis/apps/v1/namespaces/ns/deployments/web/scale',
    ]);
  });

  it('passes server warnings to onWarning and resolves raw requests', async () => {
    const url = await serve((_req, res) =>
      json(
        res,
        200,
        { major: '1', minor: '34', gitVersion: 'v1.34.0' },
        { warning: '299 - "unknown field \\"spec.foo\\""' },
      ),
    );
    const warnings: string[] = [];
    const body = await client(url, { onWarning: (w) => warnings.push(w) }).request('GET', '/version');
    expect(body).toEqual({ major: '1', minor: '34', gitVersion: 'v1.34.0' });
    expect(warnings).toEqual(['unknown field "spec.foo"']);
  });
});

describe('error mapping', () => {
  it('rebuilds ApiError from a Status body: reason, code, message, details', async () => {
    const causes = [{ reason: 'FieldValueRequired', field: 'spec.containers', message: 'Required value' }];
    const url = await serve((req, res) => {
      if (req.url?.includes('missing') === true)
        json(
          res,
          404,
          status(404, 'NotFound', 'pods "missing" not found', { name: 'missing', kind: 'pods' }),
        );
      else
        json(
          res,
          422,
          status(422, 'Invalid', 'Pod "bad" is invalid: [spec.containers: Required value]', {
            name: 'bad',
            kind: 'Pod',
            causes,
          }),
        );
    });
    const c = client(url);
    const notFound = await caught(c.get(pods, 'default', 'missing'));
    expect(notFound).toMatchObject({
      reason: 'NotFound',
      code: 404,
      message: 'pods "missing" not found',
      details: { name: 'missing' },
    });
    expect(isServerError(notFound)).toBe(true);
    const invalid = await caught(c.create(pods, 'default', pod('bad')));
    expect(invalid.reason).toBe('Invalid');
    expect(invalid.code).toBe(422);
    expect(invalid.details?.causes).toEqual(causes);
  });

  it('synthesizes a Status from the HTTP code when the body is not one', () => {
    expect(apiErrorFromResponse(404, 'page not found')).toMatchObject({
      reason: 'NotFound',
      message: 'the server could not find the requested resource',
    });
    expect(apiErrorFromResponse(500, 'boom')).toMatchObject({
      reason: 'InternalError',
      code: 500,
      message: 'an error on the server ("boom") has prevented the request from succeeding',
    });
    expect(apiErrorFromResponse(502, '')).toMatchObject({
      reason: 'InternalError',
      message: 'the server responded with the status code 502 but did not return more information',
    });
    expect(apiErrorFromResponse(410, '')).toMatchObject({ reason: 'Expired', code: 410 });
    expect(apiErrorFromResponse(401, '')).toMatchObject({ reason: 'Unauthorized' });
    const limited = apiErrorFromResponse(429, '', { 'retry-after': '3' });
    expect(limited).toMatchObject({
      reason: 'TooManyRequests',
      transient: true,
      details: { retryAfterSeconds: 3 },
    });
    // A Status with a reason outside our union keeps the code's reason.
    expect(
      apiErrorFromResponse(504, JSON.stringify(status(504, 'ServerTimeout', 'took too long'))),
    ).toMatchObject({ reason: 'Timeout', message: 'took too long' });
  });

  it('turns a refused connection into ServiceUnavailable that says how to start the server', async () => {
    const url = await serve(() => undefined);
    const s = servers.pop()!;
    await new Promise((r) => s.close(r));
    const err = await caught(client(url).get(pods, 'default', 'x'));
    expect(err.reason).toBe('ServiceUnavailable');
    expect(err.message).toBe(
      `the server at ${url} is unreachable (ECONNREFUSED); start it with \`flotilla up\``,
    );
    expect(isServerError(err)).toBe(false);
  });
});

describe('TLS', () => {
  it('verifies the server with the kubeconfig CA, and refuses it without', async () => {
    const pki = await generatePki();
    const server = createHttpsServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) =>
      json(res, 200, { gitVersion: 'v1', auth: req.headers.authorization ?? '' }),
    );
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await client(url, { caPem: pki.caCertPem }).request('GET', '/version')).toEqual({
      gitVersion: 'v1',
      auth: 'Bearer tok',
    });
    const err = await caught(client(url).request('GET', '/version'));
    expect(err.reason).toBe('ServiceUnavailable');
    expect(err.message).toMatch(/unable to verify the certificate of the server/);
    expect(await client(url, { insecureSkipTlsVerify: true }).request('GET', '/version')).toMatchObject({
      gitVersion: 'v1',
    });
  });
});

describe('watch', () => {
  function streamingServer(lines: string[], end: boolean, seen: Seen[] = []): Promise<string> {
    return serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      // Split a line across chunks to exercise the line buffer.
      const text = lines.join('\n') + '\n';
      res.write(text.slice(0, 10));
      setTimeout(() => {
        res.write(text.slice(10));
        if (end) res.end();
      }, 20);
    }, seen);
  }

  it('streams newline-delimited events with the watch parameters', async () => {
    const seen: Seen[] = [];
    const url = await streamingServer(
      [
        JSON.stringify({ type: 'ADDED', object: pod('a', '5') }),
        JSON.stringify({ type: 'MODIFIED', object: pod('a', '6') }),
        JSON.stringify({
          type: 'BOOKMARK',
          object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '9' } },
        }),
      ],
      true,
      seen,
    );
    const events: WatchEvent[] = [];
    const errors: ApiError[] = [];
    await new Promise<void>((resolve) => {
      void client(url).watch(
        pods,
        'default',
        {
          resourceVersion: '4',
          labelSelector: 'app=a',
          allowWatchBookmarks: true,
          timeoutSeconds: 30,
          sendInitialEvents: true,
        },
        (e) => events.push(e),
        (e) => errors.push(e),
        resolve,
      );
    });
    expect(events.map((e) => `${e.type} ${e.object.metadata.resourceVersion}`)).toEqual([
      'ADDED 5',
      'MODIFIED 6',
      'BOOKMARK 9',
    ]);
    expect(errors).toEqual([]);
    expect(seen[0]!.url).toBe(
      '/api/v1/namespaces/default/pods?watch=true&resourceVersion=4&labelSelector=app%3Da&allowWatchBookmarks=true&timeoutSeconds=30&sendInitialEvents=true&resourceVersionMatch=NotOlderThan',
    );
  });

  it('surfaces an ERROR event with code 410 as Expired and stops', async () => {
    const url = await streamingServer(
      [
        JSON.stringify({ type: 'ADDED', object: pod('a') }),
        JSON.stringify({ type: 'ERROR', object: status(410, 'Gone', 'too old resource version: 1 (50)') }),
        JSON.stringify({ type: 'ADDED', object: pod('b') }),
      ],
      false,
    );
    const events: string[] = [];
    const err = await new Promise<ApiError>((resolve) => {
      void client(url).watch(
        pods,
        'default',
        { resourceVersion: '1' },
        (e) => events.push(e.object.metadata.name ?? ''),
        resolve,
      );
    });
    expect(err.reason).toBe('Expired');
    expect(err.code).toBe(410);
    expect(err.message).toBe('too old resource version: 1 (50)');
    expect(events).toEqual(['a']);
  });

  it('over the local socket, an ERROR that ends the stream closes the watch without an uncaught abort', async () => {
    // The in-process controllers watch over the API server's unix socket; after a compaction every one of
    // their watches gets ERROR 410 and the server ends the response. Closing such a finished request used
    // to raise an AbortError nobody could catch, which crashes a process.
    const socketPath = join(testDir('flotilla-client-'), 'api.sock');
    const server = createHttpServer((req, res) => {
      if (req.url?.includes('watch=true') === true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version') }) +
            '\n',
        );
        return;
      }
      json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '7' }, items: [] });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(socketPath, r));
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown): void => {
      uncaught.push(err);
    };
    process.on('uncaughtException', onUncaught);
    try {
      const c = client('http://localhost', { socketPath });
      for (let i = 0; i < 5; i++) {
        const err = await new Promise<ApiError>((resolve) => {
          void c.watch(pods, 'default', { resourceVersion: '1' }, () => undefined, resolve);
        });
        expect(err.reason).toBe('Expired');
      }
      await new Promise((r) => setTimeout(r, 50));
      // The client's kept-alive connection still serves requests afterwards.
      const list = (await c.list(pods, 'default')) as { metadata: { resourceVersion: string } };
      expect(list.metadata.resourceVersion).toBe('7');
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
  });

  it('rejects with Expired when the server answers 410', async () => {
    const url = await serve((_req, res) =>
      json(res, 410, status(410, 'Expired', 'too old resource version')),
    );
    const err = await caught(
      client(url).watch(
        pods,
        undefined,
        { resourceVersion: '1' },
        () => undefined,
        () => undefined,
      ),
    );
    expect(err.reason).toBe('Expired');
  });

  it('close() stops delivery without calling onError or onClose', async () => {
    let release: () => void = () => undefined;
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ type: 'ADDED', object: pod('a') }) + '\n');
      release = () => res.write(JSON.stringify({ type: 'ADDED', object: pod('b') }) + '\n');
    });
    const events: string[] = [];
    const calls: string[] = [];
    let first: () => void = () => undefined;
    const gotFirst = new Promise<void>((r) => (first = r));
    const handle = await client(url).watch(
      pods,
      'default',
      {},
      (e) => {
        events.push(e.object.metadata.name ?? '');
        first();
      },
      () => calls.push('error'),
      () => calls.push('close'),
    );
    await gotFirst;
    handle.close();
    release();
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual(['a']);
    expect(calls).toEqual([]);
  });

  it('reports a malformed line as an error', async () => {
    const url = await streamingServer(['{"type":"ADDED","object":'], false);
    const err = await new Promise<ApiError>((resolve) => {
      void client(url).watch(pods, 'default', {}, () => undefined, resolve);
    });
    expect(err.reason).toBe('InternalError');
    expect(err.message).toMatch(/malformed watch event/);
  });

  it('a broken connection ends the watch with ServiceUnavailable', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ type: 'ADDED', object: pod('a') }) + '\n');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const err = await new Promise<ApiError>((resolve) => {
      void client(url).watch(
        pods,
        'default',
        {},
        () => undefined,
        resolve,
        () => resolve(new ApiError('BadRequest', 'closed normally')),
      );
    });
    expect(err.reason).toBe('ServiceUnavailable');
  });
});
