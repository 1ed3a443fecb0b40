// Registry credentials from a `kubernetes.io/dockerconfigjson` Secret (`.dockerconfigjson`), and the
// lookup of the credential for one registry host.
import type { RegistryCredential } from './types.js';
import { ImageError } from './types.js';

function bad(why: string): ImageError {
  return new ImageError('Invalid', `malformed .dockerconfigjson: ${why}`);
}

/** `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/path` → `host:5000`. */
export function normaliseRegistryHost(key: string): string {
  let host = key.trim();
  host = host.replace(/^[a-z]+:\/\//i, '');
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  host = host.toLowerCase();
  if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'registry.hub.docker.com')
    return 'docker.io';
  return host;
}

/**
 * Parses the `.dockerconfigjson` of an imagePullSecret (`{"auths": {"host": {username, password,
 * auth, identitytoken}}}`; the legacy `.dockercfg` form without `auths` is accepted too).
 * Throws ImageError('Invalid') on malformed input.
 */
export function parseDockerConfigJson(json: string): RegistryCredential[] {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw bad(`not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('not a JSON object');
  const rec = doc as Record<string, unknown>;
  const auths = 'auths' in rec ? rec['auths'] : rec;
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths))
    throw bad('"auths" is not an object');
  const out: RegistryCredential[] = [];
  for (const [key, value] of Object.entries(auths as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw bad(`the entry for "${key}" is not an object`);
    const e = value as Record<string, unknown>;
    const str = (name: string): string | undefined => {
      const v = e[name];
      if (v === undefined || v === null || v === '') return undefined;
      if (typeof v !== 'string') throw bad(`"${name}" of "${key}" is not a string`);
      return v;
    };
    const cred: RegistryCredential = { registry: normaliseRegistryHost(key) };
    let username = str('username');
    let password = str('password');
    const auth = str('auth');
    if (auth !== undefined) {
      const decoded = Buffer.from(auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0 || !/^[A-Za-z0-9+/=\s]*$/.test(auth))
        throw bad(`"auth" of "${key}" is not base64 of "username:password"`);
      username ??= decoded.slice(0, colon);
      password ??= decoded.slice(colon + 1);
    }
    if (username !== undefined) cred.username = username;
    if (password !== undefined) cred.password = password;
    const token = str('identitytoken') ?? str('registrytoken');
    if (token !== undefined) cred.token = token;
    out.push(cred);
  }
  return out;
}

/** The credential for a registry host (exact host[:port] first, then the host without the port). */
export function credentialFor(
  creds: readonly RegistryCredential[] | undefined,
  registry: string,
): RegistryCredential | undefined {
  if (creds === undefined) return undefined;
  const host = normaliseRegistryHost(registry);
  const exact = creds.find((c) => normaliseRegistryHost(c.registry) === host);
  if (exact !== undefined) return exact;
  const bare = host.replace(/:\d+$/, '');
  return creds.find((c) => normaliseRegistryHost(c.registry) === bare);
}
