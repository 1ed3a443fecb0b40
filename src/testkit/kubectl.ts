// Run a pinned real kubectl (fetched by scripts/fetch-kubectl.sh) against a test cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { expectSuccess, runCommand, type CommandResult } from './command.js';
import { testDir } from './temp-dir.js';

export type KubectlVersion = '1.35' | '1.31';

export function kubectlPath(version: KubectlVersion): string {
  const dir =
    process.env.FLOTILLA_KUBECTL_DIR ??
    join(process.env.FLOTILLA_CACHE ?? join(homedir(), '.cache', 'flotilla'), 'kubectl');
  const path = join(dir, version, 'kubectl');
  if (!existsSync(path)) {
    throw new Error(
      `kubectl ${version} not found at ${path}: run scripts/fetch-kubectl.sh (scripts/test.sh does it)`,
    );
  }
  return path;
}

export type KubectlResult = CommandResult;

export class Kubectl {
  readonly bin: string;
  private readonly kubeconfig: string;
  private readonly cacheDir = testDir('kubectl-cache-');

  constructor(version: KubectlVersion, kubeconfig: string) {
    this.bin = kubectlPath(version);
    this.kubeconfig = kubeconfig;
  }

  private args(args: string[]): string[] {
    return [`--kubeconfig=${this.kubeconfig}`, `--cache-dir=${this.cacheDir}`, ...args];
  }

  run(args: string[], stdin?: string, timeoutMs = 30_000): Promise<KubectlResult> {
    return runCommand(this.bin, this.args(args), {
      stdin,
      timeoutMs,
      env: { ...process.env, HOME: this.cacheDir },
    });
  }

  /** Run and fail with kubectl's own output when it exits non-zero. */
  async ok(args: string[], stdin?: string): Promise<string> {
    return expectSuccess(`kubectl ${args.join(' ')}`, await this.run(args, stdin));
  }

  /** Start a long-running kubectl (e.g. `get -w`); collect its stdout. */
  start(args: string[]): { child: ChildProcess; output: () => string; stop: () => void } {
    const child = spawn(this.bin, this.args(args), { env: { ...process.env, HOME: this.cacheDir } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    return { child, output: () => out, stop: () => child.kill('SIGTERM') };
  }
}
