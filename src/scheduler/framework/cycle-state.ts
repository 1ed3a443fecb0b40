// Per scheduling attempt scratch space: PreFilter/PreScore write here, Filter/Score read.
// Preemption clones it per candidate node, so values that change under PreFilterExtensions
// implement `clone`.

import type { FilterPlugin } from './types.js';

export interface StateData {
  clone(): StateData;
}

export class CycleState {
  private readonly data = new Map<string, unknown>();
  /** Plugins whose PreFilter answered Skip: their Filter is not run for this pod. */
  readonly skipFilter = new Set<string>();
  /** The Filter plugins to run for this pod (set after PreFilter: the profile's minus skipped ones). */
  activeFilters: readonly FilterPlugin[] | undefined;

  write(key: string, value: unknown): void {
    this.data.set(key, value);
  }

  read<T>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  /** Copies the map; values with a `clone` method are cloned, others shared (read-only ones). */
  clone(): CycleState {
    const out = new CycleState();
    for (const [k, v] of this.data) out.data.set(k, isStateData(v) ? v.clone() : v);
    for (const s of this.skipFilter) out.skipFilter.add(s);
    out.activeFilters = this.activeFilters;
    return out;
  }
}

function isStateData(v: unknown): v is StateData {
  return typeof v === 'object' && v !== null && typeof (v as { clone?: unknown }).clone === 'function';
}
