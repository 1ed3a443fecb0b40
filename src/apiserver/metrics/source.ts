// Where the metrics API gets its figures: each Ready node's agent `GET /stats/summary`, over HTTPS with the
// API server's client certificate, as the node proxy reaches agents. A node's document is cached for
// `cacheMs` (a few seconds: the agent samples every 10 s by default, so asking more often gains nothing)
// and concurrent requests share one fetch. A node that does not answer is left out and logged once per
// failure streak, as metrics-server leaves out nodes it cannot scrape; simulated nodes have no agent server
// and are skipped without a word.
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isObject, type KubeObject } from '../../api/types.js';
import { agentEndpoint, type AgentClientCredentials } from '../node-proxy.js';
import type { SummaryDoc } from './shapes.js';

/** The annotation simulated nodes carry (src/agent/simulate/nodes.ts). */
const simulatedAnnotation = 'flotilla.dev/simulated';

export const defaultMetricsCacheMs = 5_000;
export const defaultScrapeTimeoutMs = 5_000;

/** True for a Node whose agent should have stats: Ready and not simulated. */
export function scrapable(node: KubeObject): boolean {
  if (node.metadata.annotations?.[simulatedAnnotation] === 'true') return false;
  const status = isObject(node.status) ? node.status : {};
  const conditions = Array.isArray(status.conditions) ? status.conditions.filter(isObject) : [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Minimal check that an agent's answer is a Summary we can read. */
export function isSummaryDoc(v: unknown): v is SummaryDoc {
  return isObject(v) && isObject(v.node) && Array.isArray(v.pods);
}

export type FetchSummary = (node: KubeObject) => Promise<SummaryDoc>;

/** GET /stats/summary from a node's agent; rejects on any failure (dial, timeout, non-200, bad JSON). */
export function agentSummaryFetcher(
  credentials: () => AgentClientCredentials | undefined,
  timeoutMs = defaultScrapeTimeoutMs,
): FetchSummary {
  return (node) =>
    new Promise<SummaryDoc>((resolve, reject) => {
      const creds = credentials();
      if (creds === undefined) {
        reject(new Error('the API server has no client certificate for node agents'));
        return;
      }
      const ep = agentEndpoint(node);
      const req = httpsRequest(
        {
          host: ep.host,
          port: ep.port,
          path: '/stats/summary',
          method: 'GET',
          headers: { Accept: 'application/json' },
          cert: creds.certPem,
          key: creds.keyPem,
          rejectUnauthorized: false,
          agent: false,
          timeout: timeoutMs,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.once('error', reject);
          res.once('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) {
              reject(new Error(`answered ${res.statusCode ?? 0}: ${body.slice(0, 200)}`));
              return;
            }
            try {
              const doc = JSON.parse(body) as unknown;
              if (isSummaryDoc(doc)) resolve(doc);
              else reject(new Error('answered something that is not a stats summary'));
            } catch {
              reject(new Error('answered something that is not JSON'));
            }
          });
        },
      );
      req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.once('error', reject);
      req.end();
    });
}

export interface SummarySourceOptions {
  fetch: FetchSummary;
  now: () => number;
  cacheMs?: number;
  log?: (line: string) => void;
}

interface Entry {
  at: number;
  doc: Promise<SummaryDoc | undefined>;
}

/** Per-node Summary documents, cached for a few seconds. */
export class SummarySource {
  private readonly opts: SummarySourceOptions;
  private readonly cache = new Map<string, Entry>();
  private readonly failing = new Set<string>();

  constructor(opts: SummarySourceOptions) {
    this.opts = opts;
  }

  /** The node's Summary, or undefined when it is not scrapable or did not answer. */
  summary(node: KubeObject): Promise<SummaryDoc | undefined> {
    const name = node.metadata.name ?? '';
    if (!scrapable(node)) return Promise.resolve(undefined);
    const now = this.opts.now();
    const hit = this.cache.get(name);
    if (hit !== undefined && now - hit.at < (this.opts.cacheMs ?? defaultMetricsCacheMs)) return hit.doc;
    const doc = this.opts.fetch(node).then(
      (d) => {
        this.failing.delete(name);
        return d;
      },
      (err: unknown) => {
        if (!this.failing.has(name))
          this.opts.log?.(`metrics: node "${name}" left out: ${(err as Error).message}`);
        this.failing.add(name);
        // A failure is not cached: the next request asks again.
        if (this.cache.get(name)?.doc === doc) this.cache.delete(name);
        return undefined;
      },
    );
    this.cache.set(name, { at: now, doc });
    // Forget nodes that went away.
    if (this.cache.size > 4096) this.cache.clear();
    return doc;
  }

  /** Summaries of many nodes in parallel; nodes without one are left out. */
  async summaries(nodes: KubeObject[]): Promise<Map<string, SummaryDoc>> {
    const docs = await Promise.all(nodes.map((n) => this.summary(n)));
    const out = new Map<string, SummaryDoc>();
    nodes.forEach((n, i) => {
      const d = docs[i];
      if (d !== undefined) out.set(n.metadata.name ?? '', d);
    });
    return out;
  }
}
