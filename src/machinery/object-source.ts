// What controllers need from an informer: a synced flag, the cached objects, and change callbacks.
// `Informer` in src/api/client/informer.ts satisfies `ObjectSource` structurally, so wiring is
// `{ informerFor: (info) => informers.get(info.resource) }`.

import type { ResourceInfo } from '../api/resources.js';
import type { KubeObject } from '../api/types.js';

export interface SourceHandlers {
  onAdd?: (obj: KubeObject) => void;
  onUpdate?: (oldObj: KubeObject, newObj: KubeObject) => void;
  /** Called with the last known state of the object. */
  onDelete?: (obj: KubeObject) => void;
}

export interface ObjectSource {
  /** True once the initial list has been loaded into the cache. */
  hasSynced(): boolean;
  /** Every cached object (a snapshot; callers do not mutate it). */
  list(): readonly KubeObject[];
  /** Register handlers; returns a function that removes them. */
  addEventHandler(handlers: SourceHandlers): () => void;
}

/** Gives the informer of each resource a controller watches (all of src/api/resources.ts for the GC). */
export interface InformerProvider {
  informerFor(info: ResourceInfo): ObjectSource;
}

/** Call `fn` on any add, update or delete of any of `sources`; returns one function removing every handler. */
export function onAnyChange(sources: readonly ObjectSource[], fn: (obj: KubeObject) => void): () => void {
  const removers = sources.map((s) =>
    s.addEventHandler({ onAdd: fn, onUpdate: (_old, obj) => fn(obj), onDelete: fn }),
  );
  return () => {
    for (const remove of removers) remove();
  };
}
