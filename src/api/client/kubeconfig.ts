// Kubeconfig loading: the standard file kubectl reads (clusters, users, contexts, current-context),
// reduced to what a client needs to reach one API server.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ApiError } from '../errors.js';
import { isObject } from '../types.js';

/** Everything needed to connect to one API server. */
export interface ClientConfig {
  /** Base URL, e.g. `https://127.0.0.1:6443`, without a trailing slash. */
  server: string;
  /** PEM bundle of the CA(s) that signed the server certificate. */
  caPem?: string;
  token?: string;
  /** PEM client certificate and key (mutual TLS), when the user entry has them. */
  clientCertPem?: string;
  clientKeyPem?: string;
  insecureSkipTlsVerify?: boolean;
  /** The context's namespace, when set. */
  namespace?: string;
  /** The file the configuration came from (for messages). */
  source?: string;
  /** The context that was used. */
  context?: string;
}

export interface LoadKubeconfigOptions {
  /** Explicit file (the `--kubeconfig` flag); when given, nothing else is searched. */
  path?: string;
  /** Context to use instead of current-context (the `--context` flag). */
  context?: string;
  /** Environment to read `KUBECONFIG` and `HOME` from; defaults to `process.env`. */
  env?: Record<string, string | undefined>;
}

/** Where the server writes its kubeconfig by default. */
export const defaultDataDir = '/var/lib/flotilla';
export const defaultKubeconfigPath = join(defaultDataDir, 'kubeconfig.yaml');

function configError(message: string, cause?: unknown): ApiError {
  return new ApiError('BadRequest', message, undefined, cause === undefined ? undefined : { cause });
}

/**
 * The files considered, in order: the explicit path; else every entry of `$KUBECONFIG`
 * (path-list, merged first-wins like kubectl); else the first of `/var/lib/flotilla/kubeconfig.yaml`
 * and `~/.kube/config` that exists.
 */
export function kubeconfigSearchPath(opts: LoadKubeconfigOptions = {}): { files: string[]; merge: boolean } {
  if (opts.path !== undefined && opts.path !== '') return { files: [resolve(opts.path)], merge: false };
  const env = opts.env ?? process.env;
  const fromEnv = (env['KUBECONFIG'] ?? '')
    .split(delimiter)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (fromEnv.length > 0) return { files: fromEnv.map((p) => resolve(p)), merge: true };
  const home = env['HOME'] ?? homedir();
  return { files: [defaultKubeconfigPath, join(home, '.kube', 'config')], merge: false };
}

interface NamedEntry {
  name: string;
  value: Record<string, unknown>;
}

interface RawKubeconfig {
  file: string;
  currentContext: string | undefined;
  clusters: NamedEntry[];
  users: NamedEntry[];
  contexts: NamedEntry[];
}

function namedList(file: string, doc: Record<string, unknown>, key: string, inner: string): NamedEntry[] {
  const list = doc[key];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw configError(`kubeconfig ${file}: "${key}" must be a list`);
  const out: NamedEntry[] = [];
  list.forEach((item: unknown, i) => {
    if (!isObject(item) || typeof item['name'] !== 'string') {
      throw configError(`kubeconfig ${file}: ${key}[${i}]: missing "name"`);
    }
    const value = item[inner];
    out.push({ name: item['name'], value: isObject(value) ? value : {} });
  });
  return out;
}

/** Parse one kubeconfig document. `file` is used in messages and to resolve relative paths. */
export function parseKubeconfigText(text: string, file: string): RawKubeconfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw configError(
      `kubeconfig ${file}: invalid YAML: ${err instanceof Error ? err.message : String(err)}`,
      err,
    );
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObject(doc)) throw configError(`kubeconfig ${file}: not a mapping`);
  const cc = doc['current-context'];
  return {
    file,
    currentContext: typeof cc === 'string' && cc !== '' ? cc : undefined,
    clusters: namedList(file, doc, 'clusters', 'cluster'),
    users: namedList(file, doc, 'users', 'user'),
    contexts: namedList(file, doc, 'contexts', 'context'),
  };
}

function str(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function decodeBase64(file: string, what: string, data: string): string {
  const text = Buffer.from(data, 'base64').toString('utf8');
  if (!text.includes('-----BEGIN'))
    throw configError(`kubeconfig ${file}: ${what} is not base64-encoded PEM`);
  return text;
}

type FileReader = (path: string) => Promise<string>;

const readText: FileReader = (path) => readFile(path, 'utf8');

async function readReferenced(file: string, what: string, path: string, read: FileReader): Promise<string> {
  const full = isAbsolute(path) ? path : join(dirname(file), path);
  try {
    return await read(full);
  } catch (err) {
    throw configError(`kubeconfig ${file}: cannot read ${what} ${full}: ${errText(err)}`, err);
  }
}

function errText(err: unknown): string {
  if (isObject(err) && typeof err['code'] === 'string' && err['code'] === 'ENOENT') return 'no such file';
  return err instanceof Error ? err.message : String(err);
}

function find(list: NamedEntry[], name: string): NamedEntry | undefined {
  return list.find((e) => e.name === name);
}

/** Merge like kubectl: the first file that defines a name wins; the first current-context wins. */
export function mergeKubeconfigs(list: RawKubeconfig[]): RawKubeconfig {
  const first = list[0];
  if (first === undefined) throw configError('kubeconfig: nothing to merge');
  const merged: RawKubeconfig = {
    file: first.file,
    currentContext: undefined,
    clusters: [],
    users: [],
    contexts: [],
  };
  for (const k of list) {
    merged.currentContext ??= k.currentContext;
    for (const key of ['clusters', 'users', 'contexts'] as const) {
      for (const e of k[key]) if (find(merged[key], e.name) === undefined) merged[key].push(e);
    }
  }
  return merged;
}

/** Resolve the context (current-context unless overridden) of a parsed kubeconfig into a ClientConfig. */
export async function resolveKubeconfig(
  raw: RawKubeconfig,
  contextOverride?: string,
  read: FileReader = readText,
): Promise<ClientConfig> {
  const file = raw.file;
  const contextName =
    contextOverride !== undefined && contextOverride !== '' ? contextOverride : raw.currentContext;
  if (contextName === undefined) throw configError(`kubeconfig ${file}: no current-context`);
  const ctx = find(raw.contexts, contextName);
  if (ctx === undefined) throw configError(`kubeconfig ${file}: context "${contextName}" not found`);
  const clusterName = str(ctx.value, 'cluster');
  if (clusterName === undefined)
    throw configError(`kubeconfig ${file}: context "${contextName}" has no cluster`);
  const cluster = find(raw.clusters, clusterName);
  if (cluster === undefined) throw configError(`kubeconfig ${file}: cluster "${clusterName}" not found`);
  const server = str(cluster.value, 'server');
  if (server === undefined) throw configError(`kubeconfig ${file}: cluster "${clusterName}" has no server`);
  let url: URL;
  try {
    url = new URL(server);
  } catch (err) {
    throw configError(`kubeconfig ${file}: cluster "${clusterName}": invalid server URL "${server}"`, err);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw configError(
      `kubeconfig ${file}: cluster "${clusterName}": server must be http(s), got "${server}"`,
    );
  }

  const config: ClientConfig = { server: server.replace(/\/+$/, ''), source: file, context: contextName };
  const caData = str(cluster.value, 'certificate-authority-data');
  const caFile = str(cluster.value, 'certificate-authority');
  if (caData !== undefined)
    config.caPem = decodeBase64(file, `cluster "${clusterName}" certificate-authority-data`, caData);
  else if (caFile !== undefined)
    config.caPem = await readReferenced(file, 'certificate-authority', caFile, read);
  if (cluster.value['insecure-skip-tls-verify'] === true) config.insecureSkipTlsVerify = true;

  const userName = str(ctx.value, 'user');
  if (userName !== undefined) {
    const user = find(raw.users, userName);
    if (user === undefined) throw configError(`kubeconfig ${file}: user "${userName}" not found`);
    const token = str(user.value, 'token');
    const tokenFile = str(user.value, 'tokenFile');
    if (token !== undefined) config.token = token;
    else if (tokenFile !== undefined)
      config.token = (await readReferenced(file, 'tokenFile', tokenFile, read)).trim();
    const certData = str(user.value, 'client-certificate-data');
    const certFile = str(user.value, 'client-certificate');
    const keyData = str(user.value, 'client-key-data');
    const keyFile = str(user.value, 'client-key');
    if (certData !== undefined)
      config.clientCertPem = decodeBase64(file, 'client-certificate-data', certData);
    else if (certFile !== undefined)
      config.clientCertPem = await readReferenced(file, 'client-certificate', certFile, read);
    if (keyData !== undefined) config.clientKeyPem = decodeBase64(file, 'client-key-data', keyData);
    else if (keyFile !== undefined)
      config.clientKeyPem = await readReferenced(file, 'client-key', keyFile, read);
  }
  const ns = str(ctx.value, 'namespace');
  if (ns !== undefined) config.namespace = ns;
  return config;
}

/** Parse a kubeconfig text and resolve its context. */
export async function parseKubeconfig(
  text: string,
  file: string,
  context?: string,
  read: FileReader = readText,
): Promise<ClientConfig> {
  return resolveKubeconfig(parseKubeconfigText(text, file), context, read);
}

/** Find, read and resolve the kubeconfig (see `kubeconfigSearchPath` for the order). */
export async function loadKubeconfig(
  opts: LoadKubeconfigOptions = {},
  read: FileReader = readText,
): Promise<ClientConfig> {
  const { files, merge } = kubeconfigSearchPath(opts);
  const parsed: RawKubeconfig[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await read(file);
    } catch (err) {
      if (isObject(err) && err['code'] === 'ENOENT') {
        if (opts.path !== undefined && opts.path !== '')
          throw configError(`kubeconfig ${file}: no such file`, err);
        continue;
      }
      throw configError(`kubeconfig ${file}: ${errText(err)}`, err);
    }
    parsed.push(parseKubeconfigText(text, file));
    if (!merge) break;
  }
  if (parsed.length === 0) {
    throw configError(
      `no kubeconfig found (looked in ${files.join(', ')}); start a server with \`flotilla up\` or pass --kubeconfig`,
    );
  }
  return resolveKubeconfig(
    merge ? mergeKubeconfigs(parsed) : (parsed[0] as RawKubeconfig),
    opts.context,
    read,
  );
}
