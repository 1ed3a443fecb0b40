// The `flotilla` command. `bin/flotilla.js` calls `main(process.argv)`; tests call `run(args, io)`.
// Exit codes: 0 ok, 1 error (server errors print `Error from server (<Reason>): <message>`), 2 usage.
import { Command, CommanderError } from 'commander';
import { isApiError } from '../api/errors.js';
import { registerApiResources } from './commands/api-resources.js';
import { registerApply } from './commands/apply.js';
import { registerDelete } from './commands/delete.js';
import { registerDescribe } from './commands/describe.js';
import { registerDiff } from './commands/diff.js';
import { registerDrain } from './commands/drain.js';
import { registerEdit } from './commands/edit.js';
import { registerExec } from './commands/exec.js';
import { registerExplain } from './commands/explain.js';
import { registerGet } from './commands/get.js';
import { registerImage } from './commands/image.js';
import { registerKubeconfig } from './commands/kubeconfig.js';
import { registerLabel } from './commands/label.js';
import { registerLogs } from './commands/logs.js';
import { registerPatch } from './commands/patch.js';
import { registerPlan } from './commands/plan.js';
import { registerRollout } from './commands/rollout.js';
import { registerScale } from './commands/scale.js';
import { registerTop } from './commands/top.js';
import { clientVersion, registerVersion } from './commands/version.js';
import { registerWait } from './commands/wait.js';
import { isCliError, processIO, type CliIO } from './io.js';
import { errorLine } from './resource-args.js';
import { registerServerCommands } from './server-command.js';
import { registerAgentCommands } from './agent-command.js';
import { Session, type GlobalOptions } from './session.js';

export function buildProgram(io: CliIO, sessions: Session[], reported = { stderr: false }): Command {
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

  registerApply(program, session);
  registerDiff(program, session);
  registerGet(program, session);
  registerDescribe(program, session);
  registerDelete(program, session);
  registerEdit(program, session);
  registerPatch(program, session);
  registerLabel(program, session);
  registerScale(program, session);
  registerDrain(program, session);
  registerPlan(program, session);
  registerWait(program, session);
  registerRollout(program, session);
  registerTop(program, session);
  registerLogs(program, session);
  registerExec(program, session);
  registerExplain(program, session);
  registerApiResources(program, session);
  registerKubeconfig(program, io);
  registerImage(program, io);
  registerVersion(program, session);
  registerServerCommands(program);
  registerAgentCommands(program);
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
  const program = buildProgram(io, sessions, reported);
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
