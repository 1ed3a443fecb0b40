// Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource): `100m`, `0.5`, `1e3`,
// `128Mi`, `1Gi`, `2k`, `1.5G`. Values are held exactly as a count of nano-units (bigint), rounded
// up (away from zero) below 1n as upstream does, and printed in upstream's canonical form.

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface Quantity {
  /** The value times 10^9, exact. */
  readonly nanos: bigint;
  /** How the value is printed; chosen by the suffix it was written with. */
  readonly format: QuantityFormat;
}

export const quantityRegexp = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';
export const errFormatWrong = `quantities must match the regular expression '${quantityRegexp}'`;
export const errSuffix = "unable to parse quantity's suffix";

/** Thrown for text that is not a quantity; recognised by `code`. */
export class QuantityError extends Error {
  readonly code = 'InvalidQuantity' as const;
  constructor(message: string) {
    super(message);
    this.name = 'QuantityError';
  }
}

const decimalSuffixes: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const binarySuffixes: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const binaryNames = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
const decimalNames: Record<number, string> = {
  [-9]: 'n',
  [-6]: 'u',
  [-3]: 'm',
  0: '',
  3: 'k',
  6: 'M',
  9: 'G',
  12: 'T',
  15: 'P',
  18: 'E',
};
/** Guard against `1e999999` turning into a gigantic bigint. */
const maxExponent = 1000;

const NANO = 1_000_000_000n;

function pow(base: bigint, exp: number): bigint {
  return base ** BigInt(exp);
}

/** Division rounding away from zero (upstream rounds sub-nano precision up). */
function divUp(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d === 0n ? q : n < 0n ? q - 1n : q + 1n;
}

/** Parses a quantity; numbers are accepted as JSON numbers are upstream. Throws QuantityError. */
export function parseQuantity(input: string | number): Quantity {
  const text = typeof input === 'number' ? numberText(input) : input;
  if (text.length === 0) throw new QuantityError(errFormatWrong);
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$/.exec(text);
  if (m === null) throw new QuantityError(errFormatWrong);
  const sign = m[1] === '-' ? -1n : 1n;
  const whole = m[2] ?? '';
  const frac = m[3] ?? '';
  const suffix = m[4] ?? '';
  if (whole.length + frac.length === 0) throw new QuantityError(errFormatWrong);
  if (!/^[eEinumkKMGTP]*[-+]?[0-9]*$/.test(suffix)) throw new QuantityError(errFormatWrong);

  let format: QuantityFormat;
  let base10 = 0;
  let base1024 = 0;
  const bin = binarySuffixes[suffix];
  const dec = decimalSuffixes[suffix];
  if (bin !== undefined) {
    format = 'BinarySI';
    base1024 = bin;
  } else if (dec !== undefined) {
    format = 'DecimalSI';
    base10 = dec;
  } else {
    const e = /^[eE]([-+]?[0-9]+)$/.exec(suffix);
    if (e === null) throw new QuantityError(errSuffix);
    const exp = Number(e[1]);
    if (!Number.isSafeInteger(exp) || Math.abs(exp) > maxExponent) throw new QuantityError(errSuffix);
    format = 'DecimalExponent';
    base10 = exp;
  }

  const mantissa = BigInt(`${whole}${frac}` === '' ? '0' : `${whole}${frac}`);
  // value = mantissa * 10^(base10 - len(frac)) * 1024^base1024; nanos = value * 10^9.
  const exp10 = base10 - frac.length + 9;
  let num = mantissa * pow(1024n, base1024);
  let den = 1n;
  if (exp10 >= 0) num *= pow(10n, exp10);
  else den = pow(10n, -exp10);
  const nanos = sign * divUp(num, den);
  return { nanos: nanos === 0n ? 0n : nanos, format };
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) throw new QuantityError(errFormatWrong);
  return String(n);
}

/** Like parseQuantity but returns undefined for invalid text. */
export function tryParseQuantity(input: unknown): Quantity | undefined {
  if (typeof input !== 'string' && typeof input !== 'number') return undefined;
  try {
    return parseQuantity(input);
  } catch {
    return undefined;
  }
}

function asQuantity(q: Quantity | string | number): Quantity {
  return typeof q === 'object' ? q : parseQuantity(q);
}

/** The value in thousandths, rounded up (upstream MilliValue): `100m` → 100, `1` → 1000. */
export function quantityToMillis(q: Quantity | string | number): number {
  return Number(divUp(asQuantity(q).nanos, 1_000_000n));
}

/** The value rounded up to an integer (upstream Value): `100m` → 1, `1Ki` → 1024. */
export function quantityValue(q: Quantity | string | number): number {
  return Number(divUp(asQuantity(q).nanos, NANO));
}

/** The value as a float: `100m` → 0.1, `1.5G` → 1.5e9. */
export function quantityToNumber(q: Quantity | string | number): number {
  const n = asQuantity(q).nanos;
  const whole = n / NANO;
  const rest = n % NANO;
  return Number(whole) + Number(rest) / 1e9;
}

export function quantityFromMillis(millis: number, format: QuantityFormat = 'DecimalSI'): Quantity {
  if (!Number.isFinite(millis)) throw new QuantityError(errFormatWrong);
  return { nanos: BigInt(Math.ceil(millis)) * 1_000_000n, format };
}

export function quantityFromNumber(value: number, format: QuantityFormat = 'DecimalSI'): Quantity {
  return { ...parseQuantity(value), format };
}

export function compareQuantities(a: Quantity | string | number, b: Quantity | string | number): -1 | 0 | 1 {
  const x = asQuantity(a).nanos;
  const y = asQuantity(b).nanos;
  return x < y ? -1 : x > y ? 1 : 0;
}

export function addQuantities(a: Quantity | string | number, b: Quantity | string | number): Quantity {
  const x = asQuantity(a);
  return { nanos: x.nanos + asQuantity(b).nanos, format: x.format };
}

/** Upstream's canonical form: `1.5Gi` → `1536Mi`, `0.5` → `500m`, `1.5G` → `1500M`, `1000` → `1k`. */
export function formatQuantity(q: Quantity | string | number): string {
  const { nanos, format } = asQuantity(q);
  if (nanos === 0n) return '0';
  const neg = nanos < 0n;
  const abs = neg ? -nanos : nanos;
  const sign = neg ? '-' : '';
  if (format === 'BinarySI' && abs >= 1024n * NANO && abs % NANO === 0n) {
    let n = abs / NANO;
    let k = 0;
    while (k < binaryNames.length - 1 && n % 1024n === 0n) {
      n /= 1024n;
      k++;
    }
    return `${sign}${n}${binaryNames[k] ?? ''}`;
  }
  let n = abs;
  let exp = -9;
  const cap = format === 'DecimalExponent' ? Number.POSITIVE_INFINITY : 18;
  while (exp + 3 <= cap && n % 1000n === 0n) {
    n /= 1000n;
    exp += 3;
  }
  if (format === 'DecimalExponent') return `${sign}${n}${exp === 0 ? '' : `e${exp}`}`;
  return `${sign}${n}${decimalNames[exp] ?? ''}`;
}

/** Returns the problems with a quantity value, empty when valid. */
export function quantityErrors(value: unknown): string[] {
  if (typeof value !== 'string' && typeof value !== 'number') return [errFormatWrong];
  try {
    parseQuantity(value);
    return [];
  } catch (err) {
    return [err instanceof QuantityError ? err.message : errFormatWrong];
  }
}
