// The node-lifecycle flags of `flotilla server` / `flotilla up` (declared in server-command.ts) turned into
// the controller's options. Bad values are usage errors naming the flag.
import type { NodeLifecycleOptions } from '../controllers/node-lifecycle/controller.js';
import { parseDuration } from './duration.js';
import { usageError } from './io.js';

export interface NodeLifecycleFlags {
  nodeMonitorGracePeriod?: string;
  nodeStartupGracePeriod?: string;
  nodeMonitorPeriod?: string;
  nodeEvictionRate?: string;
  secondaryNodeEvictionRate?: string;
  unhealthyZoneThreshold?: string;
  largeClusterSizeThreshold?: string;
}

function duration(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    throw usageError(`invalid ${flag} "${value}": use a duration such as 20s, 500ms or 1m`);
  }
  if (ms <= 0) throw usageError(`${flag} must be longer than 0`);
  return ms;
}

function number(
  flag: string,
  value: string | undefined,
  check: (n: number) => boolean,
  want: string,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n))
    throw usageError(`invalid ${flag} "${value}": must be ${want}`);
  return n;
}

export function nodeLifecycleFromFlags(flags: NodeLifecycleFlags): NodeLifecycleOptions {
  const out: NodeLifecycleOptions = {};
  const grace = duration('--node-monitor-grace-period', flags.nodeMonitorGracePeriod);
  if (grace !== undefined) out.nodeMonitorGracePeriodMs = grace;
  const startup = duration('--node-startup-grace-period', flags.nodeStartupGracePeriod);
  if (startup !== undefined) out.nodeStartupGracePeriodMs = startup;
  const period = duration('--node-monitor-period', flags.nodeMonitorPeriod);
  if (period !== undefined) out.nodeMonitorPeriodMs = period;
  const rate = number(
    '--node-eviction-rate',
    flags.nodeEvictionRate,
    (n) => n >= 0,
    'a number of nodes per second (0 or more)',
  );
  if (rate !== undefined) out.evictionRate = rate;
  const secondary = number(
    '--secondary-node-eviction-rate',
    flags.secondaryNodeEvictionRate,
    (n) => n >= 0,
    'a number of nodes per second (0 or more)',
  );
  if (secondary !== undefined) out.secondaryEvictionRate = secondary;
  const threshold = number(
    '--unhealthy-zone-threshold',
    flags.unhealthyZoneThreshold,
    (n) => n > 0 && n <= 1,
    'a fraction above 0 and at most 1, such as 0.55',
  );
  if (threshold !== undefined) out.unhealthyZoneThreshold = threshold;
  const large = number(
    '--large-cluster-size-threshold',
    flags.largeClusterSizeThreshold,
    (n) => Number.isInteger(n) && n >= 0,
    'a whole number of nodes',
  );
  if (large !== undefined) out.largeClusterThreshold = large;
  if (grace !== undefined && period !== undefined && period >= grace)
    throw usageError('--node-monitor-period must be shorter than --node-monitor-grace-period');
  return out;
}
