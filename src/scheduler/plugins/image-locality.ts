// ImageLocality: prefer nodes that already hold the pod's images, weighted by image size and by how
// widely the image is spread (an image on every node says little about any one of them).

import { MaxNodeScore, type ScorePlugin } from '../framework/types.js';

export const ImageLocalityName = 'ImageLocality';

const mb = 1024 * 1024;
const minThreshold = 23 * mb;
const maxContainerThreshold = 1000 * mb;

export function imageLocalityScore(sumScores: number, containers: number): number {
  const maxThreshold = maxContainerThreshold * containers;
  const s = Math.min(Math.max(sumScores, minThreshold), maxThreshold);
  return Math.trunc((MaxNodeScore * (s - minThreshold)) / (maxThreshold - minThreshold));
}

const spreadKey = 'ImageLocality/spread';

export function imageLocality(): ScorePlugin {
  return {
    name: ImageLocalityName,
    preScore(state, pod, _nodes, cluster) {
      if (pod.images.length === 0) return 'Skip';
      const total = cluster.nodeInfos().length;
      // per image: fraction of all nodes that hold it
      const spread = pod.images.map((img) => (total === 0 ? 0 : cluster.imageNodeCount(img) / total));
      // No node holds any of the images: every score would be 0.
      if (spread.every((s) => s === 0)) return 'Skip';
      state.write(spreadKey, spread);
    },
    score(state, pod, node) {
      if (node.images.size === 0) return 0;
      const spread = state.read<number[]>(spreadKey) ?? [];
      let sum = 0;
      for (let i = 0; i < pod.images.length; i++) {
        const size = node.images.get(pod.images[i] ?? '');
        if (size !== undefined) sum += Math.trunc(size * (spread[i] ?? 0));
      }
      return imageLocalityScore(sum, pod.containerCount);
    },
  };
}
