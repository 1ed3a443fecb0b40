import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  compareQuantities,
  errFormatWrong,
  errSuffix,
  formatQuantity,
  parseQuantity,
  quantityErrors,
  quantityToMillis,
  quantityToNumber,
  quantityValue,
} from './quantity.js';

describe('parseQuantity', () => {
  it.each([
    ['100m', 100, 0.1, '100m'],
    ['0.5', 500, 0.5, '500m'],
    ['1e3', 1_000_000, 1000, '1e3'],
    ['128Mi', 128 * 1024 * 1024 * 1000, 128 * 1024 * 1024, '128Mi'],
    ['1Gi', 1024 ** 3 * 1000, 1024 ** 3, '1Gi'],
    ['2k', 2_000_000, 2000, '2k'],
    ['1.5G', 1.5e12, 1.5e9, '1500M'],
    ['1.5Gi', 1.5 * 1024 ** 3 * 1000, 1.5 * 1024 ** 3, '1536Mi'],
    ['1000', 1_000_000, 1000, '1k'],
    ['1500', 1_500_000, 1500, '1500'],
    ['512', 512_000, 512, '512'],
    ['0', 0, 0, '0'],
    ['-1', -1000, -1, '-1'],
    ['+2', 2000, 2, '2'],
    ['.5', 500, 0.5, '500m'],
    ['250u', 1, 0.00025, '250u'],
    ['1n', 1, 1e-9, '1n'],
    ['2048', 2_048_000, 2048, '2048'],
    ['2048Ki', 2 * 1024 ** 2 * 1000, 2 * 1024 ** 2, '2Mi'],
    ['1E', 1e21, 1e18, '1E'],
    ['1.5e3', 1_500_000, 1500, '1500'],
  ])('%s', (text, millis, value, canonical) => {
    const q = parseQuantity(text);
    expect(quantityToMillis(q)).toBe(millis);
    expect(quantityToNumber(q)).toBeCloseTo(value, 9);
    expect(formatQuantity(q)).toBe(canonical);
  });

  it('accepts JSON numbers', () => {
    expect(quantityToMillis(parseQuantity(2))).toBe(2000);
    expect(formatQuantity(0.25)).toBe('250m');
  });

  it('rounds below a nano-unit up, like upstream', () => {
    expect(parseQuantity('0.1n').nanos).toBe(1n);
    expect(quantityToMillis('1u')).toBe(1);
    expect(quantityValue('100m')).toBe(1);
  });

  it.each([
    ['', errFormatWrong],
    ['abc', errFormatWrong],
    ['1 Gi', errFormatWrong],
    ['1GB', errFormatWrong],
    ['1Gii', errSuffix],
    ['.', errFormatWrong],
    ['1e', errSuffix],
    ['1e99999', errSuffix],
  ])('rejects %j with a clear error', (text, msg) => {
    expect(() => parseQuantity(text)).toThrow(msg);
    expect(quantityErrors(text)).toEqual([msg]);
  });

  it('compares exactly across formats', () => {
    expect(compareQuantities('1Gi', '1G')).toBe(1);
    expect(compareQuantities('1000m', '1')).toBe(0);
    expect(compareQuantities('500m', '0.6')).toBe(-1);
  });

  it('canonical form parses back to the same value', () => {
    const suffixes = ['', 'm', 'k', 'M', 'G', 'Ki', 'Mi', 'Gi', 'e3', 'u', 'n'];
    fc.assert(
      fc.property(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.constantFrom(...suffixes), (n, s) => {
        const q = parseQuantity(`${n}${s}`);
        expect(parseQuantity(formatQuantity(q)).nanos).toBe(q.nanos);
      }),
    );
  });
});
