import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  formatLogTime,
  LineAssembler,
  parseCriLine,
  parseLogTime,
  renderCriLog,
  streamCriLog,
  tailOffset,
} from './cri-log.js';

const log = [
  '2026-11-26T12:00:00.000000001Z stdout F one',
  '2026-11-26T12:00:01.5Z stderr F two (err)',
  '2026-11-26T12:00:02.000000000+00:00 stdout P thr',
  '2026-11-26T12:00:02.100000000+00:00 stderr F interleaved',
  '2026-11-26T12:00:02.200000000+00:00 stdout F ee',
  '2026-11-26T12:00:03Z stdout F ',
  'garbage line that is not CRI',
  '2026-11-26T14:00:04.123456789+02:00 stdout F four',
  '',
].join('\n');

describe('CRI log lines', () => {
  it('parse time, stream, partial tag and text (spaces kept)', () => {
    expect(parseCriLine('2026-11-26T12:32:25.337Z stdout F started  twice ')).toEqual({
      time: { seconds: Date.UTC(2026, 10, 26, 12, 32, 25) / 1000, nanos: 337_000_000 },
      stream: 'stdout',
      partial: false,
      text: 'started  twice ',
    });
    expect(parseCriLine('2026-11-26T12:32:25Z stderr P')?.text).toBe('');
    expect(parseCriLine('2026-11-26T12:32:25Z stderr P:x half')?.partial).toBe(true);
    expect(parseCriLine('2026-11-26T12:32:25Z stdin F x')).toBeUndefined();
    expect(parseCriLine('yesterday stdout F x')).toBeUndefined();
    expect(parseCriLine('')).toBeUndefined();
  });

  it('keep nanoseconds and normalise offsets to UTC when printed', () => {
    expect(formatLogTime(parseLogTime('2026-11-26T14:00:04.123456789+02:00')!)).toBe(
      '2026-11-26T12:00:04.123456789Z',
    );
    expect(formatLogTime(parseLogTime('2026-11-26T12:00:01.5Z')!)).toBe('2026-11-26T12:00:01.500000000Z');
  });

  it('join partial records per stream until the full one', () => {
    const a = new LineAssembler();
    const out = log
      .split('\n')
      .map(parseCriLine)
      .filter((r) => r !== undefined)
      .map((r) => a.push(r))
      .filter((l) => l !== undefined)
      .map((l) => `${l.stream}:${l.text}`);
    expect(out).toEqual([
      'stdout:one',
      'stderr:two (err)',
      'stderr:interleaved',
      'stdout:three',
      'stdout:',
      'stdout:four',
    ]);
  });
});

describe('log options', () => {
  it('print every line, stdout and stderr interleaved in order', () => {
    expect(renderCriLog(log, {})).toBe('one\ntwo (err)\ninterleaved\nthree\n\nfour\n');
  });

  it('tailLines counts whole lines; 0 prints nothing', () => {
    expect(renderCriLog(log, { tailLines: 2 })).toBe('\nfour\n');
    expect(renderCriLog(log, { tailLines: 100 })).toBe('one\ntwo (err)\ninterleaved\nthree\n\nfour\n');
    expect(renderCriLog(log, { tailLines: 0 })).toBe('');
  });

  it('timestamps prefix each line with its own time', () => {
    expect(renderCriLog(log, { timestamps: true, tailLines: 1 })).toBe(
      '2026-11-26T12:00:04.123456789Z four\n',
    );
    // A joined line carries the time of its first part.
    expect(renderCriLog(log, { timestamps: true }).split('\n')[3]).toBe(
      '2026-11-26T12:00:02.000000000Z three',
    );
  });

  it('since leaves out older lines (inclusive bound)', () => {
    expect(renderCriLog(log, { since: parseLogTime('2026-11-26T12:00:02.2Z') })).toBe('\nfour\n');
    expect(renderCriLog(log, { since: parseLogTime('2026-11-26T12:00:02.1Z') })).toBe(
      'interleaved\n\nfour\n',
    );
  });

  it('limitBytes cuts the output, mid-line if needed', () => {
    expect(renderCriLog(log, { limitBytes: 6 })).toBe('one\ntw');
    expect(renderCriLog(log, { limitBytes: 6, timestamps: true })).toBe('2026-1');
  });
});

describe('reading the file', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'cri-log-'));
    dirs.push(d);
    return d;
  };

  it('finds the tail offset backwards across small chunks, partial lines included', async () => {
    const path = join(tmp(), 'c.log');
    writeFileSync(path, log);
    const f = await open(path, 'r');
    try {
      const size = (await f.stat()).size;
      for (const chunk of [7, 64, 1 << 16]) {
        for (let n = 0; n <= 7; n++) {
          const off = await tailOffset(f, size, n, chunk);
          // Every line of the tail starts at or after the offset (an interleaved line may come along).
          expect(
            renderCriLog(log.slice(off), {}).endsWith(renderCriLog(log, { tailLines: n })),
            `tail ${n} chunk ${chunk}`,
          ).toBe(true);
          expect(renderCriLog(log.slice(off), { tailLines: n }), `tail ${n} chunk ${chunk}`).toBe(
            renderCriLog(log, { tailLines: n }),
          );
        }
      }
    } finally {
      await f.close();
    }
  });

  const collect = (): { sink: PassThrough; text: () => string } => {
    const sink = new PassThrough();
    let text = '';
    sink.on('data', (d: Buffer) => (text += d.toString()));
    return { sink, text: () => text };
  };

  it('streams a log with tail and timestamps, and nothing for a missing file', async () => {
    const path = join(tmp(), 'c.log');
    writeFileSync(path, log);
    const c = collect();
    await streamCriLog(path, c.sink, { tailLines: 3, timestamps: true });
    expect(c.text()).toBe(
      '2026-11-26T12:00:02.000000000Z three\n2026-11-26T12:00:03.000000000Z \n2026-11-26T12:00:04.123456789Z four\n',
    );
    const none = collect();
    await streamCriLog(join(tmp(), 'missing.log'), none.sink, {});
    expect(none.text()).toBe('');
  });

  it('follows new lines until the container exits and the file is drained', async () => {
    const path = join(tmp(), 'c.log');
    writeFileSync(path, '2026-11-26T12:00:00Z stdout F first\n');
    let running = true;
    const c = collect();
    const done = streamCriLog(path, c.sink, {
      follow: true,
      pollMs: 10,
      stillRunning: async () => running,
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(c.text()).toBe('first\n');
    appendFileSync(path, '2026-11-26T12:00:01Z stdout P sec');
    await new Promise((r) => setTimeout(r, 50));
    appendFileSync(path, 'ond\n2026-11-26T12:00:01Z stdout F !\n');
    await new Promise((r) => setTimeout(r, 50));
    expect(c.text()).toBe('first\nsecond!\n');
    appendFileSync(path, '2026-11-26T12:00:02Z stderr F last words\n');
    running = false;
    await done;
    expect(c.text()).toBe('first\nsecond!\nlast words\n');
  });

  it('stops following when the client goes away', async () => {
    const path = join(tmp(), 'c.log');
    writeFileSync(path, '');
    const abort = new AbortController();
    const c = collect();
    const done = streamCriLog(path, c.sink, {
      follow: true,
      pollMs: 10,
      stillRunning: async () => true,
      signal: abort.signal,
    });
    setTimeout(() => abort.abort(), 30);
    await done;
    expect(c.text()).toBe('');
  });
});
