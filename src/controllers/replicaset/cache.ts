// A per-namespace index over an ObjectSource, fed by its events (the lister/indexer of client-go):
// controllers look objects up by namespace and name, and list one namespace, without copying the
// whole cache on every sync.

import type { KubeObject } from '../../api/types.js';
import type { ObjectSource, SourceHandlers } from '../../machinery/object-source.js';

export class NamespacedCache {
  private readonly byNamespace = new Map<string, Map<string, KubeObject>>();

  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.byNamespace.get(namespace ?? '')?.get(name);
  }

  /** The cached objects of one namespace. */
  inNamespace(namespace: string | undefined): KubeObject[] {
    const m = this.byNamespace.get(namespace ?? '');
    return m === undefined ? [] : [...m.values()];
  }

  all(): KubeObject[] {
    const out: KubeObject[] = [];
    for (const m of this.byNamespace.values()) out.push(...m.values());
    return out;
  }

  set(obj: KubeObject): void {
    const ns = obj.metadata.namespace ?? '';
    let m = this.byNamespace.get(ns);
    if (m === undefined) {
      m = new Map();
      this.byNamespace.set(ns, m);
    }
    m.set(obj.metadata.name ?? '', obj);
  }

  /** Remove `obj` unless the cache already holds a newer object of that name (another uid). */
  remove(obj: KubeObject): void {
    const ns = obj.metadata.namespace ?? '';
    const m = this.byNamespace.get(ns);
    const name = obj.metadata.name ?? '';
    const current = m?.get(name);
    if (m === undefined || current === undefined) return;
    if (obj.metadata.uid !== undefined && current.metadata.uid !== obj.metadata.uid) return;
    m.delete(name);
    if (m.size === 0) this.byNamespace.delete(ns);
  }

  /**
   * Keep this cache in step with `source`, then call `handlers` (so handlers already see the change).
   * Returns the function that detaches both.
   */
  follow(source: ObjectSource, handlers: SourceHandlers = {}): () => void {
    return source.addEventHandler({
      onAdd: (obj) => {
        this.set(obj);
        handlers.onAdd?.(obj);
      },
      onUpdate: (old, obj) => {
        this.set(obj);
        handlers.onUpdate?.(old, obj);
      },
      onDelete: (obj) => {
        this.remove(obj);
        handlers.onDelete?.(obj);
      },
    });
  }
}
