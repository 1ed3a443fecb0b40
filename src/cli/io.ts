// What a CLI command may touch: output streams, stdin, environment, time, the API connection.
// `main` wires the real process; tests pass their own.
import { ApiClient, type ApiClientOptions } from '../api/client/client.js';

export interface Output {
  write(text: string): unknown;
}

export interface CliIO {
  stdout: Output;
  stderr: Output;
  readStdin: () => Promise<string>;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Epoch milliseconds (for ages). */
  now: () => number;
  /** Aborted on Ctrl-C: long-running commands (`get -w`, `delete --wait`) end when it fires. */
  signal: AbortSignal;
  /** Builds the API client (tests substitute one pointing at a fake server). */
  connect: (options: ApiClientOptions) => ApiClient;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep: (ms: number) => Promise<void>;
}

/** Failure of a CLI command. `Usage` (bad flags or arguments) exits 2, `Failed` exits 1. */
export class CliError extends Error {
  readonly code: 'Usage' | 'Failed';
  readonly exitCode: 1 | 2;
  /** Already reported on stderr; exit without printing again. */
  readonly reported: boolean;

  constructor(code: 'Usage' | 'Failed', message: string, options?: { cause?: unknown; reported?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.exitCode = code === 'Usage' ? 2 : 1;
    this.reported = options?.reported ?? false;
  }
}

export function usageError(message: string): CliError {
  return new CliError('Usage', message);
}

export function failed(message: string, cause?: unknown): CliError {
  return new CliError('Failed', message, cause === undefined ? undefined : { cause });
}

/** A failure whose details were already printed (e.g. per-object errors of `apply`). */
export function alreadyReported(): CliError {
  return new CliError('Failed', '', { reported: true });
}

export function isCliError(err: unknown): err is CliError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'CliError';
}

function sleepFor(signal: AbortSignal): (ms: number) => Promise<void> {
  return (ms) =>
    new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
}

async function readAll(stream: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The real process: stdout/stderr, stdin, env, wall clock, SIGINT → signal. */
export function processIO(signal: AbortSignal): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    readStdin: () => readAll(process.stdin),
    env: process.env,
    cwd: process.cwd(),
    now: () => Date.now(),
    signal,
    connect: (options) => new ApiClient(options),
    sleep: sleepFor(signal),
  };
}

/** An IO for tests and embedding: captured output, given stdin and env, a fixed or given clock. */
export function memoryIO(
  overrides: Partial<CliIO> & { stdin?: string } = {},
): CliIO & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const signal = overrides.signal ?? new AbortController().signal;
  const { stdin, ...rest } = overrides;
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    readStdin: () => Promise.resolve(stdin ?? ''),
    env: {},
    cwd: process.cwd(),
    now: () => Date.now(),
    signal,
    connect: (options) => new ApiClient(options),
    sleep: sleepFor(signal),
    ...rest,
    out: () => out,
    err: () => err,
  };
}
