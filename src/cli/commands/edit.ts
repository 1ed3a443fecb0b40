// `flotilla edit`: open objects in $EDITOR and apply what changed, as kubectl does. The change is sent
// as a strategic merge patch (JSON merge patch for kinds without a schema) computed from the object as
// opened and as saved. If the server rejects it as
// invalid, the file is reopened with the errors as comments at the top.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parseDocument } from 'yaml';
import { isApiError } from '../../api/errors.js';
import { createMergePatch, jsonEqual } from '../../api/patch/index.js';
import { createStrategicMergePatch } from '../../api/patch/strategic-merge-diff.js';
import { schemaFor } from '../../api/schema/index.js';
import type { ResourceInfo } from '../../api/resources.js';
import { isObject, type KubeObject } from '../../api/types.js';
import { alreadyReported, failed, usageError, type CliIO } from '../io.js';
import { pluralTypeName, toJson, toYaml, typeName } from '../printers/output.js';
import { errorLine, isPerObjectError } from '../resource-args.js';
import type { Session } from '../session.js';
import { resolveTargets } from '../targets.js';
import { collect } from './common.js';

export interface EditOptions {
  output?: string;
  outputPatch?: boolean;
  fieldManager?: string;
  filename: string[];
  recursive?: boolean;
  selector?: string;
  all?: boolean;
}

const headerLines = [
  "Please edit the object below. Lines beginning with a '#' will be ignored,",
  'and an empty file will abort the edit. If an error occurs while saving this file will be',
  'reopened with the relevant failures.',
];

/** The comment block at the top of the file, with the reasons of a previous failure. */
export function editHeader(reasons: string[][]): string {
  const lines = [...headerLines, ''];
  for (const r of reasons) lines.push(...r, '');
  return lines.map((l) => (l === '' ? '#\n' : `# ${l}\n`)).join('');
}

/** How $KUBE_EDITOR / $EDITOR is run (kubectl's rules): split on spaces, or via the shell. */
export function editorCommand(env: Record<string, string | undefined>, file: string): [string, string[]] {
  const editor =
    [env['FLOTILLA_EDITOR'], env['KUBE_EDITOR'], env['EDITOR']]
      .map((e) => e?.trim())
      .find((e) => e !== undefined && e !== '') ?? 'vi';
  if (!editor.includes(' ')) return [editor, [file]];
  if (!/["'\\]/.test(editor)) {
    const parts = editor.split(' ').filter((p) => p !== '');
    return [parts[0] ?? 'vi', [...parts.slice(1), file]];
  }
  return [env['SHELL'] ?? '/bin/sh', ['-c', `${editor} ${JSON.stringify(file)}`]];
}

/** The object as shown for editing: without managedFields (kubectl hides them too). */
function forEditing(obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  delete copy.metadata.managedFields;
  return copy;
}

function render(format: 'yaml' | 'json', objects: KubeObject[]): string {
  const value =
    objects.length === 1
      ? objects[0]
      : { apiVersion: 'v1', items: objects, kind: 'List', metadata: { resourceVersion: '' } };
  return format === 'json' ? toJson(value) : toYaml(value);
}

type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/** The saved file without its comment lines (JSON) or comments (YAML), as a value. */
export function parseEdited(format: 'yaml' | 'json', text: string): Parsed {
  if (format === 'json') {
    const stripped = text
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'))
      .join('\n');
    if (stripped.trim() === '') return { ok: true, value: null };
    try {
      return { ok: true, value: JSON.parse(stripped) as unknown };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    return { ok: false, error: (e?.message ?? 'invalid YAML').split('\n')[0] ?? 'invalid YAML' };
  }
  try {
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    return { ok: true, value: value === undefined ? null : value };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

interface Entry {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string;
  /** The object as opened (without managedFields). */
  original: KubeObject;
  /** The content the file shows for it now. */
  shown: KubeObject;
}

function sameIdentity(a: KubeObject, b: unknown): boolean {
  if (!isObject(b)) return false;
  const meta = isObject(b['metadata']) ? b['metadata'] : {};
  return b['apiVersion'] === a.apiVersion && b['kind'] === a.kind && meta['name'] === a.metadata.name;
}

/** Reasons for an invalid object, as the reopened file shows them. */
function invalidReasons(entry: Entry, err: unknown): string[] {
  const head = `${pluralTypeName(entry.info)} "${entry.name}" was not valid:`;
  const causes = isApiError(err) ? (err.details?.causes ?? []) : [];
  const lines =
    causes.length > 0
      ? causes.map((c) => `* ${c.field !== '' ? `${c.field}: ` : ''}${c.message}`)
      : [`* ${err instanceof Error ? err.message : String(err)}`];
  return [head, ...lines];
}

function tempFile(io: CliIO, format: 'yaml' | 'json'): string {
  return join(io.tmpdir, `flotilla-edit-${randomBytes(5).toString('hex')}.${format}`);
}

export async function runEdit(session: Session, args: string[], opts: EditOptions): Promise<void> {
  const io = session.io;
  const format = opts.output ?? 'yaml';
  if (format !== 'yaml' && format !== 'json')
    throw usageError(`the edit mode "${format}" is not supported: use -o yaml or -o json`);
  const targets = await resolveTargets(session, args, opts, 'edit');
  if (targets.length === 0) throw failed('no objects passed to edit');
  const client = await session.client();
  let entries: Entry[] = [];
  for (const t of targets) {
    const live = await client.get(t.info, t.namespace, t.name);
    const shown = forEditing(live);
    entries.push({ info: t.info, namespace: t.namespace, name: t.name, original: shown, shown });
  }

  const file = tempFile(io, format);
  let reasons: string[][] = [];
  /** The file's content (below the comments) after a save that failed: saving it again gives up. */
  let lastFailed: string | undefined;
  const keepCopy = (): void => {
    io.stderr.write(`A copy of your changes has been stored to "${file}"\n`);
  };
  const stripHeader = (text: string): string => text.replace(/^(#[^\n]*\n)+/, '');
  let body = render(
    format,
    entries.map((e) => e.shown),
  );
  const initial = body;
  for (;;) {
    writeFileSync(file, editHeader(reasons) + body);
    const [command, commandArgs] = editorCommand(io.env, file);
    const r = await io.spawn(command, commandArgs, { interactive: true });
    if (r.code !== 0) {
      throw failed(
        r.code < 0
          ? `unable to launch the editor "${command}": ${r.error ?? 'unknown error'}`
          : `there was a problem with the editor "${command}"`,
      );
    }
    const text = readFileSync(file, 'utf8');
    const saved = stripHeader(text);
    if (lastFailed !== undefined && saved === lastFailed) {
      keepCopy();
      throw failed('Edit cancelled, no valid changes were saved.');
    }
    const parsed = parseEdited(format, text);
    if (!parsed.ok) {
      reasons = [[`The edited file had a syntax error: ${parsed.error}`]];
      body = saved;
      lastFailed = saved;
      continue;
    }
    const value = parsed.value;
    if (value === null || (isObject(value) && Object.keys(value).length === 0)) {
      io.stderr.write('Edit cancelled, saved file was empty.\n');
      rmSync(file, { force: true });
      return;
    }
    const items: unknown[] =
      entries.length === 1 ? [value] : isObject(value) && Array.isArray(value['items']) ? value['items'] : [];
    if (lastFailed === undefined) {
      const unchanged =
        saved === initial ||
        (items.length === entries.length && items.every((v, i) => jsonEqual(v, entries[i]?.shown)));
      if (unchanged) {
        io.stderr.write('Edit cancelled, no changes made.\n');
        rmSync(file, { force: true });
        return;
      }
    }
    if (
      items.length !== entries.length ||
      items.some((it, i) => !sameIdentity((entries[i] as Entry).original, it))
    ) {
      keepCopy();
      throw failed('At least one of apiVersion, kind and name was changed');
    }

    const retry: Entry[] = [];
    const retryReasons: string[][] = [];
    let otherFailures = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      const edited = items[i] as KubeObject;
      // kubectl's choice: a strategic merge patch for kinds with a schema (lists merged by key, so a
      // concurrent change to another container survives), a JSON merge patch otherwise.
      const schema = schemaFor(entry.original.apiVersion, entry.original.kind);
      const patchType = schema === undefined ? 'merge' : 'strategic';
      const patch =
        schema === undefined
          ? createMergePatch(entry.original, edited)
          : createStrategicMergePatch(entry.original, edited, schema);
      if (isObject(patch) && Object.keys(patch).length === 0) continue;
      if (opts.outputPatch === true) io.stdout.write(`Patch: ${JSON.stringify(patch)}\n`);
      try {
        await client.patch(entry.info, entry.namespace, entry.name, patchType, patch, {
          fieldManager: opts.fieldManager ?? 'flotilla-edit',
          fieldValidation: 'Strict',
        });
        io.stdout.write(`${typeName(entry.info)}/${entry.name} edited\n`);
      } catch (err) {
        if (!isPerObjectError(err)) throw err;
        const plural = `${pluralTypeName(entry.info)} "${entry.name}"`;
        if (isApiError(err) && (err.reason === 'Invalid' || err.reason === 'BadRequest')) {
          io.stderr.write(`error: ${plural} is invalid\n`);
          retry.push({ ...entry, shown: edited });
          retryReasons.push(invalidReasons(entry, err));
        } else if (isApiError(err) && err.reason === 'NotFound') {
          otherFailures++;
          io.stderr.write(`error: ${plural} could not be found on the server\n`);
        } else {
          otherFailures++;
          io.stderr.write(
            `error: ${plural} could not be patched: ${errorLine(err).replace(/^error: /, '')}\n`,
          );
        }
      }
    }
    if (otherFailures > 0) {
      keepCopy();
      throw alreadyReported();
    }
    if (retry.length === 0) {
      rmSync(file, { force: true });
      return;
    }
    // Reopen with the objects the server refused, as the user left them, and the reasons on top.
    entries = retry;
    reasons = retryReasons;
    body = render(
      format,
      entries.map((e) => e.shown),
    );
    lastFailed = body;
  }
}

export function registerEdit(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('edit')
    .description('Edit resources in $EDITOR and apply the changes')
    .argument('[resources...]', 'TYPE NAME... or TYPE/NAME...')
    .option('-o, --output <format>', 'edit as yaml (default) or json', 'yaml')
    .option('--output-patch', 'print the patch sent for each object')
    .option('--field-manager <name>', 'the field manager recorded for the change', 'flotilla-edit')
    .option('-f, --filename <path>', 'edit the objects a file describes; repeatable', collect, [])
    .option('-R, --recursive', 'process directories given with -f recursively')
    .option('-l, --selector <selector>', 'every object of the type matching this label selector')
    .option('--all', 'every object of the type in the namespace')
    .addHelpText(
      'after',
      `
Examples:
  flotilla edit deploy web
  flotilla edit svc/web -o json
  KUBE_EDITOR="code --wait" flotilla edit cm settings

The editor is $FLOTILLA_EDITOR, $KUBE_EDITOR or $EDITOR (default vi). Saving an unchanged file
cancels ("Edit cancelled, no changes made."); an empty file cancels too. If the server rejects the
change as invalid, the file is reopened with the errors at the top; saving it again unchanged gives
up, keeping a copy of your changes.`,
    )
    .action(async (args: string[], opts: EditOptions, cmd: Command) => {
      await runEdit(session(cmd), args, opts);
    });
}
