// Run a command to completion and collect its exit code and output (for CLI tests of kubectl and flotilla).
import { execFile } from 'node:child_process';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCommand(
  file: string,
  args: string[],
  opts: { stdin?: string | undefined; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 30_000, ...(opts.env === undefined ? {} : { env: opts.env }) },
      (err, stdout, stderr) => {
        const code =
          err === null
            ? 0
            : typeof (err as { code?: unknown }).code === 'number'
              ? (err as { code: number }).code
              : 1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(opts.stdin ?? '');
  });
}

/** Fail with the command's own output when it exits non-zero. */
export function expectSuccess(what: string, r: CommandResult): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}
