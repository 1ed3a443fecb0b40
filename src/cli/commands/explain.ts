// `flotilla explain KIND[.field.path]`: the fields of a kind, from the schemas the API server validates
// requests with (src/api/schema, compiled into the client: works offline), laid out like kubectl's
// OpenAPI v3 `explain` (GROUP/KIND/VERSION, FIELD, DESCRIPTION, FIELDS with types and -required-).
import type { Command } from 'commander';
import { apiVersionOf, findByAlias, type ResourceInfo } from '../../api/resources.js';
import { schemaFor, type Schema } from '../../api/schema/index.js';
import { failed, usageError } from '../io.js';
import type { Session } from '../session.js';

export interface ExplainOptions {
  recursive?: boolean;
  apiVersion?: string;
  output?: string;
}

/** kubectl's "typeGuess": `string`, `integer`, `Object`, `[]Object`, `map[string]string`, ... */
export function typeGuess(s: Schema): string {
  switch (s.type) {
    case 'array':
      return `[]${typeGuess(s.items)}`;
    case 'map':
      return `map[string]${typeGuess(s.values)}`;
    case 'object':
    case 'any':
      return 'Object';
    case 'string':
    case 'enum':
    case 'date-time':
      return 'string';
    case 'integer':
      return 'integer';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'int-or-string':
      return 'IntOrString';
    case 'quantity':
      return 'Quantity';
  }
}

/** Word-wrap each paragraph of `text` at `width` columns (long words stay whole). */
export function wrap(width: number, text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const words = line.split(' ').filter((w) => w !== '');
      const out: string[] = [];
      let cur = '';
      for (const w of words) {
        if (cur === '') cur = w;
        else if (cur.length + 1 + w.length <= width) cur += ` ${w}`;
        else {
          out.push(cur);
          cur = w;
        }
      }
      out.push(cur);
      return out.join('\n');
    })
    .join('\n');
}

function indent(n: number, text: string): string {
  const pad = ' '.repeat(n);
  return pad + text.replace(/\n/g, `\n${pad}`);
}

/** The description block of a schema: its own description, then its items' or values'. */
function description(s: Schema): string {
  let out = s.description !== undefined && s.description !== '' ? `${s.description}\n` : '';
  if (s.type === 'array') out += description(s.items);
  if (s.type === 'map') out += description(s.values);
  return out;
}

function enumValues(s: Schema): readonly string[] {
  return s.type === 'enum' ? s.values : [];
}

function enumShort(s: Schema, indentAmount: number): string {
  const values = enumValues(s);
  if (values.length === 0) return '';
  const shown = values.slice(0, 4).map((v) => (v === '' ? '""' : v));
  return `\n${' '.repeat(indentAmount)}enum: ${shown.join(', ')}${values.length > 4 ? ', ....' : ''}`;
}

function enumLong(s: Schema): string {
  const values = enumValues(s);
  if (values.length === 0) return '';
  return `ENUM:${values.map((v) => `\n    ${v === '' ? '""' : v}`).join('')}`;
}

function fieldList(s: Schema, level: number, recursive: boolean, seen: Set<Schema>): string {
  if (seen.has(s)) return '';
  const next = new Set(seen).add(s);
  let out = '';
  if (s.type === 'object') {
    for (const name of Object.keys(s.properties).sort()) {
      const field = s.properties[name] as Schema;
      const amount = level * 2;
      out += `${indent(amount, name)}\t<${typeGuess(field)}>`;
      if ((s.required ?? []).includes(name)) out += ' -required-';
      out += `${enumShort(field, amount)}\n`;
      if (!recursive) {
        const text = field.description ?? '';
        out += `${indent(amount + 2, wrap(78 - amount, text === '' ? '<no description>' : text))}\n\n`;
      } else {
        out += fieldList(field, level + 1, recursive, next);
      }
    }
  }
  if (s.type === 'array') out += fieldList(s.items, level, recursive, next);
  if (s.type === 'map') out += fieldList(s.values, level, recursive, next);
  return out;
}

/** The resource a dotted argument starts with, and the field path after it. */
export function splitExplainArgument(arg: string): { info: ResourceInfo; path: string[] } {
  const parts = arg.split('.').filter((p) => p !== '');
  for (let i = parts.length; i >= 1; i--) {
    const info = findByAlias(parts.slice(0, i).join('.'));
    if (info !== undefined && (i === 1 || info.group === parts.slice(1, i).join('.'))) {
      return { info, path: parts.slice(i) };
    }
  }
  throw failed(`the server doesn't have a resource type "${parts[0] ?? arg}"`);
}

/** The whole `explain` text for a resource and a field path. */
export function explainText(info: ResourceInfo, path: string[], recursive: boolean): string {
  const apiVersion = apiVersionOf(info);
  const root = schemaFor(apiVersion, info.kind);
  if (root === undefined) throw failed(`no schema for ${apiVersion}, Kind=${info.kind}`);
  let out = '';
  if (info.group !== '') out += `GROUP:      ${info.group}\n`;
  out += `KIND:       ${info.kind}\nVERSION:    ${info.version}\n\n`;
  let s: Schema = root;
  for (let i = 0; i < path.length; i++) {
    const name = path[i] ?? '';
    // Arrays and maps are looked through to their items / values.
    while (s.type === 'array' || s.type === 'map') s = s.type === 'array' ? s.items : s.values;
    const child: Schema | undefined = s.type === 'object' ? s.properties[name] : undefined;
    if (child === undefined) throw failed(`field "${name}" does not exist`);
    s = child;
    if (i === path.length - 1) out += `FIELD: ${name} <${typeGuess(s)}>\n${enumLong(s)}\n\n`;
  }
  const desc = description(s);
  out += `DESCRIPTION:\n${indent(4, wrap(76, desc === '' ? '<empty>' : desc))}\n`;
  const fields = fieldList(s, 1, recursive, new Set());
  if (fields !== '') out += `FIELDS:\n${fields}`;
  return `${out}\n`;
}

export async function runExplain(session: Session, args: string[], opts: ExplainOptions): Promise<void> {
  const io = session.io;
  const output = opts.output ?? 'plaintext';
  if (output !== 'plaintext') throw usageError(`unsupported output format "${output}": use plaintext`);
  const arg = args[0];
  if (arg === undefined || arg === '')
    throw usageError('you must specify the type of resource to explain, e.g. "flotilla explain pods"');
  if (args.length > 1) throw usageError('we accept only this format: explain RESOURCE[.FIELD...]');
  const { info, path } = splitExplainArgument(arg);
  if (opts.apiVersion !== undefined && opts.apiVersion !== apiVersionOf(info)) {
    throw failed(
      `couldn't find resource for "${opts.apiVersion}, Resource=${info.resource}" (this server serves ${apiVersionOf(info)})`,
    );
  }
  io.stdout.write(explainText(info, path, opts.recursive === true));
}

export function registerExplain(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('explain')
    .description('Describe the fields of a resource type, or of one field (RESOURCE.field.field)')
    .argument('<resource>', 'RESOURCE or RESOURCE.field.path, e.g. deployment.spec.strategy')
    .option('--recursive', 'list every field below, without descriptions')
    .option(
      '--api-version <group/version>',
      'the API version of the resource (checked against the served one)',
    )
    .option('-o, --output <format>', 'plaintext (the only format)', 'plaintext')
    .addHelpText(
      'after',
      `
Examples:
  flotilla explain pods
  flotilla explain deployment.spec.strategy
  flotilla explain deploy.spec.template.spec.containers --recursive
  flotilla explain hpa --api-version=autoscaling/v2

The schemas are the ones the API server validates requests with, built into this binary, so explain
works without a server. Field types are printed as kubectl prints them (string, integer, boolean,
Object, []Object, map[string]string, IntOrString, Quantity); required fields are marked -required-.`,
    )
    .action(async (resource: string, opts: ExplainOptions, cmd: Command) => {
      await runExplain(session(cmd), [resource], opts);
    });
}
