import { describe, expect, it } from 'vitest';
import { canonicalJson, computePodTemplateHash, equalIgnoreHash, semanticEqual } from './hash.js';

const template = {
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'c', image: 'nginx:1.25', ports: [{ containerPort: 80 }] }] },
};

describe('computePodTemplateHash', () => {
  it('is stable, uses the safe alphabet, and ignores key order', () => {
    const h = computePodTemplateHash(template);
    expect(h).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    expect(computePodTemplateHash(structuredClone(template))).toBe(h);
    const reordered = {
      spec: { containers: [{ ports: [{ containerPort: 80 }], image: 'nginx:1.25', name: 'c' }] },
      metadata: { labels: { app: 'web' } },
    };
    expect(computePodTemplateHash(reordered)).toBe(h);
  });

  it('changes with the template and with the collision count', () => {
    const h = computePodTemplateHash(template);
    const other = structuredClone(template);
    other.spec.containers[0]!.image = 'nginx:1.26';
    expect(computePodTemplateHash(other)).not.toBe(h);
    expect(computePodTemplateHash(template, 1)).not.toBe(h);
    expect(computePodTemplateHash(template, 1)).not.toBe(computePodTemplateHash(template, 2));
    expect(computePodTemplateHash(template, 0)).not.toBe(h); // a set count, even 0, is mixed in
  });
});

describe('equalIgnoreHash', () => {
  it('ignores the pod-template-hash label, key order, and empty versus absent fields', () => {
    const withHash = structuredClone(template) as typeof template & {
      metadata: { labels: Record<string, string> };
    };
    withHash.metadata.labels['pod-template-hash'] = 'abc';
    expect(equalIgnoreHash(withHash, template)).toBe(true);
    expect(
      equalIgnoreHash({ ...template, metadata: { labels: { app: 'web' }, annotations: {} } }, template),
    ).toBe(true);
    expect(equalIgnoreHash({ ...template, metadata: { labels: { app: 'api' } } }, template)).toBe(false);
  });

  it('semanticEqual treats null, [] and {} as absent, but not 0 or ""', () => {
    expect(semanticEqual({ a: null, b: [], c: {} }, {})).toBe(true);
    expect(semanticEqual({ a: 0 }, {})).toBe(false);
    expect(semanticEqual({ a: '' }, {})).toBe(false);
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
  });
});
