// Process figures from /proc: resident memory and CPU time of a child process (Linux only).
import { readFileSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat times; 100 on every Linux we run on. */
const clockTicks = 100;

/** A `kB` field of /proc/<pid>/status (VmRSS, VmHWM, ...) in MiB, or NaN when unreadable. */
export function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return m?.[1] === undefined ? Number.NaN : Number(m[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU seconds a process has used so far, or NaN when unreadable. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may itself contain spaces).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return (utime + stime) / clockTicks;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds the whole machine has spent busy so far (every process and the kernel; /proc/stat, not idle or iowait). */
export function machineBusySeconds(): number {
  const cpu =
    readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const busy = (cpu[0] ?? 0) + (cpu[1] ?? 0) + (cpu[2] ?? 0) + (cpu[5] ?? 0) + (cpu[6] ?? 0) + (cpu[7] ?? 0);
  return busy / clockTicks;
}

/** The 1, 5 and 15 minute load averages as /proc/loadavg prints them ("2.05 1.70 1.90"). */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/**
 * Wait until the process uses less than `busyFraction` of one core over `windowMs` (it has finished the
 * work our requests caused: the scheduler's attempts, events), at most `maxMs`. Resolves to the time
 * waited in ms, or NaN when it never got that quiet.
 */
export async function untilQuiet(
  pid: number,
  opts: { busyFraction?: number; windowMs?: number; maxMs?: number } = {},
): Promise<number> {
  const busyFraction = opts.busyFraction ?? 0.05;
  const windowMs = opts.windowMs ?? 1_000;
  const maxMs = opts.maxMs ?? 120_000;
  const start = performance.now();
  let cpu = cpuSeconds(pid);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const now = cpuSeconds(pid);
    if (Number.isNaN(now)) return Number.NaN;
    if (now - cpu < (busyFraction * windowMs) / 1000) return performance.now() - start - windowMs;
    cpu = now;
    if (performance.now() - start > maxMs) return Number.NaN;
  }
}
