// `flotilla describe KIND [NAME...]`: a readable account of objects and their recent events.
import type { Command } from 'commander';
import { isApiError } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { describeObject } from '../describe.js';
import { alreadyReported, failed, usageError } from '../io.js';
import { isPerObjectError, parseResourceArgs, printError } from '../resource-args.js';
import type { Session } from '../session.js';
import { listAll } from './get.js';

export interface DescribeOptions {
  selector?: string;
  allNamespaces?: boolean;
}

export async function runDescribe(session: Session, args: string[], opts: DescribeOptions): Promise<void> {
  const io = session.io;
  const requests = parseResourceArgs(args, 'describe');
  const namespace = await session.namespace();
  const all = opts.allNamespaces === true;
  if (all && requests.some((r) => r.names.length > 0))
    throw usageError('a resource cannot be described by name across all namespaces');
  const client = await session.client();
  const ctx = { client, now: io.now() };
  let printed = 0;
  let failures = 0;

  const print = async (obj: KubeObject, info: (typeof requests)[number]['info']): Promise<void> => {
    if (printed > 0) io.stdout.write('\n\n');
    io.stdout.write(await describeObject(obj, info, ctx));
    printed++;
  };

  for (const req of requests) {
    const ns = req.info.namespaced ? (all ? undefined : namespace) : undefined;
    if (req.names.length === 0) {
      const list = await listAll(client, req.info, ns, { labelSelector: opts.selector });
      for (const obj of list.items) await print(obj, req.info);
      continue;
    }
    for (const name of req.names) {
      try {
        await print(await client.get(req.info, ns, name), req.info);
      } catch (err) {
        if (!isApiError(err) || err.reason !== 'NotFound') {
          if (!isPerObjectError(err)) throw err;
          failures++;
          printError(io.stderr, err);
          continue;
        }
        // Like kubectl: a name that is not found matches every object whose name starts with it.
        const list = await listAll(client, req.info, ns, { labelSelector: opts.selector });
        const matches = list.items.filter((o) => (o.metadata.name ?? '').startsWith(name));
        if (matches.length === 0) {
          failures++;
          printError(io.stderr, err);
          continue;
        }
        for (const obj of matches) await print(obj, req.info);
      }
    }
  }
  if (failures > 0) throw alreadyReported();
  if (printed === 0) {
    if (requests.every((r) => r.names.length === 0)) {
      io.stderr.write(
        all || requests.every((r) => !r.info.namespaced)
          ? 'No resources found\n'
          : `No resources found in ${namespace} namespace.\n`,
      );
      return;
    }
    throw failed('nothing to describe');
  }
}

export function registerDescribe(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('describe')
    .description('Show details of resources and their recent events')
    .argument('<resources...>', 'TYPE [NAME_PREFIX...] or TYPE/NAME...')
    .option('-l, --selector <selector>', 'label selector')
    .option('-A, --all-namespaces', 'describe across all namespaces')
    .addHelpText(
      'after',
      `
Examples:
  flotilla describe pod web-7c5d-x2x9q
  flotilla describe deploy/web
  flotilla describe nodes
  flotilla describe pods web        # every pod whose name starts with "web"`,
    )
    .action(async (args: string[], opts: DescribeOptions, cmd: Command) => {
      await runDescribe(session(cmd), args, opts);
    });
}
