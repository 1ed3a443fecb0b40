// The `flotilla` command. `bin/flotilla.js` calls `main(process.argv)`; tests call `run(args, io)`.
// Exit codes: 0 ok, 1 error (server errors print `Error from server (<Reason>): <message>`), 2 usage.
import { Command, CommanderError } from 'commander';
import { isApiError } from '../api/errors.js';
import { clientVersion } from './commands/version.js';
import { isCliError, processIO, type CliIO } from './io.js';
import { errorLine } from './resource-args.js';
import { Session, type GlobalOptions } from './session.js';

/** Commands that run a long-lived process: they load only their own modules (see `buildProgram`). */
const daemonCommands = new Set(['server', 'up', 'agent']);

/**
 * The program. With `daemon` set (the command line starts with `server`, `up` or `agent`) only those
 * commands are loaded: the client commands' modules (YAML, printers, exec's websocket, undici for logs)
 * would otherwise stay resident in the API server and the agent for nothing, about 10 MB of RSS.
 */
export async function buildProgram(
  io: CliIO,
  sessions: Session[],
  reported = { stderr: false },
  daemon = false,
): Promise<Command> {
  const program = new Command('flotilla');
  program
    .description('Flotilla: a container orchestrator that speaks the Kubernetes API')
    .version(clientVersion(), '--version', 'print the client version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => {
        reported.stderr = true;
        io.stderr.write(s);
      },
    })
    .showHelpAfterError('(run with --help for usage)')
    .option(
      '--kubeconfig <file>',
      'kubeconfig file (default: $KUBECONFIG, /var/lib/flotilla/kubeconfig.yaml, ~/.kube/config)',
    )
    .option('-n, --namespace <namespace>', 'namespace for this request')
    .option('--context <name>', 'kubeconfig context to use instead of current-context')
    .option('-s, --server <url>', 'API server URL (overrides the kubeconfig)')
    .option('--token <token>', 'bearer token (overrides the kubeconfig)')
    .option('--insecure-skip-tls-verify', 'do not verify the server certificate (insecure)')
    .addHelpText(
      'after',
      `
Examples:
  flotilla up                          # start a single-machine cluster
  flotilla apply -f app.yaml
  flotilla diff -f app.yaml
  flotilla get pods -o wide
  flotilla describe deploy web
  flotilla scale deploy/web --replicas=3
  flotilla wait deploy/web --for=condition=Available
  flotilla delete -f app.yaml

Global flags (--kubeconfig, -n, --context, ...) work before or after the command.`,
    );

  const session = (cmd: Command): Session => {
    const globals = cmd.optsWithGlobals<GlobalOptions>();
    const s = new Session(io, globals);
    sessions.push(s);
    return s;
  };

  if (!daemon) {
    const commands = await Promise.all([
      import('./commands/apply.js').then((m) => m.registerApply),
      import('./commands/diff.js').then((m) => m.registerDiff),
      import('./commands/get.js').then((m) => m.registerGet),
      import('./commands/describe.js').then((m) => m.registerDescribe),
      import('./commands/delete.js').then((m) => m.registerDelete),
      import('./commands/edit.js').then((m) => m.registerEdit),
      import('./commands/patch.js').then((m) => m.registerPatch),
      import('./commands/label.js').then((m) => m.registerLabel),
      import('./commands/scale.js').then((m) => m.registerScale),
      import('./commands/drain.js').then((m) => m.registerDrain),
      import('./commands/plan.js').then((m) => m.registerPlan),
      import('./commands/wait.js').then((m) => m.registerWait),
      import('./commands/rollout.js').then((m) => m.registerRollout),
      import('./commands/top.js').then((m) => m.registerTop),
      import('./commands/logs.js').then((m) => m.registerLogs),
      import('./commands/exec.js').then((m) => m.registerExec),
      import('./commands/explain.js').then((m) => m.registerExplain),
      import('./commands/api-resources.js').then((m) => m.registerApiResources),
    ]);
    for (const register of commands) register(program, session);
    (await import('./commands/kubeconfig.js')).registerKubeconfig(program, io);
    (await import('./commands/image.js')).registerImage(program, io);
    (await import('./commands/version.js')).registerVersion(program, session);
  }
  (await import('./server-command.js')).registerServerCommands(program);
  (await import('./agent-command.js')).registerAgentCommands(program);
  return program;
}

function exitCodeOf(err: CommanderError): number {
  switch (err.code) {
    case 'commander.helpDisplayed':
    case 'commander.version':
      return 0;
    default:
      return err.exitCode === 0 ? 0 : 2;
  }
}

/** Run the CLI with user arguments (no `node script` prefix); resolves to the exit code. */
export async function run(args: string[], io: CliIO): Promise<number> {
  const sessions: Session[] = [];
  const reported = { stderr: false };
  const program = await buildProgram(io, sessions, reported, daemonCommands.has(args[0] ?? ''));
  if (args.length === 0) {
    io.stdout.write(program.helpInformation());
    return 0;
  }
  try {
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander prints what its own parsing finds; an InvalidArgumentError thrown by an action
      // (a flag checked once all flags are known) reaches us unprinted.
      const code = exitCodeOf(err);
      if (code !== 0 && !reported.stderr && err.message !== '') {
        const text = err.message.startsWith('error:') ? err.message : `error: ${err.message}`;
        io.stderr.write(`${text}\n(run with --help for usage)\n`);
      }
      return code;
    }
    if (isCliError(err)) {
      if (!err.reported && err.message !== '') io.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    if (isApiError(err)) {
      io.stderr.write(`${errorLine(err)}\n`);
      return 1;
    }
    io.stderr.write(`${errorLine(err)}\n`);
    return 1;
  } finally {
    for (const s of sessions) await s.close().catch(() => undefined);
  }
}

/** Entry point for `bin/flotilla.js`: `argv` is `process.argv` (node, script, args...). */
export async function main(argv: string[]): Promise<void> {
  const controller = new AbortController();
  // Ctrl-C ends watches and waits cleanly (`server`/`up` also stop on it); a second one exits at once.
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  // `flotilla get pods | head`: a closed pipe ends the command quietly, as it does for kubectl.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw err;
  });
  try {
    process.exitCode = await run(argv.slice(2), processIO(controller.signal));
  } finally {
    process.off('SIGINT', onSigint);
  }
}
