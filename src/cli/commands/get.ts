// `flotilla get`: tables like kubectl's, or yaml/json/name; `-w` keeps printing changes.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { ApiClient } from '../../api/client/client.js';
import type { ApiError } from '../../api/errors.js';
import type { ResourceInfo } from '../../api/resources.js';
import type { KubeList, KubeObject, WatchEvent } from '../../api/types.js';
import { alreadyReported, failed, usageError, type CliIO } from '../io.js';
import { tablePrinterFor } from '../../api/table/columns.js';
import { executeTemplate, parseTemplate } from '../jsonpath.js';
import {
  asList,
  formatObjects,
  withoutManagedFields,
  nameOutput,
  parseOutputFormat,
  toJson,
  toYaml,
  typeName,
  type OutputFormat,
} from '../printers/output.js';
import { headerOf, rowOf, StreamingTable, type TableOptions } from '../printers/table.js';
import { isPerObjectError, parseResourceArgs, printError, type ResourceRequest } from '../resource-args.js';
import type { Session } from '../session.js';

export interface GetOptions {
  output?: string;
  watch?: boolean;
  selector?: string;
  fieldSelector?: string;
  allNamespaces?: boolean;
  showLabels?: boolean;
  headers?: boolean;
  chunkSize?: number;
  showManagedFields?: boolean;
}

interface Fetched {
  info: ResourceInfo;
  items: KubeObject[];
  resourceVersion: string;
}

/** Every page of a list (`limit` + `continue`). */
export async function listAll(
  client: ApiClient,
  info: ResourceInfo,
  namespace: string | undefined,
  opts: {
    labelSelector?: string | undefined;
    fieldSelector?: string | undefined;
    chunkSize?: number | undefined;
  },
): Promise<KubeList> {
  const items: KubeObject[] = [];
  let cont: string | undefined;
  let list: KubeList;
  do {
    list = await client.list(info, namespace, {
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      limit: opts.chunkSize ?? 500,
      continue: cont,
    });
    items.push(...list.items);
    cont =
      list.metadata.continue !== undefined && list.metadata.continue !== ''
        ? list.metadata.continue
        : undefined;
  } while (cont !== undefined);
  return { ...list, items, metadata: { resourceVersion: list.metadata.resourceVersion } };
}

function tableOptions(
  opts: GetOptions,
  format: OutputFormat,
  info: ResourceInfo,
  multi: boolean,
): TableOptions {
  const t: TableOptions = { wide: format === 'wide' };
  if (opts.allNamespaces === true && info.namespaced) t.withNamespace = true;
  if (opts.showLabels === true) t.showLabels = true;
  if (multi) t.namePrefix = `${typeName(info)}/`;
  return t;
}

function noResourcesMessage(requests: ResourceRequest[], namespace: string, all: boolean): string {
  if (all || requests.every((r) => !r.info.namespaced)) return 'No resources found';
  return `No resources found in ${namespace} namespace.`;
}

/** `-o jsonpath=TEMPLATE` or `-o jsonpath-file=FILE`: the template, else undefined. */
async function jsonPathTemplate(io: CliIO, output: string | undefined): Promise<string | undefined> {
  if (output === undefined) return undefined;
  if (output.startsWith('jsonpath=')) return output.slice('jsonpath='.length);
  if (output.startsWith('jsonpath-file=')) {
    const file = output.slice('jsonpath-file='.length);
    try {
      return await readFile(resolve(io.cwd, file), 'utf8');
    } catch (err) {
      throw failed(`error reading ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return undefined;
}

export async function runGet(session: Session, args: string[], opts: GetOptions): Promise<void> {
  const io = session.io;
  const template = await jsonPathTemplate(io, opts.output);
  if (template !== undefined) {
    try {
      parseTemplate(template);
    } catch (err) {
      throw usageError(
        `error parsing jsonpath ${template}, ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  const format = template !== undefined ? 'json' : parseOutputFormat(opts.output);
  if (format === undefined) {
    throw usageError(
      `unable to match a printer suitable for the output format "${opts.output ?? ''}", allowed formats are: json,jsonpath,jsonpath-file,name,wide,yaml`,
    );
  }
  const requests = parseResourceArgs(args, 'get');
  const all = opts.allNamespaces === true;
  if (all && requests.some((r) => r.names.length > 0)) {
    throw usageError('a resource cannot be retrieved by name across all namespaces');
  }
  if (opts.watch === true && (requests.length !== 1 || (requests[0]?.names.length ?? 0) > 1)) {
    throw usageError('you may only specify a single resource type (and at most one name) with --watch');
  }
  const namespace = await session.namespace();
  const client = await session.client();

  const fetched: Fetched[] = [];
  let failures = 0;
  for (const req of requests) {
    const ns = req.info.namespaced ? (all ? undefined : namespace) : undefined;
    if (req.names.length === 0) {
      const list = await listAll(client, req.info, ns, {
        labelSelector: opts.selector,
        fieldSelector: opts.fieldSelector,
        chunkSize: opts.chunkSize,
      });
      fetched.push({ info: req.info, items: list.items, resourceVersion: list.metadata.resourceVersion });
      continue;
    }
    const items: KubeObject[] = [];
    for (const name of req.names) {
      try {
        items.push(await client.get(req.info, ns, name));
      } catch (err) {
        if (!isPerObjectError(err)) throw err;
        failures++;
        printError(io.stderr, err);
      }
    }
    fetched.push({ info: req.info, items, resourceVersion: items[0]?.metadata.resourceVersion ?? '' });
  }

  const total = fetched.reduce((n, f) => n + f.items.length, 0);
  const multi = fetched.length > 1;
  const now = io.now();
  let table: StreamingTable | undefined;

  const single = requests.length === 1 && requests[0]?.names.length === 1;
  if (template !== undefined) {
    // Like kubectl: the template runs on the object, or on a List of them.
    const items = fetched
      .flatMap((f) => f.items)
      .map((o) => (opts.showManagedFields === true ? o : withoutManagedFields(o)));
    if (total > 0 || !single) io.stdout.write(executeTemplate(template, single ? items[0] : asList(items)));
  } else
    switch (format) {
      case 'yaml':
      case 'json': {
        if (total > 0 || !single)
          io.stdout.write(
            formatObjects(
              format,
              fetched.flatMap((f) => f.items),
              single,
              opts.showManagedFields === true,
            ),
          );
        break;
      }
      case 'name':
        for (const f of fetched) for (const obj of f.items) io.stdout.write(`${nameOutput(f.info, obj)}\n`);
        break;
      case 'table':
      case 'wide': {
        let first = true;
        for (const f of fetched) {
          if (f.items.length === 0) continue;
          const printer = tablePrinterFor(f.info.group, f.info.kind);
          const topts = tableOptions(opts, format, f.info, multi);
          const rows = f.items.map((o) => rowOf(printer, o, now, topts));
          if (opts.headers !== false) rows.unshift(headerOf(printer, topts));
          if (!first) io.stdout.write('\n');
          first = false;
          table = new StreamingTable();
          io.stdout.write(table.start(rows));
        }
        break;
      }
    }
  if (total === 0 && failures === 0 && format !== 'yaml' && format !== 'json' && opts.watch !== true) {
    io.stderr.write(`${noResourcesMessage(requests, namespace, all)}\n`);
  }
  if (failures > 0) throw alreadyReported();

  if (opts.watch === true) {
    const req = requests[0];
    const f = fetched[0];
    if (req === undefined || f === undefined) return;
    const ns = req.info.namespaced ? (all ? undefined : namespace) : undefined;
    await watchAndPrint(io, client, req, ns, f.resourceVersion, opts, format, table, template);
  }
}

async function watchAndPrint(
  io: CliIO,
  client: ApiClient,
  req: ResourceRequest,
  namespace: string | undefined,
  resourceVersion: string,
  opts: GetOptions,
  format: OutputFormat,
  existing: StreamingTable | undefined,
  template: string | undefined,
): Promise<void> {
  const info = req.info;
  const printer = tablePrinterFor(info.group, info.kind);
  const topts = tableOptions(opts, format, info, false);
  let table = existing;
  const name = req.names[0];
  const fieldSelector = [opts.fieldSelector, name === undefined ? undefined : `metadata.name=${name}`]
    .filter((s): s is string => s !== undefined && s !== '')
    .join(',');

  const print = (watched: KubeObject): void => {
    const obj = opts.showManagedFields === true ? watched : withoutManagedFields(watched);
    if (template !== undefined) {
      io.stdout.write(executeTemplate(template, obj));
      return;
    }
    switch (format) {
      case 'yaml':
        io.stdout.write(`---\n${toYaml(obj)}`);
        return;
      case 'json':
        io.stdout.write(toJson(obj));
        return;
      case 'name':
        io.stdout.write(`${nameOutput(info, obj)}\n`);
        return;
      case 'table':
      case 'wide': {
        if (table === undefined) {
          table = new StreamingTable();
          const row = rowOf(printer, obj, io.now(), topts);
          io.stdout.write(table.start(opts.headers === false ? [row] : [headerOf(printer, topts), row]));
          return;
        }
        io.stdout.write(table.row(rowOf(printer, obj, io.now(), topts)));
        return;
      }
    }
  };

  let rv = resourceVersion;
  for (;;) {
    if (io.signal.aborted) return;
    const outcome = await new Promise<
      { kind: 'closed' } | { kind: 'error'; err: ApiError } | { kind: 'aborted' }
    >((resolve, reject) => {
      let handle: { close(): void } | undefined;
      const onAbort = (): void => {
        handle?.close();
        resolve({ kind: 'aborted' });
      };
      io.signal.addEventListener('abort', onAbort, { once: true });
      const finish = (v: { kind: 'closed' } | { kind: 'error'; err: ApiError }): void => {
        io.signal.removeEventListener('abort', onAbort);
        resolve(v);
      };
      client
        .watch(
          info,
          namespace,
          { resourceVersion: rv, labelSelector: opts.selector, fieldSelector, allowWatchBookmarks: true },
          (ev: WatchEvent) => {
            const evRv = ev.object.metadata.resourceVersion;
            if (evRv !== undefined && evRv !== '') rv = evRv;
            if (ev.type !== 'BOOKMARK') print(ev.object);
          },
          (err) => finish({ kind: 'error', err }),
          () => finish({ kind: 'closed' }),
        )
        .then(
          (h) => {
            handle = h;
            if (io.signal.aborted) h.close();
          },
          (err: unknown) => {
            io.signal.removeEventListener('abort', onAbort);
            reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
    });
    if (outcome.kind === 'aborted') return;
    if (outcome.kind === 'error') throw outcome.err;
    // The server ended the watch (its timeout): carry on from the last resourceVersion seen.
  }
}

export function registerGet(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('get')
    .description('Display one or many resources')
    .argument('[resources...]', 'TYPE[,TYPE...] [NAME...] or TYPE/NAME...')
    .option('-o, --output <format>', "wide, yaml, json, name, jsonpath='{TEMPLATE}' or jsonpath-file=FILE")
    .option('--show-managed-fields', 'keep metadata.managedFields in yaml and json output')
    .option('-w, --watch', 'after listing, keep printing objects as they change')
    .option('-l, --selector <selector>', 'label selector, e.g. app=web,tier!=db')
    .option('--field-selector <selector>', 'field selector, e.g. status.phase=Running')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('--show-labels', 'add a LABELS column')
    .option('--no-headers', 'omit the header row')
    .option('--chunk-size <n>', 'list in pages of this many objects', (v) => Number.parseInt(v, 10), 500)
    .addHelpText(
      'after',
      `
Examples:
  flotilla get pods
  flotilla get deploy web -o yaml
  flotilla get pods -l app=web -o wide
  flotilla get svc,deploy -A
  flotilla get pod/web-7c5d-x2x9q node/n1
  flotilla get pods -w
  flotilla get deploy web -o jsonpath='{.status.readyReplicas}'
  flotilla get pods -o jsonpath='{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}'`,
    )
    .action(async (args: string[], opts: GetOptions, cmd: Command) => {
      if (opts.chunkSize !== undefined && (!Number.isInteger(opts.chunkSize) || opts.chunkSize < 0)) {
        throw usageError('--chunk-size must be a non-negative integer');
      }
      await runGet(session(cmd), args, opts);
    });
}
