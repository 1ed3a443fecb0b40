// Quantities and durations written the way metrics-server's objects serialize: CPU is a nanocore count
// in canonical decimal form ("123456n", "250m", "2"), memory a byte count in canonical binary form
// ("1234Ki", "2Mi", or plain bytes when not a multiple of 1024), `window` a Go duration ("10.005s").

const decimalSuffixes: ReadonlyArray<readonly [number, string]> = [
  [18, 'E'],
  [15, 'P'],
  [12, 'T'],
  [9, 'G'],
  [6, 'M'],
  [3, 'k'],
  [0, ''],
];

/**
 * A CPU rate in nanocores as Kubernetes' canonical Quantity string: the largest SI suffix (n, u, m, none,
 * k, ...) that keeps the number whole, so 250,000,000 n is "250m" and 1,500,000,000 n is "1500m".
 */
export function formatCpuNanoCores(nanoCores: number): string {
  const n = Math.max(0, Math.round(nanoCores));
  if (n === 0) return '0';
  if (n % 1e9 === 0) {
    const cores = n / 1e9;
    for (const [exp, suffix] of decimalSuffixes) {
      const scale = 10 ** exp;
      if (cores % scale === 0) return `${cores / scale}${suffix}`;
    }
  }
  if (n % 1e6 === 0) return `${n / 1e6}m`;
  if (n % 1e3 === 0) return `${n / 1e3}u`;
  return `${n}n`;
}

const binarySuffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] as const;

/** Bytes as a canonical binary Quantity: the largest power-of-1024 suffix that divides exactly. */
export function formatMemoryBytes(bytes: number): string {
  let n = Math.max(0, Math.round(bytes));
  // Below 1024 Kubernetes writes the plain number (DecimalSI), which is the same digits.
  if (n < 1024) return String(n);
  let i = 0;
  while (n % 1024 === 0 && i < binarySuffixes.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n}${binarySuffixes[i] ?? ''}`;
}

/**
 * Seconds as Go's time.Duration.String(), which metav1.Duration uses on the wire: "10s", "1.5s",
 * "1m0.5s", "500ms", "0s". Rounded to the millisecond (our samples' precision).
 */
export function formatGoDuration(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  // Up to three decimals, trailing zeros dropped, as Go prints them.
  const sec = `${s.toFixed(3).replace(/\.?0+$/, '')}s`;
  if (h > 0) return `${h}h${m}m${sec}`;
  if (m > 0) return `${m}m${sec}`;
  return sec;
}
