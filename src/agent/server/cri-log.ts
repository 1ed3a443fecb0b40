// Reading container logs in the CRI format conmon writes (`-l k8s-file:PATH`):
//   <RFC3339Nano time> <stdout|stderr> <P|F> <text>
// P marks a partial record (the line continues in the next record of the same stream), F a full one.
// The parser, the line assembler and the output filter are pure; streamCriLog does the file I/O
// (tail from the end, follow while the container runs).
import { open, type FileHandle } from 'node:fs/promises';

export type LogStream = 'stdout' | 'stderr';

/** A point in time with nanosecond precision (JavaScript dates stop at milliseconds). */
export interface LogTime {
  /** Whole seconds since the epoch (UTC). */
  seconds: number;
  /** 0..999,999,999. */
  nanos: number;
}

export interface CriRecord {
  time: LogTime;
  stream: LogStream;
  partial: boolean;
  text: string;
}

export interface LogLine {
  time: LogTime;
  stream: LogStream;
  /** Without the trailing newline. */
  text: string;
}

const timeRe = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Parse an RFC 3339 time with up to nine fractional digits. */
export function parseLogTime(text: string): LogTime | undefined {
  const m = timeRe.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  let seconds = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
  if (!Number.isFinite(seconds)) return undefined;
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const [zh, zm] = zone.slice(1).split(':');
    seconds -= sign * (Number(zh) * 3600 + Number(zm) * 60);
  }
  const nanos = frac === undefined ? 0 : Number(frac.padEnd(9, '0'));
  return { seconds, nanos };
}

export function logTimeOfDate(date: Date): LogTime {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

export function compareLogTime(a: LogTime, b: LogTime): number {
  return a.seconds !== b.seconds ? a.seconds - b.seconds : a.nanos - b.nanos;
}

/** `2026-01-02T03:04:05.123456789Z`: UTC, always nine fractional digits (what the kubelet prints). */
export function formatLogTime(t: LogTime): string {
  const base = new Date(t.seconds * 1000).toISOString().slice(0, 19);
  return `${base}.${String(t.nanos).padStart(9, '0')}Z`;
}

/** One line of a CRI log file (without its newline), or undefined when it is not one. */
export function parseCriLine(line: string): CriRecord | undefined {
  const s1 = line.indexOf(' ');
  if (s1 < 0) return undefined;
  const time = parseLogTime(line.slice(0, s1));
  if (time === undefined) return undefined;
  const s2 = line.indexOf(' ', s1 + 1);
  if (s2 < 0) return undefined;
  const stream = line.slice(s1 + 1, s2);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const s3 = line.indexOf(' ', s2 + 1);
  // Tags may carry more than P/F separated by ':' (the CRI leaves room); the first one decides.
  const tags = s3 < 0 ? line.slice(s2 + 1) : line.slice(s2 + 1, s3);
  const tag = tags.split(':')[0];
  if (tag !== 'P' && tag !== 'F') return undefined;
  return { time, stream, partial: tag === 'P', text: s3 < 0 ? '' : line.slice(s3 + 1) };
}

/** Joins partial records into lines, per stream (stdout and stderr partials may interleave). */
export class LineAssembler {
  private readonly pending = new Map<LogStream, { time: LogTime; parts: string[] }>();

  /** The complete line this record finishes, if any. */
  push(record: CriRecord): LogLine | undefined {
    const open = this.pending.get(record.stream);
    if (record.partial) {
      if (open === undefined) this.pending.set(record.stream, { time: record.time, parts: [record.text] });
      else open.parts.push(record.text);
      return undefined;
    }
    if (open === undefined) return { time: record.time, stream: record.stream, text: record.text };
    this.pending.delete(record.stream);
    return { time: open.time, stream: record.stream, text: [...open.parts, record.text].join('') };
  }

  /** Partial lines never finished (the container died mid-line): flushed as they are at the end. */
  drain(): LogLine[] {
    const out = [...this.pending.entries()].map(([stream, p]) => ({
      time: p.time,
      stream,
      text: p.parts.join(''),
    }));
    this.pending.clear();
    return out;
  }
}

export interface LogFilterOptions {
  /** Lines older than this are left out. */
  since?: LogTime | undefined;
  /** Prefix each line with its own time (RFC 3339, nanoseconds) and a space. */
  timestamps?: boolean | undefined;
  /** Stop after this many bytes (the last line may be cut). */
  limitBytes?: number | undefined;
}

/** Turns lines into the bytes the client receives: since, timestamps and limitBytes applied. */
export class LogFilter {
  private readonly opts: LogFilterOptions;
  private written = 0;

  constructor(opts: LogFilterOptions) {
    this.opts = opts;
  }

  /** True once limitBytes is reached: nothing more will be emitted. */
  get done(): boolean {
    return this.opts.limitBytes !== undefined && this.written >= this.opts.limitBytes;
  }

  /** The bytes to send for this line (empty when filtered out). */
  format(line: LogLine): Buffer {
    if (this.done) return Buffer.alloc(0);
    if (this.opts.since !== undefined && compareLogTime(line.time, this.opts.since) < 0)
      return Buffer.alloc(0);
    const text =
      this.opts.timestamps === true ? `${formatLogTime(line.time)} ${line.text}\n` : `${line.text}\n`;
    let out = Buffer.from(text, 'utf8');
    if (this.opts.limitBytes !== undefined) {
      const room = this.opts.limitBytes - this.written;
      if (out.length > room) out = out.subarray(0, room);
    }
    this.written += out.length;
    return out;
  }
}

/** Format whole CRI log text with the given options (tail counted in full lines). Used by tests and small files. */
export function renderCriLog(
  text: string,
  opts: LogFilterOptions & { tailLines?: number | undefined },
): string {
  const assembler = new LineAssembler();
  const lines: LogLine[] = [];
  for (const raw of text.split('\n')) {
    const record = parseCriLine(raw);
    if (record === undefined) continue;
    const line = assembler.push(record);
    if (line !== undefined) lines.push(line);
  }
  lines.push(...assembler.drain());
  const tail = opts.tailLines === undefined ? lines : lines.slice(Math.max(0, lines.length - opts.tailLines));
  const filter = new LogFilter(opts);
  return Buffer.concat(tail.map((l) => filter.format(l))).toString('utf8');
}

/** Raw lines of a file from the last to the first, with their start offsets, read in chunks. */
async function* linesBackwards(
  file: FileHandle,
  size: number,
  chunkSize: number,
): AsyncGenerator<{ offset: number; text: string }> {
  let pos = size;
  // Bytes of `carry` start at file offset `pos`; carry never holds a complete line already yielded.
  let carry = Buffer.alloc(0);
  while (pos > 0) {
    const len = Math.min(chunkSize, pos);
    pos -= len;
    const chunk = Buffer.alloc(len);
    await file.read(chunk, 0, len, pos);
    carry = Buffer.concat([chunk, carry]);
    let end = carry.length;
    for (let i = carry.length - 1; i >= 0; i--) {
      if (carry[i] !== 0x0a) continue;
      if (i + 1 < end) yield { offset: pos + i + 1, text: carry.subarray(i + 1, end).toString('utf8') };
      end = i + 1;
    }
    carry = carry.subarray(0, end);
  }
  if (carry.length > 0) yield { offset: 0, text: carry.toString('utf8') };
}

/**
 * Where the last `lines` lines start, scanning backwards in chunks. A line is the run of P records of
 * one stream up to its F record (records of the other stream may sit in between), so the start is the
 * first record of the earliest of those lines.
 */
export async function tailOffset(
  file: FileHandle,
  size: number,
  lines: number,
  chunkSize = 64 * 1024,
): Promise<number> {
  let start = size;
  let counted = 0;
  const state = new Map<LogStream, 'collecting' | 'closed'>();
  for await (const raw of linesBackwards(file, size, chunkSize)) {
    const rec = parseCriLine(raw.text.replace(/\n$/, ''));
    if (rec === undefined) continue;
    const s = state.get(rec.stream);
    if (!rec.partial || s === undefined) {
      // The end of a line (or an unfinished last line): counted while there is room.
      if (counted < lines) {
        counted++;
        state.set(rec.stream, 'collecting');
        start = raw.offset;
      } else {
        state.set(rec.stream, 'closed');
      }
    } else if (s === 'collecting') {
      start = raw.offset;
    }
    if (counted >= lines && ![...state.values()].includes('collecting')) break;
  }
  return start;
}

export interface StreamLogOptions extends LogFilterOptions {
  tailLines?: number | undefined;
  follow?: boolean | undefined;
  /** While following: whether the container may still write (polled when the file is drained). */
  stillRunning?: () => Promise<boolean>;
  /** How often to look for new bytes while following (ms). */
  pollMs?: number;
  signal?: AbortSignal | undefined;
}

export interface LogSink {
  /** Returns false when the consumer wants us to wait for `drain`. */
  write(chunk: Buffer): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Write the log at `path` to `sink`: the last tailLines lines (all by default), filtered; with
 * follow, keep writing new lines until the container has exited and the file is drained, or the
 * signal aborts (client gone).
 */
export async function streamCriLog(path: string, sink: LogSink, opts: StreamLogOptions): Promise<void> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (err) {
    // No file yet: nothing was written (or it was already removed).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return;
  }
  try {
    const filter = new LogFilter(opts);
    const assembler = new LineAssembler();
    const size = (await file.stat()).size;
    let pos = opts.tailLines === undefined ? 0 : await tailOffset(file, size, opts.tailLines);
    let rest = '';
    const buf = Buffer.alloc(256 * 1024);
    const decoder = new TextDecoder('utf-8');
    const emit = async (line: LogLine): Promise<void> => {
      const out = filter.format(line);
      if (out.length > 0 && !sink.write(out)) {
        await new Promise<void>((resolve) => {
          sink.once('drain', resolve);
          opts.signal?.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    };
    let exitedSeen = false;
    const aborted = (): boolean => opts.signal?.aborted === true;
    // With tailLines, the lines up to the size seen at the start are gathered first and only the last
    // ones sent: a record of the other stream may sit inside the first tail line's byte range.
    let initial: LogLine[] | undefined = opts.tailLines === undefined ? undefined : [];
    const flushInitial = async (): Promise<void> => {
      if (initial === undefined) return;
      const lines = initial.slice(Math.max(0, initial.length - (opts.tailLines ?? 0)));
      initial = undefined;
      for (const line of lines) {
        await emit(line);
        if (filter.done || aborted()) return;
      }
    };
    for (;;) {
      if (aborted() || filter.done) return;
      if (initial !== undefined && pos >= size) await flushInitial();
      const want = initial !== undefined ? Math.min(buf.length, size - pos) : buf.length;
      const { bytesRead } = await file.read(buf, 0, want, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        rest += decoder.decode(buf.subarray(0, bytesRead), { stream: true });
        const parts = rest.split('\n');
        rest = parts.pop() ?? '';
        for (const raw of parts) {
          const record = parseCriLine(raw);
          if (record === undefined) continue;
          const line = assembler.push(record);
          if (line === undefined) continue;
          if (initial !== undefined) initial.push(line);
          else await emit(line);
          if (filter.done || aborted()) return;
        }
        continue;
      }
      // At the end of what is written so far.
      if (opts.follow !== true || exitedSeen) break;
      // Read once more after seeing the exit: the monitor may have flushed the last lines just before.
      if (opts.stillRunning !== undefined && !(await opts.stillRunning())) {
        exitedSeen = true;
        continue;
      }
      await sleep(opts.pollMs ?? 200, opts.signal);
    }
    await flushInitial();
    const last = parseCriLine(rest);
    if (last !== undefined) {
      const line = assembler.push(last);
      if (line !== undefined) await emit(line);
    }
    for (const line of assembler.drain()) await emit(line);
  } finally {
    await file.close();
  }
}
