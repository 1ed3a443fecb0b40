// The registry client against a small in-process registry on loopback speaking the bearer token flow.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference } from './reference.js';
import {
  RegistryClient,
  manifestAccept,
  mediaTypes,
  ociArch,
  parseWwwAuthenticate,
  pickPlatform,
} from './registry-client.js';
import { ImageError } from './types.js';

const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: mediaTypes.dockerManifest,
    config: { digest: 'sha256:0', size: 0 },
    layers: [],
  }),
);
const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
let server: Server;
let host = '';
const seen: { accept?: string | undefined; tokenAuth?: string | undefined; scope?: string } = {};

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/token') {
      seen.tokenAuth = req.headers.authorization;
      seen.scope = url.searchParams.get('scope') ?? '';
      const ok = req.headers.authorization === `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { token: 'T0K' } : { details: 'no' }));
      return;
    }
    if (req.headers.authorization !== 'Bearer T0K') {
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${host}/token",service="test-registry",scope="repository:team/app:pull"`,
        'content-type': 'application/json',
      });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    if (url.pathname === '/v2/team/app/manifests/v1') {
      seen.accept = req.headers.accept;
      res.writeHead(200, { 'content-type': mediaTypes.dockerManifest });
      res.end(manifest);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('RegistryClient', () => {
  it('follows the bearer token flow with basic credentials and asks for all four manifest types', async () => {
    const c = new RegistryClient(parseReference(`${host}/team/app:v1`), {}, [
      { registry: host, username: 'alice', password: 's3cret' },
    ]);
    const m = await c.getManifest('v1');
    await c.close();
    expect(m.digest).toBe(digest);
    expect(m.mediaType).toBe(mediaTypes.dockerManifest);
    expect(seen.accept).toBe(manifestAccept);
    for (const t of Object.values(mediaTypes)) expect(seen.accept).toContain(t);
    expect(seen.scope).toBe('repository:team/app:pull');
  });

  it('maps a refused token request to Unauthorized and a missing manifest to NotFound', async () => {
    const bad = new RegistryClient(parseReference(`${host}/team/app:v1`), {}, [
      { registry: host, username: 'alice', password: 'nope' },
    ]);
    const err = await bad.getManifest('v1').catch((e: unknown) => e);
    await bad.close();
    expect((err as ImageError).reason).toBe('Unauthorized');
    const good = new RegistryClient(parseReference(`${host}/team/app:v1`), {}, [
      { registry: host, username: 'alice', password: 's3cret' },
    ]);
    const nf = await good.getManifest('v2').catch((e: unknown) => e);
    await good.close();
    expect(nf).toBeInstanceOf(ImageError);
    expect((nf as ImageError).reason).toBe('NotFound');
  });

  it('parses WWW-Authenticate challenges', () => {
    expect(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      ),
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/busybox:pull',
      },
    });
    expect(parseWwwAuthenticate('Basic realm="r"')?.scheme).toBe('basic');
  });

  it('picks linux/<node arch> from an index and names what an index lacks', () => {
    const index = {
      manifests: [
        { digest: 'sha256:arm', size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { digest: 'sha256:amd', size: 1, platform: { os: 'linux', architecture: 'amd64' } },
        { digest: 'sha256:win', size: 1, platform: { os: 'windows', architecture: 'amd64' } },
      ],
    };
    expect(pickPlatform(index, 'x', 'amd64').digest).toBe('sha256:amd');
    expect(pickPlatform(index, 'x', 'arm64').digest).toBe('sha256:arm');
    expect(() => pickPlatform(index, 'img', 's390x')).toThrow(
      /img has no linux\/s390x image \(it has: linux\/arm64, linux\/amd64, windows\/amd64\)/,
    );
    expect(ociArch('x64')).toBe('amd64');
  });
});
