// JSON Merge Patch (RFC 7386), `application/merge-patch+json`: null deletes, objects merge
// recursively, everything else (arrays included) replaces.

import { isObject } from '../types.js';
import { jsonClone } from './json.js';

/** Returns the patched document; neither argument is modified. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return jsonClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** The merge patch that turns `from` into `to` (useful for tests and clients). */
export function createMergePatch(from: unknown, to: unknown): unknown {
  if (!isObject(from) || !isObject(to)) return jsonClone(to);
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    const before = from[k];
    if (isObject(before) && isObject(v)) {
      const sub = createMergePatch(before, v);
      if (isObject(sub) && Object.keys(sub).length > 0) patch[k] = sub;
    } else if (JSON.stringify(before) !== JSON.stringify(v)) {
      patch[k] = jsonClone(v);
    }
  }
  return patch;
}
