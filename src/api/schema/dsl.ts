// A small schema language for Kubernetes shapes: enough to check structure (types, unknown fields),
// drive strategic merge patch (mergeKey / patchStrategy, as upstream's struct tags) and emit OpenAPI.

/** Upstream's `patchStrategy` struct tag values. */
export type PatchStrategy = 'merge' | 'replace' | 'retainKeys' | 'merge,retainKeys';

interface SchemaBase {
  description?: string;
  /** Strategic-merge behaviour of this field (lists: merge by key; maps/objects: retainKeys). */
  patchStrategy?: PatchStrategy;
  /** For lists of objects merged by key: the key field (`name`, `containerPort`, `type`...). */
  mergeKey?: string;
}

export interface ObjectSchema extends SchemaBase {
  type: 'object';
  properties: Readonly<Record<string, Schema>>;
  required?: readonly string[];
}
export interface StringSchema extends SchemaBase {
  type: 'string';
  /** `byte`: base64-encoded bytes (Secret data, ConfigMap binaryData). */
  format?: 'byte';
}
export interface IntegerSchema extends SchemaBase {
  type: 'integer';
  format?: 'int32' | 'int64';
}
export interface NumberSchema extends SchemaBase {
  type: 'number';
}
export interface BooleanSchema extends SchemaBase {
  type: 'boolean';
}
/** intstr.IntOrString: an integer or a string (`targetPort`, `maxSurge`). */
export interface IntOrStringSchema extends SchemaBase {
  type: 'int-or-string';
}
/** resource.Quantity: a string like `100m` / `1Gi`, or a number. */
export interface QuantitySchema extends SchemaBase {
  type: 'quantity';
}
/** map[string]X (labels, nodeSelector, resource lists). */
export interface MapSchema extends SchemaBase {
  type: 'map';
  values: Schema;
}
export interface ArraySchema extends SchemaBase {
  type: 'array';
  items: Schema;
  /** `x-kubernetes-list-type`, for OpenAPI and server-side apply. */
  listType?: 'atomic' | 'set' | 'map';
  listMapKeys?: readonly string[];
}
/** A string restricted to these values; checked by kind validation (Unsupported value). */
export interface EnumSchema extends SchemaBase {
  type: 'enum';
  values: readonly string[];
}
/** metav1.Time / MicroTime: an RFC 3339 string. */
export interface DateTimeSchema extends SchemaBase {
  type: 'date-time';
}
/** Free-form JSON kept as is (`x-kubernetes-preserve-unknown-fields`), e.g. managedFields. */
export interface AnySchema extends SchemaBase {
  type: 'any';
}

export type Schema =
  | ObjectSchema
  | StringSchema
  | IntegerSchema
  | NumberSchema
  | BooleanSchema
  | IntOrStringSchema
  | QuantitySchema
  | MapSchema
  | ArraySchema
  | EnumSchema
  | DateTimeSchema
  | AnySchema;

export type SchemaType = Schema['type'];

interface Extra {
  description?: string;
  patchStrategy?: PatchStrategy;
  mergeKey?: string;
}

function extra<T extends Schema>(s: T, x: Extra | undefined): T {
  if (x === undefined) return s;
  const out: T = { ...s };
  if (x.description !== undefined) out.description = x.description;
  if (x.patchStrategy !== undefined) out.patchStrategy = x.patchStrategy;
  if (x.mergeKey !== undefined) out.mergeKey = x.mergeKey;
  return out;
}

export function object(
  properties: Record<string, Schema>,
  opts?: Extra & { required?: readonly string[] },
): ObjectSchema {
  const s: ObjectSchema = { type: 'object', properties };
  if (opts?.required !== undefined) s.required = opts.required;
  return extra(s, opts);
}
export function string(opts?: Extra): StringSchema {
  return extra({ type: 'string' }, opts);
}
/** base64 bytes. */
export function bytes(opts?: Extra): StringSchema {
  return extra({ type: 'string', format: 'byte' }, opts);
}
export function int32(opts?: Extra): IntegerSchema {
  return extra({ type: 'integer', format: 'int32' }, opts);
}
export function int64(opts?: Extra): IntegerSchema {
  return extra({ type: 'integer', format: 'int64' }, opts);
}
export function number(opts?: Extra): NumberSchema {
  return extra({ type: 'number' }, opts);
}
export function boolean(opts?: Extra): BooleanSchema {
  return extra({ type: 'boolean' }, opts);
}
export function intOrString(opts?: Extra): IntOrStringSchema {
  return extra({ type: 'int-or-string' }, opts);
}
export function quantity(opts?: Extra): QuantitySchema {
  return extra({ type: 'quantity' }, opts);
}
export function mapOf(values: Schema = string(), opts?: Extra): MapSchema {
  return extra({ type: 'map', values }, opts);
}
export function arrayOf(
  items: Schema,
  opts?: Extra & { listType?: 'atomic' | 'set' | 'map'; listMapKeys?: readonly string[] },
): ArraySchema {
  const s: ArraySchema = { type: 'array', items };
  if (opts?.listType !== undefined) s.listType = opts.listType;
  if (opts?.listMapKeys !== undefined) s.listMapKeys = opts.listMapKeys;
  return extra(s, opts);
}
/** A list merged by `key` (`patchStrategy: merge`, `patchMergeKey: key`). */
export function listMap(items: Schema, key: string, strategy: PatchStrategy = 'merge'): ArraySchema {
  return arrayOf(items, { mergeKey: key, patchStrategy: strategy, listType: 'map', listMapKeys: [key] });
}
/** A list of scalars merged as a set (`finalizers`). */
export function listSet(items: Schema = string()): ArraySchema {
  return arrayOf(items, { patchStrategy: 'merge', listType: 'set' });
}
export function enumOf(values: readonly string[], opts?: Extra): EnumSchema {
  return extra({ type: 'enum', values }, opts);
}
export function dateTime(opts?: Extra): DateTimeSchema {
  return extra({ type: 'date-time' }, opts);
}
export function preserveUnknown(opts?: Extra): AnySchema {
  return extra({ type: 'any' }, opts);
}

/** The same schema with merge metadata added. */
export function withPatch<T extends Schema>(s: T, x: Extra): T {
  return extra(s, x);
}

/** The schema of a property / map value / list item below `s`, or undefined when free-form. */
export function childSchema(s: Schema | undefined, key: string): Schema | undefined {
  if (s === undefined) return undefined;
  if (s.type === 'object') return s.properties[key];
  if (s.type === 'map') return s.values;
  return undefined;
}

/** Does the patch strategy include `part`? */
export function hasStrategy(s: Schema | undefined, part: 'merge' | 'replace' | 'retainKeys'): boolean {
  return s?.patchStrategy !== undefined && s.patchStrategy.split(',').includes(part);
}
