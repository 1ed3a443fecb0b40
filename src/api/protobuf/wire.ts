// The protobuf wire format (https://protobuf.dev/programming-guides/encoding/), decoding only:
// varints, 64-bit and 32-bit fixed fields and length-delimited fields. Groups (wire types 3 and 4)
// are deprecated and never produced by Kubernetes; they are rejected. Pure: Uint8Array only.

export const WireType = {
  Varint: 0,
  Fixed64: 1,
  LengthDelimited: 2,
  StartGroup: 3,
  EndGroup: 4,
  Fixed32: 5,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

const wireTypeNames: Record<number, string> = {
  0: 'varint',
  1: 'fixed64',
  2: 'length-delimited',
  3: 'start-group',
  4: 'end-group',
  5: 'fixed32',
};

export function wireTypeName(t: number): string {
  return `${t} (${wireTypeNames[t] ?? 'invalid'})`;
}

/** Malformed input; `offset` is the byte position in the buffer given to the outermost reader. */
export class ProtobufDecodeError extends Error {
  readonly code = 'ProtobufDecode' as const;
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'ProtobufDecodeError';
    this.offset = offset;
  }
}

export function isProtobufDecodeError(err: unknown): err is ProtobufDecodeError {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ProtobufDecode';
}

/**
 * One field as read from the wire, before any schema is applied. `offset` is where its tag starts
 * and `valueOffset` where its value (after the length, for length-delimited fields) starts.
 */
export type RawField = { no: number; offset: number; valueOffset: number } & (
  | { wire: typeof WireType.Varint; value: number | bigint }
  | { wire: typeof WireType.Fixed64; value: Uint8Array }
  | { wire: typeof WireType.LengthDelimited; value: Uint8Array }
  | { wire: typeof WireType.Fixed32; value: Uint8Array }
);

/** The largest field number protobuf allows (2^29 - 1). */
const maxFieldNumber = 0x1fffffff;

/**
 * Reads one message's bytes field by field. `base` is where `buf` starts in the outermost
 * buffer, so errors point at the byte of the whole body.
 */
export class WireReader {
  private pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly base = 0,
  ) {}

  get offset(): number {
    return this.base + this.pos;
  }

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  private fail(message: string, at = this.pos): never {
    throw new ProtobufDecodeError(`${message} at byte ${this.base + at}`, this.base + at);
  }

  /**
   * A base-128 varint of at most 10 bytes (64 bits, unsigned): a number when it fits 53 bits, which
   * is nearly always, else a bigint (large or negative int64/int32 values).
   */
  varint(): number | bigint {
    // Fast path: up to 7 bytes (49 bits) fit a double exactly; most varints are 1-2 bytes.
    const buf = this.buf;
    let pos = this.pos;
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 7 && pos < buf.length; i++) {
      const b = buf[pos++] ?? 0;
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        return n;
      }
      scale *= 128;
    }
    return this.slowVarint();
  }

  private slowVarint(): number | bigint {
    const start = this.pos;
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.fail('truncated varint', start);
      const b = this.buf[this.pos++] ?? 0;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        const v = BigInt.asUintN(64, result);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      shift += 7n;
    }
    return this.fail('varint longer than 10 bytes', start);
  }

  /** A varint that must be a small non-negative number (tags, lengths): numbers only. */
  private smallVarint(what: string): number {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) this.fail('truncated varint', start);
      const b = buf[pos++] ?? 0;
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        if (n > Number.MAX_SAFE_INTEGER) this.fail(`${what} ${n} is too large`, start);
        return n;
      }
      scale *= 128;
    }
    return this.fail('varint longer than 10 bytes', start);
  }

  /** A varint used as a length: must fit what is left of the buffer. */
  private length(): number {
    const at = this.pos;
    const n = this.smallVarint('length');
    const left = this.buf.length - this.pos;
    if (n > left) {
      this.fail(`length-delimited field of ${n} bytes runs past the end of its message (${left} left)`, at);
    }
    return n;
  }

  private take(n: number, what: string): Uint8Array {
    if (this.pos + n > this.buf.length) {
      this.fail(`truncated ${what} (${n} bytes needed, ${this.buf.length - this.pos} left)`);
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** The next field, or undefined at the end of the message. */
  next(): RawField | undefined {
    if (this.done()) return undefined;
    const at = this.pos;
    const key = this.smallVarint('field key');
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (no === 0 || no > maxFieldNumber) this.fail(`invalid field number ${no}`, at);
    const offset = this.base + at;
    switch (wire) {
      case WireType.Varint: {
        const valueOffset = this.offset;
        return { no, wire, value: this.varint(), offset, valueOffset };
      }
      case WireType.Fixed64: {
        const valueOffset = this.offset;
        return { no, wire, value: this.take(8, 'fixed64 field'), offset, valueOffset };
      }
      case WireType.LengthDelimited: {
        const n = this.length();
        const valueOffset = this.offset;
        return { no, wire, value: this.take(n, 'length-delimited field'), offset, valueOffset };
      }
      case WireType.Fixed32: {
        const valueOffset = this.offset;
        return { no, wire, value: this.take(4, 'fixed32 field'), offset, valueOffset };
      }
      case WireType.StartGroup:
      case WireType.EndGroup:
        return this.fail(`field ${no} uses wire type ${wireTypeName(wire)}, which is not supported`, at);
      default:
        return this.fail(`field ${no} has invalid wire type ${wire}`, at);
    }
  }
}

/** The fields of a message, in wire order. */
export function* fields(buf: Uint8Array, base = 0): Generator<RawField, void, undefined> {
  const r = new WireReader(buf, base);
  for (let f = r.next(); f !== undefined; f = r.next()) yield f;
}

/** All fields of a message, in wire order, as an array. */
export function readFields(buf: Uint8Array, base = 0): RawField[] {
  return [...fields(buf, base)];
}

/** The varints of a packed repeated scalar field. */
export function readPackedVarints(buf: Uint8Array, base: number): (number | bigint)[] {
  const r = new WireReader(buf, base);
  const out: (number | bigint)[] = [];
  while (!r.done()) out.push(r.varint());
  return out;
}
