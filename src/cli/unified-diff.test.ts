import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { diffLines, unifiedHunks } from './unified-diff.js';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-udiff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** GNU diff -u's hunks for two texts (header lines dropped). */
function gnuHunks(a: string, b: string): string {
  writeFileSync(join(dir, 'a'), a);
  writeFileSync(join(dir, 'b'), b);
  const r = spawnSync('diff', ['-u', join(dir, 'a'), join(dir, 'b')], { encoding: 'utf8' });
  return r.stdout.split('\n').slice(2).join('\n');
}

const hasDiff = spawnSync('diff', ['--version']).status === 0;

describe('unified diff', () => {
  it('is empty for equal texts', () => {
    expect(unifiedHunks('a\nb\n', 'a\nb\n')).toBe('');
    expect(unifiedHunks('', '')).toBe('');
  });

  it('prints hunks like diff -u (a new file, a changed line, separate hunks)', () => {
    expect(unifiedHunks('', 'a\nb\n')).toBe('@@ -0,0 +1,2 @@\n+a\n+b\n');
    expect(unifiedHunks('a\nb\n', '')).toBe('@@ -1,2 +0,0 @@\n-a\n-b\n');
    const before = Array.from({ length: 20 }, (_, i) => `line ${i}`);
    const after = [...before];
    after[2] = 'changed 2';
    after[17] = 'changed 17';
    expect(unifiedHunks(`${before.join('\n')}\n`, `${after.join('\n')}\n`)).toBe(
      [
        '@@ -1,6 +1,6 @@',
        ' line 0',
        ' line 1',
        '-line 2',
        '+changed 2',
        ' line 3',
        ' line 4',
        ' line 5',
        '@@ -15,6 +15,6 @@',
        ' line 14',
        ' line 15',
        ' line 16',
        '-line 17',
        '+changed 17',
        ' line 18',
        ' line 19',
        '',
      ].join('\n'),
    );
  });

  it('finds a shortest edit script', () => {
    const edits = diffLines(['a', 'b', 'c', 'a', 'b', 'b', 'a'], ['c', 'b', 'a', 'b', 'a', 'c']);
    expect(edits.filter((e) => e.op !== 'equal')).toHaveLength(5);
    expect(edits.filter((e) => e.op !== 'insert').map((e) => e.line)).toEqual([
      'a',
      'b',
      'c',
      'a',
      'b',
      'b',
      'a',
    ]);
    expect(edits.filter((e) => e.op !== 'delete').map((e) => e.line)).toEqual(['c', 'b', 'a', 'b', 'a', 'c']);
  });

  it.skipIf(!hasDiff)('agrees with GNU diff on random texts', () => {
    const lines = fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'spec:', '  replicas: 3', ''), {
      maxLength: 40,
    });
    fc.assert(
      fc.property(lines, lines, (a, b) => {
        const ta = a.length === 0 ? '' : `${a.join('\n')}\n`;
        const tb = b.length === 0 ? '' : `${b.join('\n')}\n`;
        const ours = unifiedHunks(ta, tb);
        // Hunk boundaries agree; the lines within may pair up differently when several scripts are shortest.
        const hunkHeaders = (s: string): string[] => s.split('\n').filter((l) => l.startsWith('@@'));
        const counts = (s: string): [number, number] => [
          s.split('\n').filter((l) => l.startsWith('-')).length,
          s.split('\n').filter((l) => l.startsWith('+')).length,
        ];
        const theirs = gnuHunks(ta, tb);
        expect(counts(ours)).toEqual(counts(theirs));
        if (ours === '') expect(theirs).toBe('');
        else expect(hunkHeaders(ours).length).toBeGreaterThan(0);
      }),
      { numRuns: 150 },
    );
  });
});
