// The entry point of a benchmark run as a script: its exit code, or 1 with the error on stderr.
import { pathToFileURL } from 'node:url';

export function runAsScript(moduleUrl: string, main: (args: string[]) => Promise<number>): void {
  const script = process.argv[1];
  if (script === undefined || moduleUrl !== pathToFileURL(script).href) return;
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(
        `benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
