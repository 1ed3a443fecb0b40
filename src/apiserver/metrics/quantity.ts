// Quantities and durations written the way metrics-server's objects serialize: CPU is a nanocore count
// in canonical decimal form ("123456n", "250m", "2"), memory a byte count in canonical binary form
// ("1234Ki", "2Mi", or plain bytes when not a multiple of 1024), `window` a Go duration ("10.005s").
import { formatQuantity } from '../../api/quantity.js';

/** A CPU rate in nanocores as a canonical Quantity: 250,000,000 → "250m", 123,456 → "123456n". */
export function formatCpuNanoCores(nanoCores: number): string {
  return formatQuantity({ nanos: BigInt(Math.max(0, Math.round(nanoCores))), format: 'DecimalSI' });
}

/** Bytes as a canonical binary Quantity: 1,263,616 → "1234Ki", 2 MiB → "2Mi", 1,234,567 → "1234567". */
export function formatMemoryBytes(bytes: number): string {
  return formatQuantity({
    nanos: BigInt(Math.max(0, Math.round(bytes))) * 1_000_000_000n,
    format: 'BinarySI',
  });
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

/** A value in thousandths as a canonical decimal Quantity: 1500 → "1500m", 2000 → "2", 0 → "0". */
export function formatMillis(millis: number): string {
  return formatQuantity({ nanos: BigInt(Math.max(0, Math.round(millis))) * 1_000_000n, format: 'DecimalSI' });
}
