import { describe, expect, it } from 'vitest';
import {
  isProtobufDecodeError,
  readFields,
  readPackedVarints,
  WireReader,
  WireType,
  type RawField,
} from './wire.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

function decodeError(fn: () => unknown): { message: string; offset: number } {
  try {
    fn();
  } catch (err) {
    if (isProtobufDecodeError(err)) return { message: err.message, offset: err.offset };
    throw err;
  }
  throw new Error('expected a ProtobufDecodeError');
}

describe('varints', () => {
  it.each([
    [[0x00], 0],
    [[0x01], 1],
    [[0x7f], 127],
    [[0x80, 0x01], 128],
    [[0xac, 0x02], 300],
    [[0xff, 0xff, 0xff, 0xff, 0x0f], 0xffffffff],
    // 2^53 - 1 is still a number; 2^53 and above are bigints.
    [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f], Number.MAX_SAFE_INTEGER],
    [[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10], 2n ** 53n],
    // -1 as an int32/int64 is ten bytes on the wire.
    [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 0xffffffffffffffffn],
  ])('reads %j as %s', (input, want) => {
    expect(new WireReader(Uint8Array.from(input)).varint()).toBe(want);
  });

  it('rejects a truncated varint and one longer than ten bytes', () => {
    expect(decodeError(() => new WireReader(bytes(0x80, 0x80)).varint()).message).toBe(
      'truncated varint at byte 0',
    );
    const eleven = new Uint8Array(11).fill(0x80);
    expect(decodeError(() => new WireReader(eleven).varint()).message).toBe(
      'varint longer than 10 bytes at byte 0',
    );
  });
});

describe('fields', () => {
  it('reads every supported wire type with its offsets', () => {
    const fields = readFields(
      bytes(
        0x08,
        0x96,
        0x01, // 1: varint 150
        0x12,
        0x02,
        0x68,
        0x69, // 2: "hi"
        0x1d,
        1,
        2,
        3,
        4, // 3: fixed32
        0x21,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8, // 4: fixed64
      ),
      10,
    );
    const brief = fields.map((f: RawField) => ({
      no: f.no,
      wire: f.wire,
      offset: f.offset,
      valueOffset: f.valueOffset,
      value: f.value instanceof Uint8Array ? [...f.value] : f.value,
    }));
    expect(brief).toEqual([
      { no: 1, wire: WireType.Varint, offset: 10, valueOffset: 11, value: 150 },
      { no: 2, wire: WireType.LengthDelimited, offset: 13, valueOffset: 15, value: [0x68, 0x69] },
      { no: 3, wire: WireType.Fixed32, offset: 17, valueOffset: 18, value: [1, 2, 3, 4] },
      { no: 4, wire: WireType.Fixed64, offset: 22, valueOffset: 23, value: [1, 2, 3, 4, 5, 6, 7, 8] },
    ]);
  });

  it('reads large field numbers', () => {
    // Field 536870911 (the maximum), wire type 0: tag = (n << 3) | 0.
    const f = readFields(bytes(0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01));
    expect(f[0]?.no).toBe(536870911);
  });

  it.each<[string, number[], string]>([
    ['field number 0', [0x00, 0x01], 'invalid field number 0 at byte 0'],
    [
      'a length past the end',
      [0x12, 0x05, 0x61],
      'length-delimited field of 5 bytes runs past the end of its message (1 left) at byte 1',
    ],
    ['a truncated fixed32', [0x0d, 0x01, 0x02], 'truncated fixed32 field (4 bytes needed, 2 left) at byte 1'],
    ['a truncated fixed64', [0x09, 0x01], 'truncated fixed64 field (8 bytes needed, 1 left) at byte 1'],
    [
      'a start-group',
      [0x0b, 0x0c],
      'field 1 uses wire type 3 (start-group), which is not supported at byte 0',
    ],
    ['an end-group', [0x0c], 'field 1 uses wire type 4 (end-group), which is not supported at byte 0'],
    ['wire type 6', [0x0e], 'field 1 has invalid wire type 6 at byte 0'],
    ['wire type 7', [0x0f], 'field 1 has invalid wire type 7 at byte 0'],
    ['a truncated tag', [0x08, 0x01, 0x80], 'truncated varint at byte 2'],
    ['a truncated length', [0x12, 0x80], 'truncated varint at byte 1'],
    [
      'a field number above 2^29-1',
      [0x80, 0x80, 0x80, 0x80, 0x10, 0x00],
      'invalid field number 536870912 at byte 0',
    ],
  ])('rejects %s', (_what, input, message) => {
    expect(decodeError(() => readFields(Uint8Array.from(input))).message).toBe(message);
  });

  it('reports offsets relative to the outermost buffer', () => {
    expect(decodeError(() => readFields(bytes(0x12, 0x05), 100))).toEqual({
      message: 'length-delimited field of 5 bytes runs past the end of its message (0 left) at byte 101',
      offset: 101,
    });
  });

  it('reads packed varints and rejects a truncated one', () => {
    expect(readPackedVarints(bytes(0x01, 0x96, 0x01, 0x00), 0)).toEqual([1, 150, 0]);
    expect(decodeError(() => readPackedVarints(bytes(0x01, 0x96), 7)).message).toBe(
      'truncated varint at byte 8',
    );
  });
});
