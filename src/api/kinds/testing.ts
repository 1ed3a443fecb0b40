// Test helpers for kind handlers (imported only by *.test.ts).

import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import type { KindHandler } from './handler.js';

export function obj(
  apiVersion: string,
  kind: string,
  fields: Record<string, unknown>,
  metadata: Record<string, unknown> = {},
): KubeObject {
  return { apiVersion, kind, metadata: { name: 'x', namespace: 'default', ...metadata }, ...fields };
}

export function lines(causes: readonly StatusCause[]): string[] {
  return causes.map((c) => `${c.field}: ${c.message}`);
}

/** Defaults then validates, as the apiserver does on create. */
export function create(h: KindHandler, o: KubeObject): string[] {
  h.defaults(o);
  return lines(h.validate(o));
}

/** Defaults, prepares and validates an update of `before` by `mutate`. */
export function update(h: KindHandler, before: KubeObject, mutate: (o: KubeObject) => void): string[] {
  h.defaults(before);
  const after = JSON.parse(JSON.stringify(before)) as KubeObject;
  mutate(after);
  h.defaults(after);
  h.prepareUpdate?.(after, before);
  return lines(h.validateUpdate(after, before));
}

export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
