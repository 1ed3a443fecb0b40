// Line diff (Myers' O(ND) algorithm) and GNU `diff -u` output, for `flotilla diff`.

export type Edit = { op: 'equal' | 'delete' | 'insert'; line: string };

/** The shortest edit script turning `a` into `b`, line by line. */
export function diffLines(a: readonly string[], b: readonly string[]): Edit[] {
  const n = a.length;
  const m = b.length;
  // Common prefix and suffix first: most object diffs touch a few lines in the middle.
  let pre = 0;
  while (pre < n && pre < m && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < n - pre && suf < m - pre && a[n - 1 - suf] === b[m - 1 - suf]) suf++;
  const A = a.slice(pre, n - suf);
  const B = b.slice(pre, m - suf);
  const middle = myers(A, B);
  return [
    ...a.slice(0, pre).map((line) => ({ op: 'equal' as const, line })),
    ...middle,
    ...a.slice(n - suf).map((line) => ({ op: 'equal' as const, line })),
  ];
}

function myers(a: readonly string[], b: readonly string[]): Edit[] {
  const n = a.length;
  const m = b.length;
  if (n === 0) return b.map((line) => ({ op: 'insert', line }));
  if (m === 0) return a.map((line) => ({ op: 'delete', line }));
  const max = n + m;
  const offset = max;
  let v = new Int32Array(2 * max + 2);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    const next = v.slice();
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && (v[offset + k - 1] ?? 0) < (v[offset + k + 1] ?? 0))) {
        x = v[offset + k + 1] ?? 0; // down: insertion
      } else {
        x = (v[offset + k - 1] ?? 0) + 1; // right: deletion
      }
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      next[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
    v = next;
  }
  trace.push(v);
  // Backtrack from (n, m) through the saved frontiers.
  const edits: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 2; d >= 0; d--) {
    const prev = trace[d] ?? new Int32Array(0);
    const k = x - y;
    let prevK: number;
    if (k === -d || (k !== d && (prev[offset + k - 1] ?? 0) < (prev[offset + k + 1] ?? 0))) prevK = k + 1;
    else prevK = k - 1;
    const prevX = d === 0 ? 0 : (prev[offset + prevK] ?? 0);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      edits.push({ op: 'equal', line: a[x - 1] ?? '' });
      x--;
      y--;
    }
    if (d === 0) break;
    if (x === prevX) {
      edits.push({ op: 'insert', line: b[y - 1] ?? '' });
      y--;
    } else {
      edits.push({ op: 'delete', line: a[x - 1] ?? '' });
      x--;
    }
  }
  while (x > 0 && y > 0) {
    edits.push({ op: 'equal', line: a[x - 1] ?? '' });
    x--;
    y--;
  }
  return edits.reverse();
}

function splitLines(text: string): { lines: string[]; missingNewline: boolean } {
  if (text === '') return { lines: [], missingNewline: false };
  const missingNewline = !text.endsWith('\n');
  const lines = (missingNewline ? text : text.slice(0, -1)).split('\n');
  return { lines, missingNewline };
}

function range(start: number, count: number): string {
  // GNU diff: an empty range is named by the line before it; a one-line range by its line alone.
  if (count === 0) return `${start - 1},0`;
  if (count === 1) return `${start}`;
  return `${start},${count}`;
}

/**
 * The hunks of `diff -u` (without the `---`/`+++` header) turning `before` into `after`; '' when
 * they are equal. `context` lines of context (3, like diff -u).
 */
export function unifiedHunks(before: string, after: string, context = 3): string {
  const a = splitLines(before);
  const b = splitLines(after);
  const edits = diffLines(a.lines, b.lines);
  if (edits.every((e) => e.op === 'equal') && a.missingNewline === b.missingNewline) return '';
  // Index each edit with its line numbers in a and b.
  type Row = Edit & { ai: number; bi: number };
  const rows: Row[] = [];
  let ai = 0;
  let bi = 0;
  for (const e of edits) {
    rows.push({ ...e, ai, bi });
    if (e.op !== 'insert') ai++;
    if (e.op !== 'delete') bi++;
  }
  const changed = rows.map((r, i) => (r.op === 'equal' ? -1 : i)).filter((i) => i >= 0);
  // A change to the final line's newline only shows when that line is in a hunk.
  if (changed.length === 0) changed.push(rows.length - 1);
  let out = '';
  let h = 0;
  while (h < changed.length) {
    const first = changed[h] ?? 0;
    let last = first;
    while (h + 1 < changed.length && (changed[h + 1] ?? 0) - last <= 2 * context + 1) {
      h++;
      last = changed[h] ?? last;
    }
    h++;
    const from = Math.max(0, first - context);
    const to = Math.min(rows.length - 1, last + context);
    const slice = rows.slice(from, to + 1);
    const aStart = (slice[0]?.ai ?? 0) + 1;
    const bStart = (slice[0]?.bi ?? 0) + 1;
    const aCount = slice.filter((r) => r.op !== 'insert').length;
    const bCount = slice.filter((r) => r.op !== 'delete').length;
    out += `@@ -${range(aStart, aCount)} +${range(bStart, bCount)} @@\n`;
    for (const r of slice) {
      out += `${r.op === 'equal' ? ' ' : r.op === 'delete' ? '-' : '+'}${r.line}\n`;
      const lastOfA = r.op !== 'insert' && r.ai === a.lines.length - 1;
      const lastOfB = r.op !== 'delete' && r.bi === b.lines.length - 1;
      if (
        (lastOfA && a.missingNewline && r.op === 'delete') ||
        (lastOfB && b.missingNewline && r.op !== 'delete')
      )
        out += '\\ No newline at end of file\n';
    }
  }
  return out;
}
