// `flotilla kubeconfig`: where the server wrote the admin kubeconfig, or its content.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultDataDir } from '../../api/client/kubeconfig.js';
import { failed, type CliIO } from '../io.js';

export interface KubeconfigOptions {
  dataDir?: string;
  print?: boolean;
}

export function kubeconfigPathFor(dataDir: string | undefined, cwd: string): string {
  return join(resolve(cwd, dataDir ?? defaultDataDir), 'kubeconfig.yaml');
}

export async function runKubeconfig(io: CliIO, opts: KubeconfigOptions): Promise<void> {
  const path = kubeconfigPathFor(opts.dataDir, io.cwd);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (opts.print === true) {
      throw failed(
        code === 'ENOENT'
          ? `${path} does not exist; start the server with \`flotilla up\` (or pass --data-dir)`
          : `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`,
        err,
      );
    }
    if (code === 'ENOENT')
      io.stderr.write(`Warning: ${path} does not exist yet; \`flotilla up\` writes it\n`);
  }
  if (opts.print === true && text !== undefined) io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  else io.stdout.write(`${path}\n`);
}

export function registerKubeconfig(program: Command, io: CliIO): void {
  program
    .command('kubeconfig')
    .description(
      'Print the path of the kubeconfig the server writes (<data-dir>/kubeconfig.yaml), or its content',
    )
    .option('--data-dir <dir>', "the server's data directory", defaultDataDir)
    .option('--print', "print the file's content instead of its path")
    .addHelpText(
      'after',
      `
Examples:
  export KUBECONFIG=$(flotilla kubeconfig)
  flotilla kubeconfig --print > ~/.kube/config
  flotilla kubeconfig --data-dir ./.flotilla`,
    )
    .action(async (opts: KubeconfigOptions) => {
      await runKubeconfig(io, opts);
    });
}
