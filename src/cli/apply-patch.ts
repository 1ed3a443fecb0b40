// Client-side apply, the way `kubectl apply` does it without server-side apply: the object keeps the
// configuration last applied in an annotation, and each apply sends a three-way JSON merge patch
// computed from (last applied, new configuration, live object):
//  - a field set in the new configuration that differs from the live object is sent;
//  - a field present in the last applied configuration but gone from the new one is deleted (null);
//  - fields nobody configured (server defaults, status, fields other writers set) are left alone.
// Lists are atomic in a JSON merge patch: a list is sent whole when it changed in the configuration
// or when the live list no longer contains what the configuration says (server-added defaults inside
// list items, such as a container's terminationMessagePath, do not count as a difference).
import type { KubeObject } from '../api/types.js';

export const lastAppliedAnnotation = 'kubectl.kubernetes.io/last-applied-configuration';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return (
      ka.length === kb.length &&
      ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]))
    );
  }
  return false;
}

/**
 * Is everything `config` says also true of `live`? Objects may have extra keys in `live` (defaults);
 * a null in `config` means "absent"; lists must match item by item.
 */
export function isSubset(config: unknown, live: unknown): boolean {
  if (config === null || config === undefined) return live === null || live === undefined;
  if (Array.isArray(config)) {
    return (
      Array.isArray(live) && config.length === live.length && config.every((x, i) => isSubset(x, live[i]))
    );
  }
  if (isPlainObject(config)) {
    return isPlainObject(live) && Object.keys(config).every((k) => isSubset(config[k], live[k]));
  }
  return config === live;
}

function diff(original: unknown, modified: JsonObject, current: unknown): JsonObject {
  const patch: JsonObject = {};
  const cur = isPlainObject(current) ? current : {};
  const orig = isPlainObject(original) ? original : {};
  for (const [key, m] of Object.entries(modified)) {
    const c = cur[key];
    const o = orig[key];
    if (m === null) {
      // A null in the configuration asks for the field to be absent.
      if (c !== undefined && c !== null) patch[key] = null;
      continue;
    }
    if (isPlainObject(m)) {
      if (isPlainObject(c)) {
        const sub = diff(o, m, c);
        if (Object.keys(sub).length > 0) patch[key] = sub;
      } else {
        patch[key] = m;
      }
      continue;
    }
    if (Array.isArray(m)) {
      const changedInConfig = o !== undefined && !deepEqual(o, m);
      if (changedInConfig || !isSubset(m, c)) patch[key] = m;
      continue;
    }
    if (!deepEqual(m, c)) patch[key] = m;
  }
  for (const key of Object.keys(orig)) {
    if (!(key in modified) && cur[key] !== undefined) patch[key] = null;
  }
  return patch;
}

/**
 * The JSON merge patch that takes `current` to the new configuration `modified`, deleting what
 * `original` (the last applied configuration, if any) had and `modified` dropped. `{}` when nothing
 * needs to change.
 */
export function threeWayMergePatch(
  original: JsonObject | undefined,
  modified: JsonObject,
  current: JsonObject,
): JsonObject {
  return diff(original, modified, current);
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (!isPlainObject(value)) return value;
  const out: JsonObject = {};
  for (const k of Object.keys(value).sort()) out[k] = sortedKeys(value[k]) as Json;
  return out;
}

/**
 * The configuration as recorded in the annotation: the object without that annotation itself,
 * serialized exactly as kubectl does (keys sorted, `annotations: {}` kept, trailing newline), so
 * objects applied by kubectl and by flotilla look unchanged to each other.
 */
export function lastAppliedValue(config: KubeObject): string {
  const copy = JSON.parse(JSON.stringify(config)) as KubeObject;
  const annotations = { ...(copy.metadata.annotations ?? {}) };
  delete annotations[lastAppliedAnnotation];
  copy.metadata.annotations = annotations;
  return `${JSON.stringify(sortedKeys(copy))}\n`;
}

/** The configuration with the last-applied annotation set: what `apply` creates, or patches towards. */
export function withLastApplied(config: KubeObject): KubeObject {
  const value = lastAppliedValue(config);
  const copy = JSON.parse(JSON.stringify(config)) as KubeObject;
  copy.metadata.annotations = { ...(copy.metadata.annotations ?? {}), [lastAppliedAnnotation]: value };
  return copy;
}

/** The last applied configuration recorded on a live object, if any (undefined when absent or unreadable). */
export function readLastApplied(live: KubeObject): JsonObject | undefined {
  const raw = live.metadata.annotations?.[lastAppliedAnnotation];
  if (raw === undefined || raw === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return isPlainObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Apply a JSON merge patch (RFC 7386) locally. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: JsonObject = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v) as Json;
  }
  return out;
}

export interface ApplyPlan {
  /** `{}` when the live object already matches. */
  patch: JsonObject;
  /** The live object had no last-applied annotation (created by something other than apply). */
  missingAnnotation: boolean;
}

/** Everything `apply` needs to decide about an existing object. */
export function planApply(config: KubeObject, live: KubeObject): ApplyPlan {
  const modified = withLastApplied(config) as unknown as JsonObject;
  const original = readLastApplied(live);
  const patch = threeWayMergePatch(original, modified, live as unknown as JsonObject);
  return { patch, missingAnnotation: original === undefined };
}
