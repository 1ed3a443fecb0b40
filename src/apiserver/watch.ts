// Watch streaming: newline-delimited JSON events, replay from a resourceVersion, initial events, bookmarks.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errors } from '../api/errors.js';
import { apiVersionOf, storePrefix } from '../api/resources.js';
import type { KubeObject, WatchEventType } from '../api/types.js';
import { isStoreError, type Store, type StoreEvent, type Watcher } from '../store/store.js';

/** Where watches come from: the store itself, or the API server's WatchHub in front of it. */
export type WatchSource = Pick<Store, 'watch'>;
import { wireJson } from './codec.js';
import type { ObjectFilter } from './registry/filter.js';
import { compileSelectors } from './registry/filter.js';
import type { ResourceRegistry } from './registry/rest.js';
import { objectTable, type TableOptions } from './table.js';

export interface WatchParams {
  namespace: string | undefined;
  resourceVersion: string | undefined;
  labelSelector: string | undefined;
  fieldSelector: string | undefined;
  allowWatchBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds: number | undefined;
  /** Send each event's object as a one-row Table (`get -w`); column definitions on the first only. */
  table?: TableOptions | undefined;
  /** Clock for table cells (AGE); epoch milliseconds. */
  now?: () => number;
}

/** Bookmarks go out this often on an otherwise idle watch. */
export const bookmarkIntervalMs = 30_000;
/** A client that stops reading is disconnected once this much is buffered for it. */
const maxBufferedBytes = 32 * 1024 * 1024;

function eventLine(type: WatchEventType, objectJson: string): string {
  return `{"type":"${type}","object":${objectJson}}\n`;
}

/** Translate one store event into the watch event a client with `filter` sees, or undefined. */
export function toWatchEvent(
  ev: StoreEvent,
  filter: ObjectFilter | undefined,
): { type: WatchEventType; json: string } | undefined {
  if (ev.type === 'delete') {
    if (filter !== undefined && !filter(JSON.parse(ev.value) as KubeObject)) return undefined;
    return { type: 'DELETED', json: wireJson(ev.value, ev.revision) };
  }
  const created = ev.prevValue === undefined || ev.createRevision === ev.revision;
  if (filter === undefined)
    return { type: created ? 'ADDED' : 'MODIFIED', json: wireJson(ev.value, ev.revision) };
  const nowMatches = filter(JSON.parse(ev.value) as KubeObject);
  const wasMatching =
    !created && ev.prevValue !== undefined && filter(JSON.parse(ev.prevValue) as KubeObject);
  if (nowMatches) return { type: wasMatching ? 'MODIFIED' : 'ADDED', json: wireJson(ev.value, ev.revision) };
  if (wasMatching) return { type: 'DELETED', json: wireJson(ev.value, ev.revision) };
  return undefined;
}

export async function serveWatch(
  req: IncomingMessage,
  res: ServerResponse,
  store: WatchSource,
  registry: ResourceRegistry,
  params: WatchParams,
): Promise<void> {
  const info = registry.info;
  const filter = compileSelectors(info, params.labelSelector, params.fieldSelector);
  const rvText = params.resourceVersion ?? '';
  if (rvText !== '' && !/^\d+$/.test(rvText)) {
    throw errors.badRequest(
      `invalid resourceVersion ${JSON.stringify(rvText)}: must be a decimal resourceVersion from a list or object`,
    );
  }
  if (params.sendInitialEvents && !params.allowWatchBookmarks) {
    throw errors.invalid('ListOptions', 'meta.k8s.io', '', [
      {
        reason: 'FieldValueForbidden',
        field: 'allowWatchBookmarks',
        message: 'Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true',
      },
    ]);
  }
  const initial: { type: WatchEventType; json: string }[] = [];
  let afterRevision: number;
  const fromState = params.sendInitialEvents || rvText === '' || rvText === '0';
  if (fromState) {
    const listed = await registry.list({
      namespace: params.namespace,
      labelSelector: params.labelSelector,
      fieldSelector: params.fieldSelector,
    });
    afterRevision = listed.revision;
    for (const item of listed.items) initial.push({ type: 'ADDED', json: item });
  } else {
    afterRevision = Number(rvText);
  }

  const prefix = storePrefix(info, info.namespaced ? params.namespace : undefined);
  const apiVersion = apiVersionOf(info);
  let lastRevision = afterRevision;
  let closed = false;
  let watcher: Watcher | undefined;
  const timers: NodeJS.Timeout[] = [];

  const finish = (): void => {
    if (closed) return;
    closed = true;
    watcher?.close();
    for (const t of timers) clearTimeout(t);
    if (!res.writableEnded) res.end();
  };

  const write = (chunk: string): void => {
    if (closed) return;
    res.write(chunk);
    if (res.writableLength > maxBufferedBytes) finish();
  };

  // With a Table Accept every object (bookmarks too, as upstream converts them) becomes a one-row Table.
  const table = params.table;
  const now = params.now ?? Date.now;
  let columnsSent = false;
  const line = (type: WatchEventType, json: string): string => {
    if (table === undefined) return eventLine(type, json);
    const t = objectTable(info, [JSON.parse(json) as KubeObject], table, now(), {}, !columnsSent);
    columnsSent = true;
    return eventLine(type, JSON.stringify(t));
  };

  const bookmark = (initialEnd: boolean): string =>
    line(
      'BOOKMARK',
      JSON.stringify({
        kind: info.kind,
        apiVersion,
        metadata: {
          resourceVersion: String(lastRevision),
          ...(initialEnd ? { annotations: { 'k8s.io/initial-events-end': 'true' } } : {}),
        },
      }),
    );

  // Buffer live events until the headers and initial events are out.
  const pending: { type: WatchEventType; json: string }[] = [];
  let started = false;
  try {
    watcher = await store.watch({
      prefix,
      afterRevision,
      onEvents: (events) => {
        // One write per delivered batch: a TLS record per event costs more than the event itself.
        let batch = '';
        for (const ev of events) {
          lastRevision = ev.revision;
          const out = toWatchEvent(ev, filter);
          if (out === undefined) continue;
          if (started) batch += line(out.type, out.json);
          else pending.push(out);
        }
        if (batch !== '') write(batch);
      },
      onError: (err) => {
        if (!started) return;
        if (err.code === 'Compacted') {
          write(
            eventLine(
              'ERROR',
              JSON.stringify(errors.expired(`too old resource version: ${err.message}`).toStatus()),
            ),
          );
        }
        finish();
      },
    });
  } catch (err) {
    if (isStoreError(err) && err.code === 'Compacted') {
      throw errors.expired(`too old resource version: ${afterRevision} (${err.message})`);
    }
    if (isStoreError(err) && err.code === 'FutureRevision') {
      throw new ApiError(
        'Timeout',
        `Too large resource version: ${afterRevision}, current: ${err.revision ?? '?'}`,
        {
          retryAfterSeconds: 1,
        },
      );
    }
    throw err;
  }

  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Transfer-Encoding': 'chunked',
  });
  res.flushHeaders();
  started = true;
  req.on('close', finish);
  res.on('error', finish);

  for (const ev of initial) write(line(ev.type, ev.json));
  if (params.sendInitialEvents) write(bookmark(true));
  for (const ev of pending) write(line(ev.type, ev.json));
  pending.length = 0;

  if (params.allowWatchBookmarks) {
    const tick = (): void => {
      if (closed) return;
      write(bookmark(false));
      timers.push(setTimeout(tick, bookmarkIntervalMs).unref());
    };
    timers.push(setTimeout(tick, bookmarkIntervalMs).unref());
  }
  // Without timeoutSeconds the server ends a watch after 30–60 minutes, like kube-apiserver; clients re-watch.
  const timeoutMs =
    params.timeoutSeconds !== undefined && params.timeoutSeconds > 0
      ? params.timeoutSeconds * 1000
      : (1800 + Math.floor(Math.random() * 1800)) * 1000;
  timers.push(setTimeout(finish, timeoutMs).unref());
}
