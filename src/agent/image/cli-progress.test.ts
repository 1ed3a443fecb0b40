// The pull progress printer of `flotilla image pull` and the size format of `flotilla image ls`.
import { describe, expect, it } from 'vitest';
import { PullProgressPrinter, humanSize, parseDuration } from '../../cli/commands/image.js';
import { memoryIO } from '../../cli/io.js';

const a = `sha256:${'a'.repeat(64)}`;
const b = `sha256:${'b'.repeat(64)}`;

describe('PullProgressPrinter', () => {
  it('prints a line when a layer starts and when it is done when not on a terminal', () => {
    const io = memoryIO();
    const p = new PullProgressPrinter(io, false);
    p.update({ ref: 'x', digest: a, downloaded: 0, total: 2_000_000, done: false });
    p.update({ ref: 'x', digest: a, downloaded: 1_200_000, total: 2_000_000, done: false });
    p.update({ ref: 'x', digest: a, downloaded: 2_000_000, total: 2_000_000, done: true });
    p.finish();
    expect(io.out()).toBe('aaaaaaaaaaaa downloading 0B/2MB\naaaaaaaaaaaa done 2MB\n');
  });

  it('redraws every layer line in place on a terminal', () => {
    const io = memoryIO();
    const p = new PullProgressPrinter(io, true);
    p.update({ ref: 'x', digest: a, downloaded: 0, total: 2_000_000, done: false });
    p.update({ ref: 'x', digest: b, downloaded: 0, total: 1000, done: false });
    p.update({ ref: 'x', digest: b, downloaded: 1000, total: 1000, done: true });
    p.finish();
    const out = io.out();
    expect(out).toContain(
      '\x1b[1A\x1b[2Kaaaaaaaaaaaa downloading 0B/2MB\n\x1b[2Kbbbbbbbbbbbb downloading 0B/1kB\n',
    );
    expect(
      out.endsWith('\x1b[2A\x1b[2Kaaaaaaaaaaaa downloading 0B/2MB\n\x1b[2Kbbbbbbbbbbbb done 1kB\n'),
    ).toBe(true);
  });
});

describe('sizes and durations', () => {
  it.each([
    [0, '0B'],
    [999, '999B'],
    [1_000, '1kB'],
    [1_234_567, '1.23MB'],
    [2_000_000_000, '2GB'],
  ])('%d bytes → %s', (n, s) => expect(humanSize(n)).toBe(s));

  it('parses --min-age', () => {
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('2d')).toBe(172800);
    expect(() => parseDuration('soon')).toThrow(/--min-age must be a duration/);
  });
});
