// `flotilla logs POD [-c C] [-f] [--tail N] [--previous] [--timestamps] [--since 5m] [--since-time T]
// [--limit-bytes N]`: what kubectl logs does for one pod. The container defaults like kubectl's (the
// kubectl.kubernetes.io/default-container annotation, else the first, saying so when there are several);
// the body streams to stdout as it arrives, so -f follows until the container ends or Ctrl-C.
import type { Command } from 'commander';
import { Agent, request, type Dispatcher } from 'undici';
import { apiErrorFromResponse, connectionError } from '../../api/client/client.js';
import type { ClientConfig } from '../../api/client/kubeconfig.js';
import { findByResource } from '../../api/resources.js';
import { isObject, type KubeObject } from '../../api/types.js';
import { usageError } from '../io.js';
import type { Session } from '../session.js';
import { parseCount } from './common.js';

export interface LogsOptions {
  container?: string;
  follow?: boolean;
  tail?: string;
  previous?: boolean;
  timestamps?: boolean;
  since?: string;
  sinceTime?: string;
  limitBytes?: string;
}

const podsInfo = (): NonNullable<ReturnType<typeof findByResource>> => {
  const info = findByResource('', 'v1', 'pods');
  if (info === undefined) throw new Error('pods are not a known resource');
  return info;
};

/** `POD` or `pod/POD` / `pods/POD` / `po/POD`. */
export function podNameArg(arg: string): string {
  const slash = arg.indexOf('/');
  if (slash < 0) return arg;
  const type = arg.slice(0, slash).toLowerCase();
  if (type !== 'pod' && type !== 'pods' && type !== 'po')
    throw usageError(`only pods are supported here (got ${JSON.stringify(arg)}); give a pod name`);
  return arg.slice(slash + 1);
}

/** Go-style durations: `30s`, `5m`, `1h30m`, `1.5h` → seconds. */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * (units[m[2] ?? 's'] ?? 1);
    matched += m[0].length;
  }
  if (text === '' || matched !== text.length)
    throw usageError(`invalid duration "${text}" (use e.g. 30s, 5m, 1h)`);
  return total;
}

/** The container kubectl would pick, and the note it prints when it had to choose among several. */
export function defaultContainer(
  pod: KubeObject,
  requested: string | undefined,
): { name: string; note?: string } {
  if (requested !== undefined && requested !== '') return { name: requested };
  const spec = isObject(pod.spec) ? pod.spec : {};
  const names = (Array.isArray(spec.containers) ? spec.containers : [])
    .map((c) => (isObject(c) && typeof c.name === 'string' ? c.name : ''))
    .filter((n) => n !== '');
  const annotated = pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'];
  if (annotated !== undefined && names.includes(annotated)) return { name: annotated };
  const first = names[0];
  if (first === undefined) throw usageError(`pod ${pod.metadata.name ?? ''} has no containers`);
  if (names.length === 1) return { name: first };
  return { name: first, note: `Defaulted container "${first}" out of: ${names.join(', ')}` };
}

/** TLS options and headers for a streaming connection with the session's credentials. */
export function streamingTransport(config: ClientConfig): {
  tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  headers: Record<string, string>;
} {
  const tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean } = {};
  if (config.caPem !== undefined) tls.ca = config.caPem;
  if (config.clientCertPem !== undefined) tls.cert = config.clientCertPem;
  if (config.clientKeyPem !== undefined) tls.key = config.clientKeyPem;
  if (config.insecureSkipTlsVerify === true) tls.rejectUnauthorized = false;
  const headers: Record<string, string> = { 'user-agent': 'flotilla-cli' };
  if (config.token !== undefined) headers['authorization'] = `Bearer ${config.token}`;
  return { tls, headers };
}

export function logQuery(container: string, opts: LogsOptions, now: number): URLSearchParams {
  const q = new URLSearchParams({ container });
  if (opts.follow === true) q.set('follow', 'true');
  if (opts.previous === true) q.set('previous', 'true');
  if (opts.timestamps === true) q.set('timestamps', 'true');
  const tail = parseCount('--tail', opts.tail);
  if (tail !== undefined && tail >= 0) q.set('tailLines', String(tail));
  const limit = parseCount('--limit-bytes', opts.limitBytes);
  if (limit !== undefined && limit > 0) q.set('limitBytes', String(limit));
  if (opts.since !== undefined && opts.sinceTime !== undefined)
    throw usageError('at most one of --since-time or --since may be specified');
  if (opts.since !== undefined)
    q.set('sinceSeconds', String(Math.max(1, Math.round(parseDuration(opts.since)))));
  if (opts.sinceTime !== undefined) {
    const t = Date.parse(opts.sinceTime);
    if (Number.isNaN(t)) throw usageError(`--since-time must be an RFC 3339 time, got "${opts.sinceTime}"`);
    q.set('sinceTime', new Date(Math.min(t, now)).toISOString().replace(/\.\d{3}Z$/, 'Z'));
  }
  return q;
}

export async function runLogs(session: Session, podArg: string, opts: LogsOptions): Promise<void> {
  const io = session.io;
  const name = podNameArg(podArg);
  const ns = await session.namespace();
  const client = await session.client();
  const pod = await client.get(podsInfo(), ns, name);
  const chosen = defaultContainer(pod, opts.container);
  if (chosen.note !== undefined) io.stderr.write(`${chosen.note}\n`);
  const query = logQuery(chosen.name, opts, io.now());
  const config = await session.clientConfig();
  const { tls, headers } = streamingTransport(config);
  const dispatcher = new Agent({ connect: tls });
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  io.signal.addEventListener('abort', onSignal, { once: true });
  const server = config.server.replace(/\/+$/, '');
  const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}/log?${query.toString()}`;
  try {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(server + path, {
        method: 'GET',
        headers: { ...headers, accept: 'text/plain, application/json' },
        dispatcher,
        signal: abort.signal,
        bodyTimeout: 0,
      });
    } catch (err) {
      if (abort.signal.aborted) return;
      throw connectionError(server, err);
    }
    if (res.statusCode !== 200)
      throw apiErrorFromResponse(res.statusCode, await res.body.text(), res.headers);
    const decoder = new TextDecoder('utf-8');
    try {
      for await (const chunk of res.body) {
        const text = decoder.decode(chunk as Uint8Array, { stream: true });
        if (text !== '') io.stdout.write(text);
      }
    } catch (err) {
      if (!abort.signal.aborted) throw connectionError(server, err);
    }
    const rest = decoder.decode();
    if (rest !== '') io.stdout.write(rest);
  } finally {
    io.signal.removeEventListener('abort', onSignal);
    await dispatcher.close();
  }
}

export function registerLogs(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('logs')
    .description("print a container's logs (follow them with -f)")
    .argument('<pod>', 'pod name (or pod/NAME)')
    .option('-c, --container <name>', 'container (default: the only or first one)')
    .option('-f, --follow', 'keep streaming new lines until the container ends')
    .option('--tail <lines>', 'only the last N lines (-1: all)')
    .option('-p, --previous', "the previous instance's logs (after a restart)")
    .option('--timestamps', 'prefix each line with its RFC 3339 time')
    .option('--since <duration>', 'only lines newer than this (e.g. 30s, 5m, 1h)')
    .option('--since-time <time>', 'only lines after this RFC 3339 time')
    .option('--limit-bytes <n>', 'stop after this many bytes')
    .addHelpText(
      'after',
      `
Examples:
  flotilla logs web-7d9f-abcde
  flotilla logs web-7d9f-abcde -c sidecar --tail 20 -f
  flotilla logs web-7d9f-abcde --previous --timestamps`,
    )
    .action(async (pod: string, opts: LogsOptions, cmd: Command) => {
      await runLogs(session(cmd), pod, opts);
    });
}
