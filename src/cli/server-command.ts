// `flotilla server` and `flotilla up`: run the control plane (and, once the agent lands, a node agent).
import { InvalidArgumentError, type Command } from 'commander';
import { startServer, type RunningServer } from '../apiserver/bootstrap.js';
import type { StoreKind } from '../apiserver/open-store.js';

interface ServerFlags {
  dataDir: string;
  listen: string;
  store: string;
  etcdEndpoints: string;
  eventTtl: string;
}

function parseStore(value: string): StoreKind {
  if (value === 'sqlite' || value === 'etcd' || value === 'memory') return value;
  throw new InvalidArgumentError('must be sqlite, etcd or memory');
}

function addServerFlags(cmd: Command): Command {
  return cmd
    .option(
      '--data-dir <dir>',
      'where state, certificates, tokens and the kubeconfig live',
      '/var/lib/flotilla',
    )
    .option('--listen <host:port>', 'address of the HTTPS API', '127.0.0.1:6443')
    .option(
      '--store <kind>',
      'state store: sqlite (embedded, default), etcd, or memory (lost on exit)',
      'sqlite',
    )
    .option('--etcd-endpoints <urls>', 'comma-separated etcd client URLs, with --store etcd', '')
    .option('--event-ttl <seconds>', 'events expire after this long', '3600');
}

async function run(flags: ServerFlags, role: 'server' | 'up'): Promise<void> {
  const store = parseStore(flags.store);
  const ttl = Number(flags.eventTtl);
  if (!Number.isInteger(ttl) || ttl <= 0)
    throw new InvalidArgumentError('--event-ttl must be a positive number of seconds');
  const server: RunningServer = await startServer({
    dataDir: flags.dataDir,
    listen: flags.listen,
    store,
    etcdEndpoints: flags.etcdEndpoints
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    eventTtlSeconds: ttl,
  });
  process.stdout.write(
    [
      `Flotilla ${role === 'up' ? 'single-node cluster' : 'control plane'} is up at ${server.url} (store: ${store})`,
      `kubeconfig: ${server.kubeconfig}`,
      `  export KUBECONFIG=${server.kubeconfig}`,
      `  flotilla get namespaces     # or: kubectl get ns`,
      role === 'up'
        ? 'note: the node agent is not part of this build yet; workloads are stored but not run.'
        : '',
      '',
    ]
      .filter((l, i, all) => l !== '' || i === all.length - 1)
      .join('\n'),
  );
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`${signal}: shutting down\n`);
      server
        .stop()
        .catch((err: unknown) => process.stderr.write(`shutdown: ${(err as Error).message}\n`))
        .finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

export function registerServerCommands(program: Command): void {
  addServerFlags(
    program
      .command('server')
      .description('run the control plane: API server, store and controllers')
      .addHelpText(
        'after',
        '\nExample:\n  flotilla server --data-dir /var/lib/flotilla --listen 127.0.0.1:6443\n',
      ),
  ).action((flags: ServerFlags) => run(flags, 'server'));
  addServerFlags(
    program
      .command('up')
      .description('run a single-node cluster on this machine (control plane with the embedded SQLite store)')
      .addHelpText(
        'after',
        '\nExample:\n  flotilla up                       # state in /var/lib/flotilla\n  flotilla up --data-dir ./.flotilla --listen 127.0.0.1:7443\n',
      ),
  ).action((flags: ServerFlags) => run(flags, 'up'));
}
