// Structural check of a decoded object against its schema: wrong JSON types and unknown fields,
// every problem reported, plus a pruned copy holding only known fields (nulls dropped, as Go's
// decoder leaves absent). Enum values are checked separately by validateEnums (kind validation).

import { ApiError, type StatusCause } from '../errors.js';
import { errFormatWrong, quantityErrors } from '../quantity.js';
import { isObject } from '../types.js';
import { field, index, key } from '../validation/field.js';
import type { Schema } from './dsl.js';

export type UnknownFieldPolicy = 'Strict' | 'Warn' | 'Ignore';

export interface CheckOptions {
  /** Strict: unknown fields are causes; Warn: warnings; Ignore: silent. Always pruned. */
  unknownFields: UnknownFieldPolicy;
}

export interface CheckResult {
  causes: StatusCause[];
  /** `unknown field "spec.foo"` texts for the `Warning` response header (Warn policy). */
  warnings: string[];
  /** A copy with unknown fields and nulls removed. */
  pruned: Record<string, unknown>;
}

/** The JSON type name kube-openapi uses in messages. */
export function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const base64Char = /^[A-Za-z0-9+/]$/;

/** Offset of the first bad byte of standard padded base64 (Go: `illegal base64 data at input byte N`); -1 when valid. */
export function base64ErrorAt(s: string): number {
  const body = s.replace(/={1,2}$/, '');
  for (let i = 0; i < body.length; i++) {
    if (!base64Char.test(body[i] ?? '')) return i;
  }
  if (s.length % 4 !== 0) return s.length - (s.length % 4);
  return -1;
}

interface Ctx {
  causes: StatusCause[];
  warnings: string[];
  policy: UnknownFieldPolicy;
}

function typeError(ctx: Ctx, path: string, value: unknown, expected: string): void {
  const actual = jsonTypeName(value);
  const where = path === '' ? '<root>' : path;
  ctx.causes.push(
    field.typeInvalid(
      path,
      actual,
      `${where} in body must be of type ${expected}: ${JSON.stringify(actual)}`,
    ),
  );
}

function unknown(ctx: Ctx, path: string): void {
  const msg = `unknown field ${JSON.stringify(path)}`;
  if (ctx.policy === 'Strict') ctx.causes.push({ reason: 'FieldValueNotFound', field: path, message: msg });
  else if (ctx.policy === 'Warn') ctx.warnings.push(msg);
}

/** Marks a value the pruned copy leaves out. */
const dropped = Symbol('dropped');

function walk(value: unknown, schema: Schema, path: string, ctx: Ctx): unknown {
  if (value === null || value === undefined) return dropped;
  switch (schema.type) {
    case 'any':
      return value;
    case 'object': {
      if (!isObject(value)) {
        typeError(ctx, path, value, 'object');
        return dropped;
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const p = path === '' ? k : `${path}.${k}`;
        const sub = schema.properties[k];
        if (sub === undefined) {
          unknown(ctx, p);
          continue;
        }
        const r = walk(v, sub, p, ctx);
        if (r !== dropped) out[k] = r;
      }
      return out;
    }
    case 'map': {
      if (!isObject(value)) {
        typeError(ctx, path, value, 'object');
        return dropped;
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const r = walk(v, schema.values, key(path, k), ctx);
        if (r !== dropped) out[k] = r;
      }
      return out;
    }
    case 'array': {
      if (!Array.isArray(value)) {
        typeError(ctx, path, value, 'array');
        return dropped;
      }
      const out: unknown[] = [];
      value.forEach((v: unknown, i) => {
        const r = walk(v, schema.items, index(path, i), ctx);
        // Keep positions stable: a null item stays null rather than shifting later items.
        out.push(r === dropped ? null : r);
      });
      return out;
    }
    case 'string':
    case 'enum': {
      if (typeof value !== 'string') {
        typeError(ctx, path, value, 'string');
        return dropped;
      }
      if (schema.type === 'string' && schema.format === 'byte') {
        const at = base64ErrorAt(value);
        if (at >= 0)
          ctx.causes.push(field.invalid(path, '<bytes>', `illegal base64 data at input byte ${at}`));
      }
      return value;
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        typeError(ctx, path, value, 'integer');
        return dropped;
      }
      return value;
    case 'number':
      if (typeof value !== 'number') {
        typeError(ctx, path, value, 'number');
        return dropped;
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') {
        typeError(ctx, path, value, 'boolean');
        return dropped;
      }
      return value;
    case 'int-or-string':
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) {
        typeError(ctx, path, value, 'integer or string');
        return dropped;
      }
      return value;
    case 'quantity': {
      if (typeof value !== 'string' && typeof value !== 'number') {
        typeError(ctx, path, value, 'string');
        return dropped;
      }
      const errs = quantityErrors(value);
      if (errs.length > 0) ctx.causes.push(field.invalid(path, value, errs[0] ?? errFormatWrong));
      return value;
    }
    case 'date-time':
      if (typeof value !== 'string') {
        typeError(ctx, path, value, 'string');
        return dropped;
      }
      if (!rfc3339.test(value) || Number.isNaN(Date.parse(value))) {
        ctx.causes.push(
          field.invalid(path, value, `${path} in body must be of type date-time: ${JSON.stringify(value)}`),
        );
      }
      return value;
  }
}

/**
 * Checks `obj` against `schema` and reports every wrong type and (per policy) unknown field with
 * its full path (`spec.template.spec.containers[0].foo`). Does not modify `obj`.
 */
export function checkAgainstSchema(obj: unknown, schema: Schema, options: CheckOptions): CheckResult {
  const ctx: Ctx = { causes: [], warnings: [], policy: options.unknownFields };
  const out = walk(obj, schema, '', ctx);
  if (out === dropped && (obj === null || obj === undefined)) typeError(ctx, '', obj, 'object');
  return { causes: ctx.causes, warnings: ctx.warnings, pruned: isObject(out) ? out : {} };
}

/**
 * Enum values not in their schema's list (`Unsupported value: "Sometimes": supported values:
 * "Always", "Never", "OnFailure"`). '' counts as unset. Paths start at `path`.
 */
export function validateEnums(value: unknown, schema: Schema, path = ''): StatusCause[] {
  const causes: StatusCause[] = [];
  const visit = (v: unknown, s: Schema, p: string): void => {
    if (v === null || v === undefined) return;
    switch (s.type) {
      case 'enum':
        if (typeof v === 'string' && v !== '' && !s.values.includes(v)) {
          causes.push(field.notSupported(p, v, [...s.values].filter((x) => x !== '').sort()));
        }
        return;
      case 'object':
        if (isObject(v)) {
          for (const [k, sub] of Object.entries(s.properties)) visit(v[k], sub, p === '' ? k : `${p}.${k}`);
        }
        return;
      case 'map':
        if (isObject(v)) for (const [k, x] of Object.entries(v)) visit(x, s.values, key(p, k));
        return;
      case 'array':
        if (Array.isArray(v)) v.forEach((x: unknown, i) => visit(x, s.items, index(p, i)));
        return;
      case 'string':
      case 'integer':
      case 'number':
      case 'boolean':
      case 'int-or-string':
      case 'quantity':
      case 'date-time':
      case 'any':
        return;
    }
  };
  visit(value, schema, path);
  return causes;
}

/** The 400 the apiserver returns for unknown fields under `fieldValidation=Strict`. */
export function strictDecodingError(causes: readonly StatusCause[]): ApiError {
  const unknownFields = causes.filter((c) => c.message.startsWith('unknown field '));
  return new ApiError(
    'BadRequest',
    `strict decoding error: ${unknownFields.map((c) => c.message).join(', ')}`,
    {
      causes: [...unknownFields],
    },
  );
}
