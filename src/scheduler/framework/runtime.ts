// Runs a profile's plugins through the extension points: PreFilter (once per pod), Filter (per
// node, first rejection wins), Score (raw per node, NormalizeScore to 0..100, times weight).

import type { CycleState } from './cycle-state.js';
import type { NodeInfo } from './node-info.js';
import type { PodInfo } from './pod-info.js';
import {
  isFilter,
  isPreFilter,
  isScore,
  type AnyPlugin,
  type ClusterView,
  type FilterFailure,
  type FilterPlugin,
  type PreFilterPlugin,
  type ScorePlugin,
} from './types.js';

export interface WeightedScorePlugin {
  plugin: ScorePlugin;
  weight: number;
}

export interface NodeScores {
  /** Weighted total per node, in the order of the nodes given. */
  totals: Float64Array;
  /** Plugin name -> weighted score per node (same order). */
  byPlugin: Map<string, Float64Array>;
}

export class Framework {
  readonly preFilters: PreFilterPlugin[] = [];
  readonly filters: FilterPlugin[] = [];
  readonly scores: WeightedScorePlugin[] = [];

  constructor(
    plugins: readonly AnyPlugin[],
    weights: Readonly<Record<string, number>>,
    disabled: readonly string[] = [],
  ) {
    const off = new Set(disabled);
    for (const p of plugins) {
      if (off.has(p.name)) continue;
      if (isPreFilter(p)) this.preFilters.push(p);
      if (isFilter(p)) this.filters.push(p);
      if (isScore(p)) {
        const weight = weights[p.name] ?? 1;
        if (weight > 0) this.scores.push({ plugin: p, weight });
      }
    }
  }

  /** null when every PreFilter passed; a failure applies to every node. */
  runPreFilter(state: CycleState, pod: PodInfo, cluster: ClusterView): FilterFailure | null {
    for (const p of this.preFilters) {
      const out = p.preFilter(state, pod, cluster);
      if (out === 'Skip') state.skipFilter.add(p.name);
      else if (out !== 'Success') return out;
    }
    const skip = state.skipFilter;
    state.activeFilters = skip.size === 0 ? this.filters : this.filters.filter((f) => !skip.has(f.name));
    return null;
  }

  runFilter(state: CycleState, pod: PodInfo, node: NodeInfo): FilterFailure | null {
    const fs = state.activeFilters ?? this.filters;
    for (let i = 0; i < fs.length; i++) {
      const out = (fs[i] as FilterPlugin).filter(state, pod, node);
      if (out !== null) return out;
    }
    return null;
  }

  /** Lets filter plugins adjust their PreFilter state for a pod added to / removed from `node`. */
  addPod(state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, cluster: ClusterView): void {
    for (const f of this.filters) {
      if (!state.skipFilter.has(f.name)) f.preFilterExtensions?.addPod(state, pod, other, node, cluster);
    }
  }

  removePod(state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, cluster: ClusterView): void {
    for (const f of this.filters) {
      if (!state.skipFilter.has(f.name)) f.preFilterExtensions?.removePod(state, pod, other, node, cluster);
    }
  }

  /** Score buffers reused across attempts (scheduling is synchronous): less garbage per pod. */
  private scratch: Float64Array[] = [];

  private buffer(i: number, n: number): Float64Array {
    let b = this.scratch[i];
    if (b === undefined || b.length < n) {
      b = new Float64Array(Math.max(n, 64));
      this.scratch[i] = b;
    }
    const view = b.subarray(0, n);
    view.fill(0);
    return view;
  }

  /** The arrays returned are only valid until the next runScore call on this framework. */
  runScore(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[], cluster: ClusterView): NodeScores {
    const totals = this.buffer(0, nodes.length);
    const byPlugin = new Map<string, Float64Array>();
    for (let k = 0; k < this.scores.length; k++) {
      const { plugin, weight } = this.scores[k] as WeightedScorePlugin;
      if (plugin.preScore?.(state, pod, nodes, cluster) === 'Skip') continue;
      const raw = this.buffer(k + 1, nodes.length);
      for (let i = 0; i < nodes.length; i++) {
        const node = nodes[i];
        if (node !== undefined) raw[i] = plugin.score(state, pod, node, cluster);
      }
      plugin.normalizeScore?.(state, pod, nodes, raw);
      for (let i = 0; i < raw.length; i++) {
        const w = (raw[i] ?? 0) * weight;
        raw[i] = w;
        totals[i] = (totals[i] ?? 0) + w;
      }
      byPlugin.set(plugin.name, raw);
    }
    return { totals, byPlugin };
  }
}
