// Key ordering shared by every Store adapter.
//
// etcd orders keys by their bytes and SQLite's BINARY collation compares UTF-8 bytes with memcmp, so
// the one true order is UTF-8 byte order, which equals Unicode code point order. JavaScript's `<` on
// strings compares UTF-16 code units, which differs from code point order only when one side has a
// surrogate (U+D800–U+DFFF, used for code points ≥ U+10000) and the other a unit in U+E000–U+FFFF.

/** Compare two keys in UTF-8 byte order (negative, zero or positive). */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

// Moves surrogates above U+E000–U+FFFF, so that code unit order becomes code point order.
function fixup(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

/**
 * The smallest string greater (in UTF-8 byte order) than every string that starts with `prefix`,
 * or undefined when there is none (empty prefix, or a prefix of only U+10FFFF).
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0) ?? 0);
  while (points.length > 0) {
    const last = points.pop() ?? 0;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      points.push(next);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}

/** The smallest key strictly greater than `key`. */
export function keySuccessor(key: string): string {
  return `${key}\0`;
}
