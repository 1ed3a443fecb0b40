// `flotilla version`: this client's version and the server's `/version`.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { isObject } from '../../api/types.js';
import { usageError } from '../io.js';
import { toJson, toYaml } from '../printers/output.js';
import type { Session } from '../session.js';

/** The version in the project's package.json (found walking up from this file, in src/ or dist/). */
export function clientVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (isObject(pkg) && pkg['name'] === 'flotilla' && typeof pkg['version'] === 'string')
        return `v${pkg['version']}`;
    } catch {
      // keep walking up
    }
    dir = dirname(dir);
  }
  return 'v0.0.0-unknown';
}

export interface VersionOptions {
  client?: boolean;
  output?: string;
}

export async function runVersion(session: Session, opts: VersionOptions): Promise<void> {
  const io = session.io;
  const output = opts.output ?? '';
  if (!['', 'json', 'yaml'].includes(output))
    throw usageError(`--output must be json or yaml, got "${output}"`);
  const client = { gitVersion: clientVersion() };
  let server: Record<string, unknown> | undefined;
  let serverError: Error | undefined;
  if (opts.client !== true) {
    try {
      const body = await (await session.client()).request('GET', '/version');
      server = isObject(body) ? body : { gitVersion: String(body) };
    } catch (err) {
      serverError = err instanceof Error ? err : new Error(String(err));
    }
  }
  if (output === '') {
    io.stdout.write(`Client Version: ${client.gitVersion}\n`);
    if (server !== undefined)
      io.stdout.write(
        `Server Version: ${typeof server['gitVersion'] === 'string' ? server['gitVersion'] : JSON.stringify(server)}\n`,
      );
  } else {
    const value: Record<string, unknown> = { clientVersion: client };
    if (server !== undefined) value['serverVersion'] = server;
    io.stdout.write(output === 'json' ? toJson(value) : toYaml(value));
  }
  if (serverError !== undefined) throw serverError;
}

export function registerVersion(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('version')
    .description('Print the client and server versions')
    .option('--client', 'only the client version (no server needed)')
    .option('-o, --output <format>', 'json or yaml')
    .addHelpText(
      'after',
      `
Examples:
  flotilla version
  flotilla version --client
  flotilla version -o json`,
    )
    .action(async (opts: VersionOptions, cmd: Command) => {
      await runVersion(session(cmd), opts);
    });
}
