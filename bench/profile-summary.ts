// Summarise a V8 .cpuprofile (from `node --cpu-prof`, e.g. control-plane.js --cpu-prof DIR): where the
// server's CPU time went, by function (self time) and by source file (self time), with idle and GC apart.
//
//   node dist/bench/profile-summary.js FILE.cpuprofile [--top N]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { repoRoot } from './lib/flotilla.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  gcMs: number;
  byFunction: Array<{ name: string; ms: number; pct: number }>;
  byFile: Array<{ name: string; ms: number; pct: number }>;
  /** Inclusive time of the functions that matter most (self + everything they call). */
  inclusive: Array<{ name: string; ms: number; pct: number }>;
}

function where(url: string, root: string): string {
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return url;
  try {
    const path = url.startsWith('file:') ? fileURLToPath(url) : url;
    const rel = relative(root, path);
    return rel.startsWith('..') ? path : rel;
  } catch {
    return url;
  }
}

export function summariseProfile(profile: Profile, top = 25): ProfileSummary {
  const root = repoRoot();
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfMs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] ?? 0;
    selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  let totalMs = 0;
  let idleMs = 0;
  let gcMs = 0;
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    totalMs += ms;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    if (functionName === '(garbage collector)') gcMs += ms;
    const loc = where(url, root);
    const name = `${functionName === '' ? '(anonymous)' : functionName} ${loc}${url === '' ? '' : `:${lineNumber + 1}`}`;
    fn.set(name, (fn.get(name) ?? 0) + ms);
    file.set(loc, (file.get(loc) ?? 0) + ms);
    // Inclusive: credit every distinct frame on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)?.callFrame;
      if (f === undefined) break;
      const key = `${f.functionName === '' ? '(anonymous)' : f.functionName} ${where(f.url, root)}${f.url === '' ? '' : `:${f.lineNumber + 1}`}`;
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + ms);
    }
  }
  const busy = totalMs - idleMs;
  const rank = (m: Map<string, number>): Array<{ name: string; ms: number; pct: number }> =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, pct: busy > 0 ? (100 * ms) / busy : 0 }));
  const inclusive = rank(
    new Map([...incl.entries()].filter(([k]) => !k.startsWith('(root)') && !k.startsWith('(program)'))),
  );
  return { totalMs, idleMs, gcMs, byFunction: rank(fn), byFile: rank(file), inclusive };
}

function main(argv: string[]): void {
  const files = argv.filter((a) => !a.startsWith('--'));
  const topAt = argv.indexOf('--top');
  const top = topAt >= 0 ? Number(argv[topAt + 1]) : 25;
  if (files.length === 0) {
    process.stderr.write('usage: node dist/bench/profile-summary.js FILE.cpuprofile [--top N]\n');
    process.exitCode = 2;
    return;
  }
  for (const f of files) {
    if (String(top) === f) continue;
    const s = summariseProfile(JSON.parse(readFileSync(f, 'utf8')) as Profile, top);
    const busy = s.totalMs - s.idleMs;
    const out: string[] = [
      `${f}: ${(s.totalMs / 1000).toFixed(1)} s profiled, ${(busy / 1000).toFixed(1)} s busy, GC ${(s.gcMs / 1000).toFixed(1)} s (${busy > 0 ? ((100 * s.gcMs) / busy).toFixed(1) : '0'}% of busy)`,
      '',
      'self time by file (% of busy):',
      ...s.byFile.map(
        (r) => `  ${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`,
      ),
      '',
      'self time by function:',
      ...s.byFunction.map(
        (r) => `  ${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`,
      ),
      '',
      'inclusive time (self + callees):',
      ...s.inclusive.map(
        (r) => `  ${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`,
      ),
      '',
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  main(process.argv.slice(2));
