// `flotilla scale`: set the replica count through the scale subresource, as kubectl does
// (a merge patch of the Scale; with --current-replicas or --resource-version, GET then PUT).
import type { Command } from 'commander';
import type { KubeObject } from '../../api/types.js';
import { alreadyReported, failed, usageError } from '../io.js';
import { badOutputFormat, pluralTypeName, ResultPrinter, typeName } from '../printers/output.js';
import { errorLine, isPerObjectError } from '../resource-args.js';
import type { Session } from '../session.js';
import { resolveTargets } from '../targets.js';
import { collect, parseCount, parseDryRun } from './common.js';

export interface ScaleOptions {
  replicas?: string;
  currentReplicas?: string;
  resourceVersion?: string;
  selector?: string;
  all?: boolean;
  allNamespaces?: boolean;
  filename: string[];
  recursive?: boolean;
  dryRun?: string;
  output?: string;
}

export async function runScale(session: Session, args: string[], opts: ScaleOptions): Promise<void> {
  const io = session.io;
  const replicas = parseCount('--replicas', opts.replicas);
  if (replicas === undefined) throw usageError('required flag(s) "replicas" not set');
  if (replicas < 0)
    throw usageError('The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0');
  const current = parseCount('--current-replicas', opts.currentReplicas);
  if (current !== undefined && current < -1)
    throw usageError('--current-replicas must be -1 (any) or a non-negative integer');
  const output = ResultPrinter.format(opts.output);
  if (output === undefined) throw usageError(badOutputFormat(opts.output ?? ''));
  const dryRun = parseDryRun(opts.dryRun);
  const suffix = dryRun === 'server' ? ' (server dry run)' : dryRun === 'client' ? ' (dry run)' : '';

  const targets = await resolveTargets(session, args, opts, 'scale');
  if (targets.length === 0) throw failed('no objects passed to scale');
  const client = await session.client();
  const printer = new ResultPrinter(io.stdout, output);
  let failures = 0;
  for (const t of targets) {
    try {
      if (!t.info.subresources.some((s) => s.name === 'scale')) {
        failures++;
        io.stderr.write(
          `error: ${pluralTypeName(t.info)} "${t.name}" cannot be scaled: ${t.info.resource} have no scale subresource\n`,
        );
        continue;
      }
      let result: KubeObject;
      const precondition =
        (current !== undefined && current >= 0) ||
        (opts.resourceVersion !== undefined && opts.resourceVersion !== '');
      if (precondition || dryRun === 'client') {
        const scale = await client.getScale(t.info, t.namespace, t.name);
        const actual = scale.spec.replicas ?? 0;
        if (current !== undefined && current >= 0 && actual !== current) {
          failures++;
          io.stderr.write(`error: Expected replicas to be ${current}, was ${actual}\n`);
          continue;
        }
        const wanted = { ...scale, spec: { ...scale.spec, replicas } };
        if (opts.resourceVersion !== undefined && opts.resourceVersion !== '')
          wanted.metadata = { ...wanted.metadata, resourceVersion: opts.resourceVersion };
        result =
          dryRun === 'client'
            ? wanted
            : await client.updateScale(t.info, t.namespace, t.name, wanted, { dryRun: dryRun === 'server' });
      } else {
        result = await client.patch(
          t.info,
          t.namespace,
          t.name,
          'merge',
          { spec: { replicas } },
          { subresource: 'scale', dryRun: dryRun === 'server' },
        );
      }
      printer.print(`${typeName(t.info)}/${t.name}`, `scaled${suffix}`, result);
    } catch (err) {
      if (!isPerObjectError(err)) throw err;
      failures++;
      io.stderr.write(`${errorLine(err)}\n`);
    }
  }
  printer.finish();
  if (failures > 0) throw alreadyReported();
}

export function registerScale(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('scale')
    .description('Set the number of replicas of a Deployment or ReplicaSet (through its scale subresource)')
    .argument('[resources...]', 'TYPE NAME... or TYPE/NAME...')
    .option('--replicas <count>', 'the new number of replicas (required)')
    .option('--current-replicas <count>', 'only scale if the current count is this (-1: any)')
    .option('--resource-version <rv>', 'only scale if the object is still at this resourceVersion')
    .option('-l, --selector <selector>', 'every object of the type matching this label selector')
    .option('--all', 'every object of the type in the namespace')
    .option('-A, --all-namespaces', 'with -l or --all: across all namespaces')
    .option('-f, --filename <path>', 'the objects a file, directory or - describes; repeatable', collect, [])
    .option('-R, --recursive', 'process directories given with -f recursively')
    .option('--dry-run <mode>', 'none, client or server (validated by the server, not stored)', 'none')
    .option('-o, --output <format>', 'name, yaml or json (the Scale) instead of the status line')
    .addHelpText(
      'after',
      `
Examples:
  flotilla scale deploy/web --replicas=5
  flotilla scale deployment web --replicas=3 --current-replicas=2
  flotilla scale deploy -l app=web --replicas=0
  flotilla scale -f app.yaml --replicas=2

Output: deployment.apps/web scaled`,
    )
    .action(async (args: string[], opts: ScaleOptions, cmd: Command) => {
      await runScale(session(cmd), args, opts);
    });
}
