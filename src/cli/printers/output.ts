// `-o yaml|json|name` output, shaped like kubectl's.
import { Document, isScalar, visit } from 'yaml';
import type { ResourceInfo } from '../../api/resources.js';
import type { KubeObject } from '../../api/types.js';

export type OutputFormat = 'table' | 'wide' | 'yaml' | 'json' | 'name';

export const outputFormats: readonly OutputFormat[] = ['wide', 'yaml', 'json', 'name'];

export function parseOutputFormat(value: string | undefined): OutputFormat | undefined {
  if (value === undefined || value === '') return 'table';
  return (outputFormats as readonly string[]).includes(value) ? (value as OutputFormat) : undefined;
}

// Strings a YAML 1.1 reader (kubectl's go-yaml) would take for something else — booleans, nulls,
// integers (with `_`, octal, hex, binary, base 60), floats, timestamps — or that need escapes: kubectl
// writes these double-quoted. Other strings that cannot be plain get single quotes, as go-yaml does.
const yaml11Ambiguous = new RegExp(
  [
    '^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|true|True|TRUE|false|False|FALSE)$',
    '^(?:~|null|Null|NULL|)$',
    '^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)$',
    '^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\\.[0-9_]*)?$',
    '^[-+]?(?:[0-9][0-9_]*\\.[0-9_]*|\\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?$',
    '^[-+]?[0-9][0-9_]*(?:\\.[0-9_]*)?[eE][-+]?[0-9]+$',
    '^[-+]?\\.(?:inf|Inf|INF)$',
    '^\\.(?:nan|NaN|NAN)$',
    '^\\d{4}-\\d\\d?-\\d\\d?(?:(?:[Tt]|[ \\t]+)\\d\\d?:\\d\\d?:\\d\\d?(?:\\.\\d*)?(?:[ \\t]*(?:Z|[-+]\\d\\d?(?::\\d\\d)?))?)?$',
  ].join('|'),
);

// Characters go-yaml escapes (so it double-quotes the string): tabs and other control characters.
// eslint-disable-next-line no-control-regex
const needsEscapes = /[\u0000-\u0008\u000b-\u001f\u007f\t]/;

/**
 * YAML the way kubectl writes it: block style, sequences not indented under their key, no folding,
 * strings another reader would take for something else double-quoted, other unsafe strings
 * single-quoted.
 */
export function toYaml(value: unknown): string {
  const doc = new Document(sortKeys(value));
  visit(doc, {
    Scalar(_key, node) {
      if (!isScalar(node) || typeof node.value !== 'string') return;
      if (node.value.includes('\n') && !needsEscapes.test(node.value)) return;
      if (yaml11Ambiguous.test(node.value) || needsEscapes.test(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString({ indentSeq: false, lineWidth: 0, minContentWidth: 0, singleQuote: true });
}

export function toJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 4)}\n`;
}

/** Keys in alphabetical order at every level, as kubectl prints objects (apiVersion, kind, metadata, spec, status). */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
  return out;
}

/** `deployment.apps` / `pod`: how kubectl names a resource type in messages and `-o name`. */
export function typeName(info: Pick<ResourceInfo, 'singular' | 'group'>): string {
  return info.group === '' ? info.singular : `${info.singular}.${info.group}`;
}

/** `deployments.apps` / `pods`: the plural form kubectl uses in `"x" deleted` messages. */
export function pluralTypeName(info: Pick<ResourceInfo, 'resource' | 'group'>): string {
  return info.group === '' ? info.resource : `${info.resource}.${info.group}`;
}

export function nameOutput(info: Pick<ResourceInfo, 'singular' | 'group'>, obj: KubeObject): string {
  return `${typeName(info)}/${obj.metadata.name ?? ''}`;
}

/** A `kind: List` wrapping several objects, as `kubectl get -o yaml` prints for more than one. */
export function asList(items: KubeObject[]): Record<string, unknown> {
  return { apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } };
}

/** The object without `metadata.managedFields` (kubectl hides them unless --show-managed-fields). */
export function withoutManagedFields(obj: KubeObject): KubeObject {
  if (obj.metadata?.managedFields === undefined) return obj;
  const { managedFields: _hidden, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** One object as itself; anything else as a List. managedFields are left out unless asked for. */
export function formatObjects(
  format: 'yaml' | 'json',
  items: KubeObject[],
  single: boolean,
  showManagedFields = false,
): string {
  const shown = showManagedFields ? items : items.map(withoutManagedFields);
  const value = single && shown.length === 1 ? shown[0] : asList(shown);
  return format === 'yaml' ? toYaml(value) : toJson(value);
}

/** Output of verbs that report one line per object (`labeled`, `scaled`, ...) or print the objects. */
export class ResultPrinter {
  private readonly objects: KubeObject[] = [];

  constructor(
    private readonly out: { write(text: string): unknown },
    private readonly output: '' | 'name' | 'yaml' | 'json',
  ) {}

  /** Validates `-o`: empty, name, yaml or json. */
  static format(value: string | undefined): '' | 'name' | 'yaml' | 'json' | undefined {
    const v = value ?? '';
    return v === '' || v === 'name' || v === 'yaml' || v === 'json' ? v : undefined;
  }

  /** `deployment.apps/web labeled`, or the name alone with `-o name`; `-o yaml|json` collect. */
  print(name: string, message: string, obj: KubeObject): void {
    switch (this.output) {
      case '':
        this.out.write(`${name} ${message}\n`);
        return;
      case 'name':
        this.out.write(`${name}\n`);
        return;
      case 'yaml':
      case 'json':
        this.objects.push(obj);
        return;
    }
  }

  /** Writes the collected objects (one as itself, several as a List). */
  finish(): void {
    if ((this.output === 'yaml' || this.output === 'json') && this.objects.length > 0)
      this.out.write(formatObjects(this.output, this.objects, this.objects.length === 1));
  }
}

/** `-o` values a verb accepts, in kubectl's error message. */
export function badOutputFormat(value: string, allowed = 'json,name,yaml'): string {
  return `unable to match a printer suitable for the output format "${value}", allowed formats are: ${allowed}`;
}

/** The type name of an object by its own apiVersion/kind (`scale.autoscaling` for a Scale). */
export function typeNameOfObject(obj: Pick<KubeObject, 'apiVersion' | 'kind'>): string {
  const slash = obj.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : obj.apiVersion.slice(0, slash);
  return typeName({ singular: obj.kind.toLowerCase(), group });
}
