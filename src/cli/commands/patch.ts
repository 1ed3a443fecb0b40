// `flotilla patch`: send a strategic merge patch (default), a JSON merge patch or a JSON patch.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import {
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  jsonEqual,
} from '../../api/patch/index.js';
import { schemaFor } from '../../api/schema/index.js';
import type { KubeObject } from '../../api/types.js';
import { alreadyReported, failed, usageError } from '../io.js';
import { badOutputFormat, ResultPrinter, typeNameOfObject } from '../printers/output.js';
import { errorLine, isPerObjectError } from '../resource-args.js';
import type { Session } from '../session.js';
import { resolveTargets, type Target } from '../targets.js';
import { collect, parseDryRun } from './common.js';

export type PatchKind = 'strategic' | 'merge' | 'json';

export interface PatchCommandOptions {
  patch?: string;
  patchFile?: string;
  type?: string;
  subresource?: string;
  filename: string[];
  recursive?: boolean;
  dryRun?: string;
  output?: string;
  fieldManager?: string;
}

/** The patch text (JSON or YAML) as a JSON value. */
export function parsePatchText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    try {
      return parseYaml(text) as unknown;
    } catch (err) {
      const why = err instanceof Error ? (err.message.split('\n')[0] ?? '').replace(/:$/, '') : String(err);
      throw usageError(`unable to parse "${text}": ${why}`);
    }
  }
}

/** Apply a patch locally (for --dry-run=client): the same algorithms the server uses. */
export function applyLocally(type: PatchKind, obj: KubeObject, body: unknown): KubeObject {
  switch (type) {
    case 'json':
      return applyJsonPatch(obj, body) as KubeObject;
    case 'merge':
      return applyMergePatch(obj, body) as KubeObject;
    case 'strategic':
      return applyStrategicMergePatch(
        obj,
        body,
        schemaFor(obj.apiVersion, obj.kind),
      ) as unknown as KubeObject;
  }
}

async function current(
  session: Session,
  t: Target,
  subresource: 'status' | 'scale' | undefined,
): Promise<KubeObject> {
  const client = await session.client();
  if (subresource === 'scale') return client.getScale(t.info, t.namespace, t.name);
  return client.get(t.info, t.namespace, t.name);
}

export async function runPatch(session: Session, args: string[], opts: PatchCommandOptions): Promise<void> {
  const io = session.io;
  const type = opts.type ?? 'strategic';
  if (type !== 'strategic' && type !== 'merge' && type !== 'json')
    throw usageError(`--type must be one of [json merge strategic], not "${type}"`);
  const output = ResultPrinter.format(opts.output);
  if (output === undefined) throw usageError(badOutputFormat(opts.output ?? ''));
  const dryRun = parseDryRun(opts.dryRun);
  const sub = opts.subresource;
  if (sub !== undefined && sub !== 'status' && sub !== 'scale')
    throw usageError(`--subresource must be one of [status scale], not "${sub}"`);
  if (opts.patch !== undefined && opts.patchFile !== undefined)
    throw usageError('--patch and --patch-file cannot be used together');
  let text = opts.patch;
  if (opts.patchFile !== undefined) {
    try {
      text = await readFile(resolve(io.cwd, opts.patchFile), 'utf8');
    } catch (err) {
      throw failed(
        `unable to read patch file ${opts.patchFile}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  if (text === undefined || text.trim() === '')
    throw usageError('must specify --patch or --patch-file containing the contents of the patch');
  const body = parsePatchText(text);

  const targets = await resolveTargets(session, args, opts, 'patch');
  if (targets.length === 0) throw failed('no objects passed to patch');
  const client = await session.client();
  const printer = new ResultPrinter(io.stdout, output);
  let failures = 0;
  for (const t of targets) {
    try {
      if (sub !== undefined && !t.info.subresources.some((s) => s.name === sub)) {
        failures++;
        io.stderr.write(`error: ${t.info.resource} have no "${sub}" subresource\n`);
        continue;
      }
      const before = await current(session, t, sub);
      let local: KubeObject | undefined;
      if (dryRun === 'client') {
        try {
          local = applyLocally(type, before, body);
        } catch (err) {
          failures++;
          io.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
          continue;
        }
      }
      const result =
        local !== undefined
          ? local
          : await client.patch(t.info, t.namespace, t.name, type, body, {
              subresource: sub,
              fieldManager: opts.fieldManager ?? 'flotilla-patch',
              dryRun: dryRun === 'server',
            });
      const same = jsonEqual(before, result);
      printer.print(
        `${typeNameOfObject(result)}/${t.name}`,
        same ? 'patched (no change)' : 'patched',
        result,
      );
    } catch (err) {
      if (!isPerObjectError(err)) throw err;
      failures++;
      io.stderr.write(
        `${errorLine(err, t.source === undefined ? undefined : `error when patching "${t.source}"`)}\n`,
      );
    }
  }
  printer.finish();
  if (failures > 0) throw alreadyReported();
}

export function registerPatch(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('patch')
    .description(
      'Change fields of a resource with a strategic merge patch, a JSON merge patch or a JSON patch',
    )
    .argument('[resources...]', 'TYPE NAME or TYPE/NAME')
    .option('-p, --patch <patch>', 'the patch, as JSON or YAML')
    .option('--patch-file <file>', 'read the patch from a file')
    .option('--type <type>', 'strategic (default), merge (RFC 7386) or json (RFC 6902)', 'strategic')
    .option('--subresource <name>', 'patch the status or scale subresource instead of the object')
    .option('-f, --filename <path>', 'the object a file describes; repeatable', collect, [])
    .option('-R, --recursive', 'process directories given with -f recursively')
    .option(
      '--dry-run <mode>',
      'none, client (patch locally, print) or server (validated, not stored)',
      'none',
    )
    .option('-o, --output <format>', 'name, yaml or json instead of the status line')
    .option('--field-manager <name>', 'the field manager recorded for the change', 'flotilla-patch')
    .addHelpText(
      'after',
      `
Examples:
  flotilla patch deploy web -p '{"spec":{"replicas":3}}'
  flotilla patch deploy/web -p '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}'
  flotilla patch svc web --type merge -p '{"metadata":{"labels":{"tier":"fe"}}}'
  flotilla patch deploy web --type json -p '[{"op":"replace","path":"/spec/replicas","value":4}]'
  flotilla patch deploy web --subresource scale -p '{"spec":{"replicas":2}}'
  flotilla patch deploy web --patch-file fix.yaml

A strategic merge patch merges lists such as containers, env and ports by their key (name,
containerPort, ...); a merge patch replaces lists whole. Output: deployment.apps/web patched, or
"patched (no change)" when the object did not change.`,
    )
    .action(async (args: string[], opts: PatchCommandOptions, cmd: Command) => {
      await runPatch(session(cmd), args, opts);
    });
}
