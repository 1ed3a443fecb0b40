// The entry point of a benchmark run as a script: its exit code, or 1 with the error on stderr.
import { pathToFileURL } from 'node:url';

/**
 * Run `main` when this module is the script node was started with. `--help` / `-h` print `usage` (when
 * given) and exit 0 without running anything.
 */
export function runAsScript(
  moduleUrl: string,
  main: (args: string[]) => Promise<number>,
  usage?: string,
): void {
  const script = process.argv[1];
  if (script === undefined || moduleUrl !== pathToFileURL(script).href) return;
  const args = process.argv.slice(2);
  if (usage !== undefined && (args.includes('--help') || args.includes('-h'))) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  main(args).then(
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
