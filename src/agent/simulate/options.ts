// `flotilla agent --simulate N ...`: the flag values (strings, as the command line gives them) checked and
// turned into simulator settings. Every problem names its flag. Pure.
import { quantityToMillis, quantityValue, tryParseQuantity } from '../../api/quantity.js';
import { isDNS1123Label, isQualifiedName, isValidLabelValue } from '../../api/validation/names.js';
import { parseDuration } from '../pod/pod-view.js';
import { defaultSimPodRange, parseCidr, rangeCapacity, SimSpecError, type SimFleetSpec } from './nodes.js';

export interface SimulateFlagValues {
  simulate: string;
  namePrefix: string;
  zones: string;
  nodeCpu: string;
  nodeMemory: string;
  nodePods: string;
  /** `k=v,k2=v2` lists (--labels) and single `k=v` (--label), in order; later wins. */
  labels: string[];
  leaseInterval: string;
  statusInterval: string;
  podStartDelay: string;
  concurrency: string;
  /** Only when given on the command line: the range carved into per-node blocks. */
  podCidr?: string | undefined;
  agentPort: string;
}

export interface SimulateSettings {
  fleet: Omit<SimFleetSpec, 'arch' | 'agentVersion'>;
  leaseIntervalMs: number;
  statusIntervalMs: number;
  podStartDelayMs: number;
  concurrency: number;
}

export const simulateDefaults = {
  namePrefix: 'sim',
  zones: '3',
  nodeCpu: '4',
  nodeMemory: '16Gi',
  nodePods: '110',
  leaseInterval: '10s',
  statusInterval: '60s',
  podStartDelay: '500ms',
  concurrency: '16',
} as const;

/** Upper bound on --simulate: far above what one process and a SQLite server carry (see the docs). */
export const maxSimulatedNodes = 100_000;

function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max)
    throw new SimSpecError(`${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

function duration(flag: string, value: string, minMs: number): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < minMs)
    throw new SimSpecError(
      `${flag} must be a duration such as 500ms, 10s or 1m${minMs > 0 ? ` (at least ${minMs} ms)` : ''}, got "${value}"`,
    );
  return ms;
}

/** `k=v,k2=v2` entries into labels, checking keys and values as the API server would. */
export function parseLabelList(entries: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    for (const item of entry.split(',')) {
      const text = item.trim();
      if (text === '') continue;
      const i = text.indexOf('=');
      if (i <= 0) throw new SimSpecError(`--labels entries must be key=value, got "${text}"`);
      const key = text.slice(0, i);
      const value = text.slice(i + 1);
      const problems = [...isQualifiedName(key), ...isValidLabelValue(value)];
      if (problems.length > 0)
        throw new SimSpecError(`--labels: "${text}" is not a valid label: ${problems.join('; ')}`);
      out[key] = value;
    }
  }
  return out;
}

export function parseSimulateFlags(v: SimulateFlagValues): SimulateSettings {
  const count = wholeNumber('--simulate', v.simulate, 1, maxSimulatedNodes);
  const prefix = v.namePrefix;
  // `<prefix>-<i>` is also the kubernetes.io/hostname label value: a DNS label of at most 63 characters.
  const longest = `${prefix}-${count - 1}`;
  const nameProblems = isDNS1123Label(longest);
  if (nameProblems.length > 0)
    throw new SimSpecError(
      `--name-prefix "${prefix}" gives node names such as "${longest}": ${nameProblems.join('; ')}`,
    );
  const zones = wholeNumber('--zones', v.zones, 1, 1000);
  const cpu = tryParseQuantity(v.nodeCpu);
  if (cpu === undefined || quantityToMillis(cpu) <= 0)
    throw new SimSpecError(`--node-cpu must be a CPU quantity such as 4 or 3500m, got "${v.nodeCpu}"`);
  const memory = tryParseQuantity(v.nodeMemory);
  if (memory === undefined || quantityValue(memory) <= 0)
    throw new SimSpecError(`--node-memory must be a memory quantity such as 16Gi, got "${v.nodeMemory}"`);
  const maxPods = wholeNumber('--node-pods', v.nodePods, 1, 65_000);
  const podRange = v.podCidr ?? defaultSimPodRange;
  if (parseCidr(podRange) === undefined)
    throw new SimSpecError(
      `--pod-cidr must be an IPv4 CIDR such as ${defaultSimPodRange}, got "${podRange}"`,
    );
  const capacity = rangeCapacity(podRange, maxPods);
  if (count > capacity)
    throw new SimSpecError(
      `--pod-cidr ${podRange} holds ${capacity} simulated nodes of ${maxPods} pods each, fewer than --simulate ${count}`,
    );
  const leaseIntervalMs = duration('--lease-interval', v.leaseInterval, 100);
  return {
    fleet: {
      count,
      prefix,
      zones,
      cpuMilli: quantityToMillis(cpu),
      memoryBytes: quantityValue(memory),
      ephemeralStorageBytes: 100 * 1024 ** 3,
      maxPods,
      labels: parseLabelList(v.labels),
      podRange,
      agentPort: wholeNumber('--agent-port', v.agentPort, 1, 65_535),
    },
    leaseIntervalMs,
    statusIntervalMs: duration('--status-interval', v.statusInterval, 1000),
    podStartDelayMs: duration('--pod-start-delay', v.podStartDelay, 0),
    concurrency: wholeNumber('--concurrency', v.concurrency, 1, 1024),
  };
}
