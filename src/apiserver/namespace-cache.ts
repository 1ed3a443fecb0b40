// Which namespaces exist and are active, kept in memory from a store watch (as kube-apiserver's
// NamespaceLifecycle admission keeps an informer). Creates in an active namespace skip a store read; anything
// the cache does not know as active (new, terminating, missing) is checked against the store, so the cache
// can only ever make a create cheaper, not admit one the store would refuse — except within the watch's
// delivery delay after a namespace starts terminating, which Kubernetes accepts too (the namespace
// controller removes such stragglers).
import { findByResource, storePrefix } from '../api/resources.js';
import type { KubeObject } from '../api/types.js';
import type { Store, Watcher } from '../store/store.js';

export class NamespaceCache {
  private readonly active = new Set<string>();
  private watcher: Watcher | undefined;
  private healthy = false;

  async start(store: Store): Promise<void> {
    const info = findByResource('', 'v1', 'namespaces');
    if (info === undefined) return;
    const prefix = storePrefix(info, undefined);
    const listed = await store.list({ prefix });
    for (const kv of listed.items) this.apply(kv.key, kv.value, false);
    this.watcher = await store.watch({
      prefix,
      afterRevision: listed.revision,
      onEvents: (events) => {
        for (const e of events) this.apply(e.key, e.value, e.type === 'delete');
      },
      onError: () => {
        // Stop trusting the cache; every create goes to the store again.
        this.healthy = false;
        this.active.clear();
      },
    });
    this.healthy = true;
  }

  private apply(key: string, value: string, deleted: boolean): void {
    const name = key.slice(key.lastIndexOf('/') + 1);
    if (deleted) {
      this.active.delete(name);
      return;
    }
    const ns = JSON.parse(value) as KubeObject;
    if (ns.metadata.deletionTimestamp === undefined) this.active.add(name);
    else this.active.delete(name);
  }

  /** True only when the namespace is known to exist and not be terminating. */
  isActive(name: string): boolean {
    return this.healthy && this.active.has(name);
  }

  close(): void {
    this.healthy = false;
    this.watcher?.close();
  }
}
