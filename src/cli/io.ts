// What a CLI command may touch: output streams, stdin, environment, time, the API connection.
// `main` wires the real process; tests pass their own.
import { spawn as spawnChild } from 'node:child_process';
import { tmpdir } from 'node:os';
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
  /**
   * Runs a program (`$EDITOR` for `edit`, an external diff for `diff`). `interactive` gives it the
   * terminal (stdio inherited, nothing captured); otherwise its stdout and stderr are captured.
   */
  spawn: (command: string, args: string[], opts: { interactive: boolean }) => Promise<SpawnResult>;
  /** Directory for temporary files (`edit`'s buffer, `diff`'s LIVE/MERGED trees). */
  tmpdir: string;
}

export interface SpawnResult {
  /** Exit code; 128 + n when killed by signal n; -1 when it could not be started. */
  code: number;
  stdout: string;
  stderr: string;
  /** Why it could not be started (ENOENT...). */
  error?: string;
}

/**
 * Failure of a CLI command. `Usage` (bad flags or arguments) exits 2, `Failed` exits 1 (or the
 * given exit code: `diff` exits 2 on errors because 1 means "differences found").
 */
export class CliError extends Error {
  readonly code: 'Usage' | 'Failed';
  readonly exitCode: number;
  /** Already reported on stderr; exit without printing again. */
  readonly reported: boolean;

  constructor(
    code: 'Usage' | 'Failed',
    message: string,
    options?: { cause?: unknown; reported?: boolean; exitCode?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.exitCode = options?.exitCode ?? (code === 'Usage' ? 2 : 1);
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

/** Run a program; `interactive` hands it the terminal. Never rejects. */
export function spawnProgram(
  command: string,
  args: string[],
  opts: { interactive: boolean; env?: Record<string, string | undefined>; cwd?: string },
): Promise<SpawnResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let child;
    try {
      child = spawnChild(command, args, {
        stdio: opts.interactive ? 'inherit' : ['ignore', 'pipe', 'pipe'],
        ...(opts.env === undefined ? {} : { env: opts.env }),
        ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
      });
    } catch (err) {
      resolve({ code: -1, stdout, stderr, error: err instanceof Error ? err.message : String(err) });
      return;
    }
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ code: -1, stdout, stderr, error: err.code ?? err.message }),
    );
    child.on('close', (code, signal) => {
      const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
      resolve({ code: code ?? 128 + (signal === null ? 0 : (signals[signal] ?? 0)), stdout, stderr });
    });
  });
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
    spawn: (command, args, opts) => spawnProgram(command, args, opts),
    tmpdir: tmpdir(),
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
    // Tests never hand a program the terminal: its output is captured.
    spawn: (command, args) =>
      spawnProgram(command, args, { interactive: false, env: { ...process.env, ...(rest.env ?? {}) } }),
    tmpdir: tmpdir(),
    ...rest,
    out: () => out,
    err: () => err,
  };
}
