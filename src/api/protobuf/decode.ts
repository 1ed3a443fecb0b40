// Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl >= 1.32
// sends them for its create subcommands: the 4-byte magic `k8s\0`, then a runtime.Unknown whose
// typeMeta names the kind and whose raw field is that kind's message. The result is the JSON
// object the same client would have sent as JSON: Go decodes the message into its typed struct and
// encoding/json writes that struct, so the rules of messages.ts (omitempty, pointers, structs
// always written, wrappers) are applied here.
import { ApiError, errors } from '../errors.js';
import { messageDef, topLevelKinds, type FieldDef, type MessageDef } from './messages.js';
import {
  isProtobufDecodeError,
  ProtobufDecodeError,
  fields,
  readPackedVarints,
  WireType,
  wireTypeName,
  type RawField,
} from './wire.js';

export const protobufMediaType = 'application/vnd.kubernetes.protobuf';

/** `k8s\0`, the prefix of every Kubernetes protobuf body. */
export const protobufMagic: Uint8Array = Uint8Array.of(0x6b, 0x38, 0x73, 0x00);

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface DecodedProtobuf {
  apiVersion: string;
  kind: string;
  /** The object with `kind` and `apiVersion` first, as the JSON encoding has it. */
  object: JsonObject;
}

const textDecoder = new TextDecoder('utf-8');

/** UTF-8 to string, invalid sequences replaced by U+FFFD; short ASCII (most keys and names) inline. */
const utf8 = {
  decode(b: Uint8Array): string {
    if (b.length <= 64) {
      let s = '';
      for (let i = 0; i < b.length; i++) {
        const c = b[i] ?? 0;
        if (c >= 0x80) return textDecoder.decode(b);
        s += String.fromCharCode(c);
      }
      return s;
    }
    return textDecoder.decode(b);
  },
};
const empty: Uint8Array = new Uint8Array(0);

/**
 * Decode a protobuf body. Throws ApiError: 400 for malformed bytes (naming the problem, the field
 * path and the byte offset), 415 for a well-formed envelope of a kind without a table here.
 */
export function decodeKubernetesProtobuf(bytes: Uint8Array): DecodedProtobuf {
  if (bytes.length < protobufMagic.length || protobufMagic.some((b, i) => bytes[i] !== b)) {
    throw errors.badRequest(
      'the protobuf request body does not start with the 4-byte magic "k8s\\x00" ' +
        `(${bytes.length} bytes received); send Content-Type application/json for JSON bodies`,
    );
  }
  try {
    const envelope = decodeEnvelope(bytes.subarray(protobufMagic.length), protobufMagic.length);
    const key = `${envelope.apiVersion}/${envelope.kind}`;
    const table = topLevelKinds.get(key);
    if (table === undefined) throw unsupportedKind(envelope.apiVersion, envelope.kind);
    if (envelope.contentEncoding !== '') {
      throw new ApiError(
        'UnsupportedMediaType',
        `protobuf bodies with contentEncoding ${JSON.stringify(envelope.contentEncoding)} are not supported`,
      );
    }
    if (envelope.contentType !== '' && envelope.contentType !== protobufMediaType) {
      throw new ApiError(
        'UnsupportedMediaType',
        `the protobuf envelope carries ${JSON.stringify(envelope.contentType)}; only ${protobufMediaType} is supported`,
      );
    }
    const decoded = decodeMessage(messageDef(table), envelope.raw, envelope.rawOffset, envelope.kind);
    const object: JsonObject = { kind: envelope.kind, apiVersion: envelope.apiVersion, ...decoded };
    return { apiVersion: envelope.apiVersion, kind: envelope.kind, object };
  } catch (err) {
    if (isProtobufDecodeError(err)) {
      throw errors.badRequest(`the protobuf request body is malformed: ${err.message}`);
    }
    throw err;
  }
}

function unsupportedKind(apiVersion: string, kind: string): ApiError {
  const supported = [...topLevelKinds.keys()].join(', ');
  const what =
    kind === ''
      ? 'an envelope that names no kind'
      : `${kind} (${apiVersion === '' ? 'no apiVersion' : apiVersion})`;
  return new ApiError(
    'UnsupportedMediaType',
    `protobuf request bodies are decoded for ${supported}; this request carries ${what}. ` +
      'Send it as JSON instead (Content-Type: application/json), e.g. with `kubectl create -f` / ' +
      '`kubectl apply -f`, or with kubectl 1.31 or older for the `kubectl create <kind>` subcommands',
  );
}

interface Envelope {
  apiVersion: string;
  kind: string;
  raw: Uint8Array;
  rawOffset: number;
  contentEncoding: string;
  contentType: string;
}

/** runtime.Unknown: typeMeta = 1, raw = 2, contentEncoding = 3, contentType = 4. */
function decodeEnvelope(buf: Uint8Array, base: number): Envelope {
  const unknown = messageDef('Unknown');
  let typeMeta: JsonObject = {};
  let raw = empty;
  let rawOffset = base + buf.length;
  let contentEncoding = '';
  let contentType = '';
  for (const f of fields(buf, base)) {
    const def = unknown.byNumber.get(f.no);
    if (def === undefined) continue;
    const bytes = expectBytes(f, `envelope.${def.json}`);
    switch (f.no) {
      case 1:
        typeMeta = decodeMessage(messageDef('TypeMeta'), bytes, f.valueOffset, 'envelope.typeMeta');
        break;
      case 2:
        raw = bytes;
        rawOffset = f.valueOffset;
        break;
      case 3:
        contentEncoding = utf8.decode(bytes);
        break;
      case 4:
        contentType = utf8.decode(bytes);
        break;
      default:
        break;
    }
  }
  return {
    apiVersion: typeof typeMeta.apiVersion === 'string' ? typeMeta.apiVersion : '',
    kind: typeof typeMeta.kind === 'string' ? typeMeta.kind : '',
    raw,
    rawOffset,
    contentEncoding,
    contentType,
  };
}

function fail(message: string, offset: number): never {
  throw new ProtobufDecodeError(`${message} at byte ${offset}`, offset);
}

function expectBytes(f: RawField, path: string): Uint8Array {
  if (f.wire !== WireType.LengthDelimited) {
    fail(
      `${path}: field ${f.no} has wire type ${wireTypeName(f.wire)}, expected ${wireTypeName(WireType.LengthDelimited)}`,
      f.offset,
    );
  }
  return f.value;
}

function expectVarint(f: RawField, path: string): number | bigint {
  if (f.wire !== WireType.Varint) {
    fail(
      `${path}: field ${f.no} has wire type ${wireTypeName(f.wire)}, expected ${wireTypeName(WireType.Varint)}`,
      f.offset,
    );
  }
  return f.value;
}

/** Decode one message with its table; fields without an entry are skipped, as protobuf does. */
function decodeMessage(def: MessageDef, buf: Uint8Array, base: number, path: string): JsonObject {
  const byField = new Map<number, RawField[]>();
  for (const f of fields(buf, base)) {
    if (!def.byNumber.has(f.no)) continue;
    const list = byField.get(f.no);
    if (list === undefined) byField.set(f.no, [f]);
    else list.push(f);
  }
  const out: JsonObject = {};
  for (const field of def.fields) emitField(out, field, byField.get(field.no) ?? [], path, base + buf.length);
  return out;
}

function emitField(out: JsonObject, field: FieldDef, raws: RawField[], path: string, end: number): void {
  const p = field.inline ? path : `${path}.${field.json}`;
  if (field.map) {
    if (raws.length === 0) {
      if (field.required) out[field.json] = null;
      return;
    }
    const entries = new Map<string, Json>();
    for (const r of raws) {
      const [k, v] = decodeMapEntry(field, r, p);
      entries.set(k, v);
    }
    // encoding/json writes map keys sorted. fromEntries makes every key, "__proto__" included, an
    // own property, as JSON.parse does.
    const obj: JsonObject = Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    out[field.json] = obj;
    return;
  }
  if (field.repeated) {
    const items: Json[] = [];
    for (const r of raws) {
      // A loop, not push(...): a packed list can hold millions of elements.
      for (const item of decodeRepeated(field, r, `${p}[${items.length}]`)) items.push(item);
    }
    if (items.length > 0) out[field.json] = items;
    else if (field.required) out[field.json] = null;
    return;
  }
  if (field.category === 'scalar') {
    let value: Json | undefined;
    for (const r of raws) value = decodeScalar(field.type, r, p);
    if (value === undefined) {
      if (field.ptr) {
        if (field.required) out[field.json] = null;
      } else if (field.required) {
        out[field.json] = zeroScalar(field.type);
      }
      return;
    }
    if (field.ptr || field.required || !isZero(value)) out[field.json] = value;
    return;
  }
  // A message or wrapper. Repeated occurrences of a singular message merge, which for the wire
  // format is the same as decoding their bytes one after the other.
  if (raws.length === 0 && field.ptr) {
    if (field.required) out[field.json] = null;
    return;
  }
  const chunks = raws.map((r) => expectBytes(r, p));
  const bytes = chunks.length === 1 ? (chunks[0] ?? empty) : concat(chunks);
  const base = raws[0]?.valueOffset ?? end;
  const value = decodeValue(field.type, bytes, base, p);
  if (field.inline) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) Object.assign(out, value);
  } else {
    out[field.json] = value;
  }
}

function decodeRepeated(field: FieldDef, r: RawField, path: string): Json[] {
  if (field.category === 'scalar') {
    const packable = field.type === 'int32' || field.type === 'int64' || field.type === 'bool';
    if (packable && r.wire === WireType.LengthDelimited) {
      return readPackedVarints(r.value, r.valueOffset).map((v) => fromVarint(field.type, v));
    }
    return [decodeScalar(field.type, r, path)];
  }
  return [decodeValue(field.type, expectBytes(r, path), r.valueOffset, path)];
}

/** A map entry is a message with key = 1 (string here) and value = 2. */
function decodeMapEntry(field: FieldDef, r: RawField, path: string): [string, Json] {
  const entry = expectBytes(r, path);
  let key = '';
  let scalar: Json | undefined;
  const valueChunks: RawField[] = [];
  for (const f of fields(entry, r.valueOffset)) {
    if (f.no === 1) key = utf8.decode(expectBytes(f, `${path} (map key)`));
    else if (f.no === 2) {
      if (field.category === 'scalar')
        scalar = decodeScalar(field.type, f, `${path}[${JSON.stringify(key)}]`);
      else valueChunks.push(f);
    }
  }
  const p = `${path}[${JSON.stringify(key)}]`;
  if (field.category === 'scalar') return [key, scalar ?? zeroScalar(field.type)];
  const chunks = valueChunks.map((f) => expectBytes(f, p));
  const bytes = chunks.length === 1 ? (chunks[0] ?? empty) : concat(chunks);
  return [key, decodeValue(field.type, bytes, valueChunks[0]?.valueOffset ?? r.valueOffset, p)];
}

function decodeScalar(type: string, r: RawField, path: string): Json {
  switch (type) {
    case 'string':
      return utf8.decode(expectBytes(r, path));
    case 'bytes':
      return base64(expectBytes(r, path));
    default:
      return fromVarint(type, expectVarint(r, path));
  }
}

/** The varint as the field's type: int32 and int64 are two's complement, as protobuf has them. */
function fromVarint(type: string, v: number | bigint): Json {
  switch (type) {
    case 'bool':
      return v !== 0 && v !== 0n;
    case 'int32':
      return typeof v === 'number' && v <= 0x7fffffff ? v : Number(BigInt.asIntN(32, BigInt(v)));
    default:
      return typeof v === 'number' ? v : Number(BigInt.asIntN(64, v));
  }
}

function zeroScalar(type: string): Json {
  switch (type) {
    case 'string':
    case 'bytes':
      return '';
    case 'bool':
      return false;
    default:
      return 0;
  }
}

function isZero(v: Json): boolean {
  return v === '' || v === 0 || v === false;
}

function decodeValue(type: string, bytes: Uint8Array, base: number, path: string): Json {
  switch (type) {
    case 'Time':
      return decodeTime(bytes, base, path, false);
    case 'MicroTime':
      return decodeTime(bytes, base, path, true);
    case 'IntOrString':
      return decodeIntOrString(bytes, base, path);
    case 'Quantity':
      return decodeQuantity(bytes, base, path);
    case 'FieldsV1':
      return decodeRawJson(bytes, base, path);
    default:
      return decodeMessage(messageDef(type), bytes, base, path);
  }
}

/** 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range RFC 3339 (and Go's encoder) allows. */
const minSeconds = -62167219200n;
const maxSeconds = 253402300799n;

/**
 * metav1.Time / MicroTime: { int64 seconds = 1; int32 nanos = 2 }. An empty message is the zero
 * time, written as null. Time keeps whole seconds (upstream drops the nanos on decode); MicroTime
 * keeps microseconds.
 */
function decodeTime(bytes: Uint8Array, base: number, path: string, micro: boolean): Json {
  if (bytes.length === 0) return null;
  let seconds = 0n;
  let nanos = 0n;
  for (const f of fields(bytes, base)) {
    if (f.no === 1) seconds = BigInt.asIntN(64, BigInt(expectVarint(f, `${path}.seconds`)));
    else if (f.no === 2) nanos = BigInt.asIntN(32, BigInt(expectVarint(f, `${path}.nanos`)));
  }
  if (!micro) nanos = 0n;
  const totalNanos = seconds * 1_000_000_000n + nanos;
  let secs = totalNanos / 1_000_000_000n;
  let frac = totalNanos % 1_000_000_000n;
  if (frac < 0n) {
    frac += 1_000_000_000n;
    secs -= 1n;
  }
  if (secs < minSeconds || secs > maxSeconds) {
    fail(`${path}: timestamp of ${seconds} seconds is outside the years 0000-9999`, base);
  }
  const iso = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  if (!micro) return `${iso}Z`;
  return `${iso}.${String(frac / 1000n).padStart(6, '0')}Z`;
}

/** intstr.IntOrString: { int64 type = 1; int32 intVal = 2; string strVal = 3 }; type 0 = int, 1 = string. */
function decodeIntOrString(bytes: Uint8Array, base: number, path: string): Json {
  let type = 0n;
  let intVal = 0;
  let strVal = '';
  for (const f of fields(bytes, base)) {
    if (f.no === 1) type = BigInt.asIntN(64, BigInt(expectVarint(f, `${path}.type`)));
    else if (f.no === 2) intVal = fromVarint('int32', expectVarint(f, `${path}.intVal`)) as number;
    else if (f.no === 3) strVal = utf8.decode(expectBytes(f, `${path}.strVal`));
  }
  if (type === 0n) return intVal;
  if (type === 1n) return strVal;
  return fail(`${path}: IntOrString has type ${type}; only 0 (int) and 1 (string) exist`, base);
}

/** resource.Quantity: { string string = 1 }; written in JSON as that string ("0" when empty). */
function decodeQuantity(bytes: Uint8Array, base: number, path: string): Json {
  let s = '';
  for (const f of fields(bytes, base)) {
    if (f.no === 1) s = utf8.decode(expectBytes(f, `${path}.string`));
  }
  return s === '' ? '0' : s;
}

/** metav1.FieldsV1: { bytes Raw = 1 } holding JSON, embedded as is. */
function decodeRawJson(bytes: Uint8Array, base: number, path: string): Json {
  let raw = empty;
  let at = base;
  for (const f of fields(bytes, base)) {
    if (f.no === 1) {
      raw = expectBytes(f, `${path}.raw`);
      at = f.valueOffset;
    }
  }
  if (raw.length === 0) return null;
  try {
    return JSON.parse(utf8.decode(raw)) as Json;
  } catch {
    return fail(`${path}: the raw field is not valid JSON`, at);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 with padding, as encoding/json writes []byte. */
export function base64(bytes: Uint8Array): string {
  const sextet = (n: number, shift: number): string => alphabet.charAt((n >> shift) & 63);
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += sextet(n, 18) + sextet(n, 12) + sextet(n, 6) + sextet(n, 0);
  }
  if (bytes.length - i === 1) {
    const n = (bytes[i] ?? 0) << 16;
    out += `${sextet(n, 18)}${sextet(n, 12)}==`;
  } else if (bytes.length - i === 2) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8);
    out += `${sextet(n, 18)}${sextet(n, 12)}${sextet(n, 6)}=`;
  }
  return out;
}
