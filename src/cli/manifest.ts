// Reading manifests for `apply -f` / `delete -f`: files, directories (optionally recursive) and stdin;
// multi-document YAML, JSON and `kind: List`. Every document is checked before anything is sent, and
// each problem names the file, the document and the field.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { findByKind, resources, splitApiVersion, type ResourceInfo } from '../api/resources.js';
import { isObject, type KubeObject } from '../api/types.js';

export interface ManifestObject {
  /** The file as the user named it (`STDIN` for `-`). */
  source: string;
  /** 1-based position of the document in the file. */
  document: number;
  /** Position in a List's `items`, when the object came from one. */
  item?: number;
  object: KubeObject;
  info: ResourceInfo;
}

export interface ManifestProblem {
  source: string;
  /** 1-based document; 0 when the problem concerns the whole file. */
  document: number;
  item?: number;
  message: string;
}

export interface ManifestSet {
  objects: ManifestObject[];
  problems: ManifestProblem[];
}

/** `app.yaml: document 2: missing "kind"` (without the `error: ` prefix). */
export function formatProblem(p: ManifestProblem): string {
  const where = p.document === 0 ? '' : ` document ${p.document}:`;
  const item = p.item === undefined ? '' : ` items[${p.item}]:`;
  return `${p.source}:${where}${item} ${p.message}`;
}

const manifestExtensions = new Set(['.yaml', '.yml', '.json']);

function kindHint(apiVersion: string, kind: string): string {
  const same = resources.filter((r) => r.kind.toLowerCase() === kind.toLowerCase());
  if (same.length === 0) return '';
  const { group } = splitApiVersion(apiVersion);
  const versions = same.map((r) =>
    r.group === '' ? `${r.version} ${r.kind}` : `${r.group}/${r.version} ${r.kind}`,
  );
  if (same.some((r) => r.kind === kind && r.group === group))
    return ` (this server serves ${versions.join(', ')})`;
  return ` (did you mean ${versions.join(' or ')}?)`;
}

function checkStringMap(meta: Record<string, unknown>, field: 'labels' | 'annotations', out: string[]): void {
  const value = meta[field];
  if (value === undefined || value === null) return;
  if (!isObject(value)) {
    out.push(`"metadata.${field}" must be a mapping of strings`);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      out.push(
        `"metadata.${field}.${k}" must be a string, got ${v === null ? 'null' : typeof v} (quote the value)`,
      );
    }
  }
}

/** Problems of one object (empty when it can be sent). */
export function checkObject(value: unknown): { problems: string[]; info?: ResourceInfo } {
  if (!isObject(value)) {
    return {
      problems: [
        `expected a mapping with apiVersion, kind and metadata, got ${Array.isArray(value) ? 'a list' : typeof value}`,
      ],
    };
  }
  const problems: string[] = [];
  const apiVersion = value['apiVersion'];
  const kind = value['kind'];
  if (apiVersion === undefined || apiVersion === null || apiVersion === '')
    problems.push('missing "apiVersion"');
  else if (typeof apiVersion !== 'string') problems.push('"apiVersion" must be a string');
  if (kind === undefined || kind === null || kind === '') problems.push('missing "kind"');
  else if (typeof kind !== 'string') problems.push('"kind" must be a string');
  const meta = value['metadata'];
  if (meta === undefined || meta === null) {
    problems.push('missing "metadata.name"');
  } else if (!isObject(meta)) {
    problems.push('"metadata" must be a mapping');
  } else {
    const name = meta['name'];
    if (name === undefined || name === null || name === '') problems.push('missing "metadata.name"');
    else if (typeof name !== 'string') problems.push('"metadata.name" must be a string');
    const ns = meta['namespace'];
    if (ns !== undefined && ns !== null && typeof ns !== 'string')
      problems.push('"metadata.namespace" must be a string');
    checkStringMap(meta, 'labels', problems);
    checkStringMap(meta, 'annotations', problems);
  }
  let info: ResourceInfo | undefined;
  if (typeof apiVersion === 'string' && apiVersion !== '' && typeof kind === 'string' && kind !== '') {
    info = findByKind(apiVersion, kind);
    if (info === undefined)
      problems.push(`no resource type for ${apiVersion} ${kind}${kindHint(apiVersion, kind)}`);
  }
  return info === undefined ? { problems } : { problems, info };
}

function isList(value: unknown): value is Record<string, unknown> & { items: unknown } {
  return (
    isObject(value) &&
    typeof value['kind'] === 'string' &&
    value['kind'].endsWith('List') &&
    'items' in value &&
    findByKind(typeof value['apiVersion'] === 'string' ? value['apiVersion'] : '', value['kind']) ===
      undefined
  );
}

function addValue(set: ManifestSet, source: string, document: number, value: unknown): void {
  if (value === null || value === undefined) return; // empty document
  if (isList(value)) {
    const items = value.items;
    if (items === null || items === undefined) return;
    if (!Array.isArray(items)) {
      set.problems.push({ source, document, message: '"items" of a List must be a list' });
      return;
    }
    items.forEach((item: unknown, i) => {
      const { problems, info } = checkObject(item);
      for (const message of problems) set.problems.push({ source, document, item: i, message });
      if (problems.length === 0 && info !== undefined) {
        set.objects.push({ source, document, item: i, object: item as KubeObject, info });
      }
    });
    return;
  }
  const { problems, info } = checkObject(value);
  for (const message of problems) set.problems.push({ source, document, message });
  if (problems.length === 0 && info !== undefined)
    set.objects.push({ source, document, object: value as KubeObject, info });
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).trim();
}

/** Parse one file's text: JSON when it looks like JSON (or is `.json`), multi-document YAML otherwise. */
export function parseManifestText(
  source: string,
  text: string,
  set: ManifestSet = { objects: [], problems: [] },
): ManifestSet {
  const isJsonFile = extname(source).toLowerCase() === '.json';
  const trimmed = text.trimStart();
  if (isJsonFile || trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      addValue(set, source, 1, JSON.parse(text));
      return set;
    } catch (err) {
      if (isJsonFile) {
        set.problems.push({
          source,
          document: 1,
          message: `invalid JSON: ${err instanceof Error ? err.message : String(err)}`,
        });
        return set;
      }
      // Not JSON after all: a YAML flow mapping, perhaps.
    }
  }
  const docs = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(docs)) return set; // an empty stream
  docs.forEach((doc, i) => {
    const document = i + 1;
    if (doc.errors.length > 0) {
      for (const e of doc.errors)
        set.problems.push({ source, document, message: `invalid YAML: ${firstLine(e.message)}` });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      set.problems.push({
        source,
        document,
        message: `invalid YAML: ${err instanceof Error ? firstLine(err.message) : String(err)}`,
      });
      return;
    }
    addValue(set, source, document, value);
  });
  return set;
}

async function expand(
  path: string,
  display: string,
  recursive: boolean,
  top: boolean,
  out: [string, string][],
): Promise<void> {
  const st = await stat(path);
  if (!st.isDirectory()) {
    out.push([path, display]);
    return;
  }
  if (!top && !recursive) return;
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const e of entries) {
    const full = join(path, e.name);
    const shown = join(display, e.name);
    if (e.isDirectory()) {
      if (recursive) await expand(full, shown, recursive, false, out);
    } else if (manifestExtensions.has(extname(e.name).toLowerCase())) {
      out.push([full, shown]);
    }
  }
}

export interface LoadOptions {
  recursive?: boolean;
  cwd?: string;
  readStdin?: () => Promise<string>;
}

/** Read and check every manifest named by `-f` flags (`-` is stdin). Nothing is sent to a server. */
export async function loadManifests(paths: string[], opts: LoadOptions = {}): Promise<ManifestSet> {
  const set: ManifestSet = { objects: [], problems: [] };
  const cwd = opts.cwd ?? process.cwd();
  let stdinRead = false;
  for (const p of paths) {
    if (p === '-') {
      if (stdinRead) continue;
      stdinRead = true;
      const text = opts.readStdin === undefined ? '' : await opts.readStdin();
      parseManifestText('STDIN', text, set);
      continue;
    }
    if (/^https?:\/\//.test(p)) {
      set.problems.push({
        source: p,
        document: 0,
        message: 'reading manifests from URLs is not supported; download the file first',
      });
      continue;
    }
    const files: [string, string][] = [];
    try {
      await expand(resolve(cwd, p), p, opts.recursive === true, true, files);
    } catch (err) {
      const code = isObject(err) ? err['code'] : undefined;
      set.problems.push({
        source: p,
        document: 0,
        message:
          code === 'ENOENT' ? 'no such file or directory' : err instanceof Error ? err.message : String(err),
      });
      continue;
    }
    for (const [full, shown] of files) {
      let text: string;
      try {
        text = await readFile(full, 'utf8');
      } catch (err) {
        set.problems.push({
          source: shown,
          document: 0,
          message: err instanceof Error ? err.message : String(err),
        });
        continue;
      }
      parseManifestText(shown, text, set);
    }
  }
  return set;
}
