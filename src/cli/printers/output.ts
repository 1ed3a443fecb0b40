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

// Strings a YAML 1.1 reader (kubectl's) would take for something else: booleans and timestamps.
const yaml11Ambiguous =
  /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|\d{4}-\d\d?-\d\d?(?:(?:[Tt]|[ \t]+)\d\d?:\d\d:\d\d(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d\d?(?::\d\d)?))?)?)$/;

/**
 * YAML the way kubectl writes it: block style, sequences not indented under their key, no folding,
 * and strings that YAML 1.1 would read as booleans or timestamps quoted.
 */
export function toYaml(value: unknown): string {
  const doc = new Document(sortKeys(value));
  visit(doc, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === 'string' && yaml11Ambiguous.test(node.value))
        node.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString({ indentSeq: false, lineWidth: 0, minContentWidth: 0 });
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

/** One object as itself; anything else as a List. */
export function formatObjects(format: 'yaml' | 'json', items: KubeObject[], single: boolean): string {
  const value = single && items.length === 1 ? items[0] : asList(items);
  return format === 'yaml' ? toYaml(value) : toJson(value);
}
