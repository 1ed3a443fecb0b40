// A client for the OCI distribution (Docker registry v2) API: token/basic auth from
// WWW-Authenticate, manifests of the four media types, verified and resumable blob downloads.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { credentialFor } from './credentials.js';
import { formatReference, type ImageReference } from './reference.js';
import type { RegistryCredential } from './types.js';
import { ImageError } from './types.js';

export const mediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

export const manifestAccept = [
  mediaTypes.ociIndex,
  mediaTypes.dockerList,
  mediaTypes.ociManifest,
  mediaTypes.dockerManifest,
].join(', ');

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface Manifest {
  schemaVersion?: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface Index {
  schemaVersion?: number;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface FetchedManifest {
  /** `sha256:` of the bytes as served. */
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** Node's `process.arch` → OCI architecture names. */
export function ociArch(arch: string = process.arch): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'arm':
      return 'arm';
    case 'arm64':
      return 'arm64';
    case 'ppc64':
      return 'ppc64le';
    case 's390x':
      return 's390x';
    case 'riscv64':
      return 'riscv64';
    default:
      return arch;
  }
}

export function isLoopbackHost(registry: string): boolean {
  let host = registry;
  if (host.startsWith('[')) host = host.slice(1, host.indexOf(']'));
  else host = host.replace(/:\d+$/, '');
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

export function sha256Hex(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

export function isIndexType(mt: string | undefined): boolean {
  return mt === mediaTypes.ociIndex || mt === mediaTypes.dockerList;
}

/** Picks the `linux/<arch>` manifest from an index (throws Invalid when there is none). */
export function pickPlatform(index: Index, what: string, arch = ociArch()): Descriptor {
  const candidates = index.manifests.filter(
    (m) => m.platform?.os === 'linux' && m.platform.architecture === arch,
  );
  const pick =
    arch === 'arm64'
      ? (candidates.find((m) => m.platform?.variant === 'v8' || m.platform?.variant === undefined) ??
        candidates[0])
      : candidates[0];
  if (pick === undefined) {
    const have = index.manifests
      .map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}`)
      .join(', ');
    throw new ImageError('Invalid', `${what} has no linux/${arch} image (it has: ${have || 'none'})`);
  }
  return pick;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseWwwAuthenticate(header: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (m === null) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2] ?? '')) !== null) {
    params[(p[1] ?? '').toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}

export interface RegistryClientOptions {
  insecureRegistries?: readonly string[];
  caPem?: readonly string[];
}

export interface BlobProgress {
  downloaded: number;
  total: number;
}

type Response = Dispatcher.ResponseData;

/** The scheme that worked for a loopback or insecure registry host. */
const schemes = new Map<string, 'http' | 'https'>();

/** One client per pull (it caches tokens for the repository it was made for). */
export class RegistryClient {
  private readonly dispatcher: Agent;
  private authHeader: string | undefined;

  constructor(
    private readonly ref: ImageReference,
    private readonly opts: RegistryClientOptions,
    private readonly credentials: readonly RegistryCredential[] | undefined,
    private readonly signal?: AbortSignal,
  ) {
    const ca =
      opts.caPem !== undefined && opts.caPem.length > 0 ? [...rootCertificates, ...opts.caPem] : undefined;
    this.dispatcher = new Agent({
      connect: ca !== undefined ? { ca } : {},
      headersTimeout: 60_000,
      bodyTimeout: 120_000,
    });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private get registry(): string {
    return this.ref.registry;
  }

  private baseUrl(): string {
    const host = this.registry === 'docker.io' ? 'registry-1.docker.io' : this.registry;
    return `${schemes.get(this.registry) ?? 'https'}://${host}`;
  }

  /**
   * Loopback registries and those in insecureRegistries may serve plain HTTP (as Docker allows):
   * try TLS first (a loopback registry may well have a certificate), fall back to HTTP when the
   * server does not speak TLS. Certificates are still verified when TLS is spoken.
   */
  private async resolveScheme(): Promise<void> {
    if (schemes.has(this.registry)) return;
    const plainAllowed =
      isLoopbackHost(this.registry) || (this.opts.insecureRegistries ?? []).includes(this.registry);
    if (!plainAllowed) return;
    try {
      const res = await request(`https://${this.registry}/v2/`, {
        method: 'GET',
        dispatcher: this.dispatcher,
        headersTimeout: 10_000,
      });
      await res.body.dump();
      schemes.set(this.registry, 'https');
    } catch (err) {
      const rawCode = (err as { code?: unknown }).code;
      const code = typeof rawCode === 'string' ? rawCode : '';
      const msg = err instanceof Error ? err.message : String(err);
      if (
        /EPROTO|WRONG_VERSION|ECONNRESET|UND_ERR_SOCKET/.test(code) ||
        /wrong version number|packet length too long|socket hang up|other side closed/i.test(msg)
      )
        schemes.set(this.registry, 'http');
      // other failures (refused, certificate): keep HTTPS, the real request reports them
    }
  }

  private unreachable(err: unknown): ImageError {
    const code = (err as { code?: unknown }).code;
    const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    const detail = [code, cause?.code, err instanceof Error ? err.message : String(err)]
      .filter((x) => typeof x === 'string' && x !== '')
      .join(': ');
    const tls = /CERT|SSL|TLS|EPROTO|self.signed|certificate/i.test(detail);
    const hint = tls
      ? 'check the registry certificate (give its CA with the caPem option) or list it in insecureRegistries if it serves plain HTTP'
      : 'check that the registry is running and the host name and port are right';
    return new ImageError('Unreachable', `cannot reach registry ${this.registry} (${detail}): ${hint}`);
  }

  private async send(
    method: 'GET' | 'HEAD',
    url: string,
    headers: Record<string, string>,
    withAuth = true,
  ): Promise<Response> {
    const h: Record<string, string> = { 'user-agent': 'flotilla', ...headers };
    if (withAuth && this.authHeader !== undefined) h['authorization'] = this.authHeader;
    try {
      return await request(url, {
        method,
        headers: h,
        dispatcher: this.dispatcher,
        ...(this.signal !== undefined ? { signal: this.signal } : {}),
      });
    } catch (err) {
      if (this.signal?.aborted === true) throw err;
      throw this.unreachable(err);
    }
  }

  /** A request with auth (retried once after a 401 challenge) and redirects followed. */
  private async fetch(path: string, headers: Record<string, string>, what: string): Promise<Response> {
    await this.resolveScheme();
    let url = this.baseUrl() + path;
    let res = await this.send('GET', url, headers);
    if (res.statusCode === 401) {
      const challenge = res.headers['www-authenticate'];
      await res.body.dump();
      const value = Array.isArray(challenge) ? challenge[0] : challenge;
      if (value === undefined) throw this.unauthorized(what, 'no WWW-Authenticate challenge');
      await this.authenticate(value, what);
      res = await this.send('GET', url, headers);
    }
    for (let hops = 0; hops < 5 && [301, 302, 303, 307, 308].includes(res.statusCode); hops++) {
      const loc = res.headers['location'];
      await res.body.dump();
      if (typeof loc !== 'string') break;
      const next = new URL(loc, url).toString();
      const sameHost = new URL(next).host === new URL(url).host;
      url = next;
      res = await this.send('GET', url, headers, sameHost);
    }
    if (res.statusCode >= 400) await this.fail(res, what);
    return res;
  }

  private unauthorized(what: string, detail: string): ImageError {
    const cred = credentialFor(this.credentials, this.registry);
    const hint =
      cred === undefined
        ? `no credentials for ${this.registry}: add an imagePullSecret (kubernetes.io/dockerconfigjson) for it`
        : `the credentials for ${this.registry} were refused: check the username and password of the imagePullSecret`;
    return new ImageError('Unauthorized', `pulling ${what} from ${this.registry}: ${detail}; ${hint}`);
  }

  private async fail(res: Response, what: string): Promise<never> {
    let text = '';
    try {
      text = await res.body.text();
    } catch {
      // ignore
    }
    let codes: string[] = [];
    let messages: string[] = [];
    try {
      const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
      codes = (body.errors ?? []).map((e) => e.code ?? '');
      messages = (body.errors ?? []).map((e) => e.message ?? '').filter((m) => m !== '');
    } catch {
      // not JSON
    }
    const detail = `HTTP ${res.statusCode}${messages.length > 0 ? ` ${messages.join('; ')}` : ''}`;
    if (
      res.statusCode === 404 ||
      codes.some((c) => c === 'NAME_UNKNOWN' || c === 'MANIFEST_UNKNOWN' || c === 'BLOB_UNKNOWN')
    )
      throw new ImageError(
        'NotFound',
        `${what} not found in registry ${this.registry} (${detail}): check the repository name and tag`,
      );
    if (
      res.statusCode === 401 ||
      res.statusCode === 403 ||
      codes.includes('UNAUTHORIZED') ||
      codes.includes('DENIED')
    )
      throw this.unauthorized(what, detail);
    throw new ImageError(
      res.statusCode >= 500 ? 'Unreachable' : 'Invalid',
      `registry ${this.registry} answered ${detail} for ${what}`,
    );
  }

  private basic(cred: RegistryCredential | undefined): string | undefined {
    if (cred?.username === undefined) return undefined;
    return `Basic ${Buffer.from(`${cred.username}:${cred.password ?? ''}`).toString('base64')}`;
  }

  private async authenticate(header: string, what: string): Promise<void> {
    const ch = parseWwwAuthenticate(header);
    const cred = credentialFor(this.credentials, this.registry);
    if (ch?.scheme === 'basic') {
      const b = this.basic(cred);
      if (b === undefined) throw this.unauthorized(what, 'the registry asks for a username and password');
      this.authHeader = b;
      return;
    }
    if (ch?.scheme !== 'bearer' || ch.params['realm'] === undefined)
      throw this.unauthorized(what, `unsupported authentication challenge "${header}"`);
    const realm = new URL(ch.params['realm']);
    if (ch.params['service'] !== undefined) realm.searchParams.set('service', ch.params['service']);
    realm.searchParams.set('scope', ch.params['scope'] ?? `repository:${this.ref.repository}:pull`);
    let res: Response;
    try {
      if (cred?.token !== undefined) {
        // An identity token is an OAuth2 refresh token.
        const form = new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: cred.token,
          client_id: 'flotilla',
          scope: realm.searchParams.get('scope') ?? '',
        });
        if (ch.params['service'] !== undefined) form.set('service', ch.params['service']);
        res = await request(`${realm.origin}${realm.pathname}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'flotilla' },
          body: form.toString(),
          dispatcher: this.dispatcher,
        });
      } else {
        const b = this.basic(cred);
        res = await request(realm.toString(), {
          method: 'GET',
          headers: { 'user-agent': 'flotilla', ...(b !== undefined ? { authorization: b } : {}) },
          dispatcher: this.dispatcher,
        });
      }
    } catch (err) {
      throw this.unreachable(err);
    }
    if (res.statusCode >= 400) {
      await res.body.dump();
      throw this.unauthorized(what, `the token service ${realm.host} answered HTTP ${res.statusCode}`);
    }
    const body = (await res.body.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (token === undefined || token === '')
      throw this.unauthorized(what, 'the token service returned no token');
    this.authHeader = `Bearer ${token}`;
  }

  /** GETs a manifest by tag or digest (verified when asked for by digest). */
  async getManifest(reference: string): Promise<FetchedManifest> {
    const what = `${this.ref.registry}/${this.ref.repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
    const res = await this.fetch(
      `/v2/${this.ref.repository}/manifests/${reference}`,
      { accept: manifestAccept },
      what,
    );
    const bytes = Buffer.from(await res.body.arrayBuffer());
    const digest = `sha256:${sha256Hex(bytes)}`;
    if (reference.startsWith('sha256:') && digest !== reference)
      throw new ImageError('DigestMismatch', `manifest ${what} hashed to ${digest}`);
    let mediaType =
      String(res.headers['content-type'] ?? '')
        .split(';')[0]
        ?.trim() ?? '';
    try {
      const parsed = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
      if (typeof parsed.mediaType === 'string') mediaType = parsed.mediaType;
      else if (!Object.values(mediaTypes).includes(mediaType as never))
        mediaType = Array.isArray(parsed.manifests) ? mediaTypes.ociIndex : mediaTypes.ociManifest;
    } catch {
      throw new ImageError('Invalid', `manifest ${what} is not JSON`);
    }
    if (!Object.values(mediaTypes).includes(mediaType as never))
      throw new ImageError('Invalid', `manifest ${what} has unsupported media type ${mediaType}`);
    return { digest, mediaType, bytes };
  }

  /**
   * Downloads a blob to `dest`, verifying size and sha256. Resumes from `dest.partial` with an HTTP
   * Range request; a mismatch removes the partial data and throws DigestMismatch.
   */
  async downloadBlob(desc: Descriptor, dest: string, onProgress?: (p: BlobProgress) => void): Promise<void> {
    const partial = `${dest}.partial`;
    const hash = createHash('sha256');
    let have = 0;
    try {
      have = (await stat(partial)).size;
    } catch {
      have = 0;
    }
    if (have > desc.size) {
      await rm(partial, { force: true });
      have = 0;
    }
    if (have > 0) {
      for await (const chunk of createReadStream(partial)) hash.update(chunk as Buffer);
    }
    const what = `blob ${desc.digest} of ${formatReference(this.ref)}`;
    const headers: Record<string, string> = {};
    if (have > 0) headers['range'] = `bytes=${have}-`;
    const res = await this.fetch(`/v2/${this.ref.repository}/blobs/${desc.digest}`, headers, what);
    let downloaded = have;
    let fh;
    if (res.statusCode === 206 && have > 0) {
      fh = await open(partial, 'a');
    } else {
      // the server ignored the range: start over
      fh = await open(partial, 'w');
      downloaded = 0;
    }
    const h = res.statusCode === 206 && have > 0 ? hash : createHash('sha256');
    onProgress?.({ downloaded, total: desc.size });
    try {
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        downloaded += b.length;
        if (downloaded > desc.size) break;
        h.update(b);
        await fh.write(b);
        onProgress?.({ downloaded, total: desc.size });
      }
      await fh.sync();
    } catch (err) {
      // keep the partial data for a resume
      if (this.signal?.aborted === true) throw err;
      throw this.unreachable(err);
    } finally {
      await fh.close();
    }
    const got = `sha256:${h.digest('hex')}`;
    if (downloaded !== desc.size || got !== desc.digest) {
      await rm(partial, { force: true });
      if (!res.body.destroyed) res.body.destroy();
      throw new ImageError(
        'DigestMismatch',
        `${what}: expected ${desc.size} bytes with digest ${desc.digest}, got ${downloaded} bytes with digest ${got}; the partial download was discarded, pull again`,
      );
    }
    await rename(partial, dest);
  }

  /** Downloads a small blob (a config) into memory, verified. */
  async getBlob(desc: Descriptor): Promise<Buffer> {
    const what = `blob ${desc.digest} of ${formatReference(this.ref)}`;
    const res = await this.fetch(`/v2/${this.ref.repository}/blobs/${desc.digest}`, {}, what);
    const bytes = Buffer.from(await res.body.arrayBuffer());
    const got = `sha256:${sha256Hex(bytes)}`;
    if (got !== desc.digest || bytes.length !== desc.size)
      throw new ImageError(
        'DigestMismatch',
        `${what}: expected ${desc.size} bytes with digest ${desc.digest}, got ${bytes.length} bytes with digest ${got}`,
      );
    return bytes;
  }
}
