// The pod-template-hash: a stable name for a pod template, used in ReplicaSet names
// (`<deployment>-<hash>`), selectors and pod labels. Like upstream it is a 32-bit FNV-1a over the
// template (here its canonical JSON: keys sorted, so the same template always hashes the same no
// matter how the API server ordered its fields), with the collision count mixed in, written with
// the "safe" alphabet (no vowels, no 0/1/3) so it never spells words.

import { isObject } from '../../api/types.js';

export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** JSON with object keys sorted and undefined members dropped. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

function fnv1a32(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Each character of `s` mapped into the safe alphabet (upstream rand.SafeEncodeString). */
function safeEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHABET[s.charCodeAt(i) % SAFE_ALPHABET.length] ?? '';
  return out;
}

/** The pod-template-hash of `template`; a Deployment's `status.collisionCount` changes it. */
export function computePodTemplateHash(template: unknown, collisionCount?: number): string {
  let h = fnv1a32(new TextEncoder().encode(canonicalJson(template)));
  if (collisionCount !== undefined) {
    // As upstream: the count as 8 little-endian bytes (a uint32 and four zero bytes).
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv1a32(bytes, h);
  }
  return safeEncode(String(h));
}

/**
 * Kubernetes' semantic equality for our JSON shapes: absent, null, empty object and empty array
 * are the same (a nil and an empty map compare equal upstream), key order does not matter.
 */
export function semanticEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(prune(a)) === canonicalJson(prune(b));
}

function prune(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map((v) => prune(v) ?? null);
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const p = prune(v);
      if (p !== undefined) out[k] = p;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return value === null ? undefined : value;
}

/** The template without the pod-template-hash label. */
export function withoutHash(template: unknown): unknown {
  if (!isObject(template)) return template;
  const meta = isObject(template.metadata) ? template.metadata : undefined;
  const labels = meta !== undefined && isObject(meta.labels) ? meta.labels : undefined;
  if (labels === undefined || !(POD_TEMPLATE_HASH_LABEL in labels)) return template;
  const { [POD_TEMPLATE_HASH_LABEL]: _hash, ...rest } = labels;
  return { ...template, metadata: { ...meta, labels: rest } };
}

/** Two pod templates are the same ignoring their pod-template-hash labels (upstream EqualIgnoreHash). */
export function equalIgnoreHash(a: unknown, b: unknown): boolean {
  return semanticEqual(withoutHash(a), withoutHash(b));
}
