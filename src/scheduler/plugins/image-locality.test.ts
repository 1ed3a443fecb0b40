import { describe, expect, it } from 'vitest';
import { node, pod } from '../testing/builders.js';
import { SchedulerHarness } from '../testing/harness.js';

const mb = 1024 * 1024;

describe('ImageLocality', () => {
  it('prefers the node holding a big image, scaled by how many nodes hold it', () => {
    const h = new SchedulerHarness().addNode(
      node('has').image(['docker.io/library/app:1', 'app:1'], 500 * mb),
      node('bare'),
    );
    const scores = h.scores(pod('p').image('app:1'), 'ImageLocality');
    // 500MB * (1 of 2 nodes) = 250MB; (250 - 23) / (1000 - 23) * 100 = 23
    expect(scores).toEqual({ has: 23, bare: 0 });
  });

  it('an image without a tag means :latest', () => {
    const h = new SchedulerHarness().addNode(node('has').image(['nginx:latest'], 800 * mb), node('bare'));
    const r = h.evaluate(pod('p').image('nginx'));
    expect(r).toMatchObject({ kind: 'Scheduled', nodeName: 'has' });
  });

  it('small images (under 23MB after scaling) do not count', () => {
    const h = new SchedulerHarness().addNode(node('has').image(['tiny:1'], 30 * mb), node('bare'));
    expect(h.scores(pod('p').image('tiny:1'), 'ImageLocality')).toEqual({ has: 0, bare: 0 });
  });
});
