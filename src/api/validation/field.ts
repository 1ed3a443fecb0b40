// Field paths and field-error constructors mirroring k8s.io/apimachinery/pkg/util/validation/field.
// A cause's `message` is what upstream calls ErrorBody(): the text after `<field>: `.

import { cause, type StatusCause } from '../errors.js';

/** `spec` + `containers` → `spec.containers`; the root path is ''. */
export function child(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

/** `spec.containers` + 0 → `spec.containers[0]`. */
export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}

/** `data` + `key` → `data[key]` (map keys, as upstream's Path.Key). */
export function key(path: string, k: string): string {
  return `${path}[${k}]`;
}

/** Renders a value the way upstream's field errors do: strings quoted, objects as JSON. */
export function formatValue(value: unknown): string {
  if (value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return '<unprintable>';
  }
}

function withDetail(head: string, detail: string | undefined): string {
  return detail === undefined || detail === '' ? head : `${head}: ${detail}`;
}

export const field = {
  required(path: string, detail?: string): StatusCause {
    return cause('FieldValueRequired', path, withDetail('Required value', detail));
  },
  invalid(path: string, value: unknown, detail?: string): StatusCause {
    return cause('FieldValueInvalid', path, withDetail(`Invalid value: ${formatValue(value)}`, detail));
  },
  typeInvalid(path: string, value: unknown, detail?: string): StatusCause {
    return cause('FieldValueTypeInvalid', path, withDetail(`Invalid value: ${formatValue(value)}`, detail));
  },
  notSupported(path: string, value: unknown, supported: readonly string[]): StatusCause {
    const list = supported.map((s) => JSON.stringify(s)).join(', ');
    return cause(
      'FieldValueNotSupported',
      path,
      `Unsupported value: ${formatValue(value)}${list === '' ? '' : `: supported values: ${list}`}`,
    );
  },
  duplicate(path: string, value: unknown): StatusCause {
    return cause('FieldValueDuplicate', path, `Duplicate value: ${formatValue(value)}`);
  },
  notFound(path: string, value: unknown): StatusCause {
    return cause('FieldValueNotFound', path, `Not found: ${formatValue(value)}`);
  },
  forbidden(path: string, detail: string): StatusCause {
    return cause('FieldValueForbidden', path, withDetail('Forbidden', detail));
  },
  tooLong(path: string, maxBytes: number): StatusCause {
    return cause('FieldValueTooLong', path, `Too long: may not be more than ${maxBytes} bytes`);
  },
  tooMany(path: string, actual: number, max: number): StatusCause {
    return cause('FieldValueTooMany', path, `Too many: ${actual}: must have at most ${max} items`);
  },
  /** Upstream's ValidateImmutableField: an Invalid error saying `field is immutable`. */
  immutable(path: string, value: unknown): StatusCause {
    return cause('FieldValueInvalid', path, `Invalid value: ${formatValue(value)}: field is immutable`);
  },
};
