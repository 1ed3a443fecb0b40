// The priority classes, kept in memory for pod admission (as kube-apiserver's Priority plugin keeps an
// informer), so a pod create costs no store read. Writes through this server update it as they commit
// (read-your-writes); writes through another server arrive by the store watch. A named class the cache
// does not know is looked up in the store, and while the watch is broken every lookup goes to the store.
import { findByResource, storePrefix } from '../api/resources.js';
import type { KubeObject } from '../api/types.js';
import type { Store, Watcher } from '../store/store.js';
import { priorityClassView, type PriorityClassView } from './admission.js';

export class PriorityClassCache {
  /** By name, with the revision of the write each came from (watch events never move a class back). */
  private readonly classes = new Map<string, { view: PriorityClassView | undefined; revision: number }>();
  private watcher: Watcher | undefined;
  private healthy = false;

  async start(store: Store): Promise<void> {
    const info = findByResource('scheduling.k8s.io', 'v1', 'priorityclasses');
    if (info === undefined) return;
    const prefix = storePrefix(info, undefined);
    const listed = await store.list({ prefix });
    for (const kv of listed.items) this.apply(JSON.parse(kv.value) as KubeObject, false, kv.modRevision);
    this.watcher = await store.watch({
      prefix,
      afterRevision: listed.revision,
      onEvents: (events) => {
        for (const e of events)
          this.apply(JSON.parse(e.value) as KubeObject, e.type === 'delete', e.revision);
      },
      onError: () => {
        this.healthy = false;
        this.classes.clear();
      },
    });
    this.healthy = true;
  }

  /** A committed write (`revision` is its store revision); older news than what is held is ignored. */
  apply(obj: KubeObject, deleted: boolean, revision: number): void {
    const name = obj.metadata.name ?? '';
    const held = this.classes.get(name);
    if (held !== undefined && held.revision > revision) return;
    this.classes.set(name, { view: deleted ? undefined : priorityClassView(obj), revision });
  }

  /** The class of that name if the cache knows it exists; undefined means "ask the store". */
  get(name: string): PriorityClassView | undefined {
    return this.healthy ? this.classes.get(name)?.view : undefined;
  }

  /** Every class, or undefined when the cache cannot be trusted (ask the store). */
  all(): PriorityClassView[] | undefined {
    if (!this.healthy) return undefined;
    const out: PriorityClassView[] = [];
    for (const { view } of this.classes.values()) if (view !== undefined) out.push(view);
    return out;
  }

  close(): void {
    this.healthy = false;
    this.watcher?.close();
  }
}
