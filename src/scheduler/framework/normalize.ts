// upstream helper.DefaultNormalizeScore: scale so the best node gets MaxNodeScore; `reverse` turns
// "more is worse" counts (untolerated PreferNoSchedule taints) into scores.

import { MaxNodeScore } from './types.js';

export function defaultNormalizeScore(scores: Float64Array, reverse: boolean, max = MaxNodeScore): void {
  let highest = 0;
  for (const s of scores) if (s > highest) highest = s;
  if (highest === 0) {
    if (reverse) scores.fill(max);
    return;
  }
  for (let i = 0; i < scores.length; i++) {
    let s = Math.trunc((max * (scores[i] ?? 0)) / highest);
    if (reverse) s = max - s;
    scores[i] = s;
  }
}
