// The scheduler profile from server flags: `--scheduler-scoring <strategy>` and `--scheduler-config <file>`.
//
// The file is a small YAML document (every field optional):
//
//   schedulerName: default-scheduler
//   scoringStrategy: MostAllocated          # LeastAllocated | MostAllocated | BalancedAllocation
//   scoreWeights: { NodeResourcesFit: 2 }   # Score plugin -> weight (1-100)
//   disabled: [ImageLocality]               # plugins switched off by name
//   percentageOfNodesToScore: 50            # 0 = adaptive upstream default, 1-100 = that share
//
// `--scheduler-scoring` wins over the file's scoringStrategy. Every problem is reported with its field.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { defaultProfile, type SchedulerProfile, type ScoringStrategy } from './core.js';
import { isScore } from './framework/types.js';
import { defaultPlugins } from './plugins/registry.js';

export const scoringStrategies: readonly ScoringStrategy[] = [
  'LeastAllocated',
  'MostAllocated',
  'BalancedAllocation',
];

/** A bad flag or configuration field. `message` names the flag/file and field. */
export class SchedulerConfigError extends Error {
  readonly code = 'InvalidSchedulerConfig';
  constructor(message: string) {
    super(message);
    this.name = 'SchedulerConfigError';
  }
}

export function isSchedulerConfigError(err: unknown): err is SchedulerConfigError {
  return (
    typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'SchedulerConfigError'
  );
}

export function isScoringStrategy(value: unknown): value is ScoringStrategy {
  return typeof value === 'string' && (scoringStrategies as readonly string[]).includes(value);
}

/** `--scheduler-scoring`: one of the strategies, else an error naming the accepted values. */
export function parseScoringStrategy(value: string, where = '--scheduler-scoring'): ScoringStrategy {
  if (isScoringStrategy(value)) return value;
  throw new SchedulerConfigError(
    `${where}: unknown scoring strategy "${value}" (want ${scoringStrategies.join(', ')})`,
  );
}

const knownFields = new Set([
  'apiVersion',
  'kind',
  'schedulerName',
  'scoringStrategy',
  'scoreWeights',
  'disabled',
  'percentageOfNodesToScore',
]);

const nameRe = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Every plugin of the default set, and those that score (the same under every strategy). */
const allPlugins = defaultPlugins('LeastAllocated');
export const pluginNames: readonly string[] = allPlugins.map((p) => p.name);
export const scorePluginNames: readonly string[] = allPlugins.filter(isScore).map((p) => p.name);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse the text of a scheduler configuration file into profile fields. Throws a
 * `SchedulerConfigError` listing every bad field (`<source>: <field>: <problem>`).
 */
export function parseSchedulerConfig(text: string, source: string): Partial<SchedulerProfile> {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new SchedulerConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isRecord(doc)) throw new SchedulerConfigError(`${source}: must be a mapping of fields`);
  const problems: string[] = [];
  const out: Partial<SchedulerProfile> = {};
  for (const key of Object.keys(doc)) {
    if (!knownFields.has(key))
      problems.push(
        `${key}: unknown field (known: ${[...knownFields].filter((f) => f !== 'apiVersion' && f !== 'kind').join(', ')})`,
      );
  }
  const name = doc['schedulerName'];
  if (name !== undefined) {
    if (typeof name !== 'string' || name.length > 253 || !nameRe.test(name))
      problems.push('schedulerName: must be a lower-case DNS name such as "default-scheduler"');
    else out.schedulerName = name;
  }
  const strategy = doc['scoringStrategy'];
  if (strategy !== undefined) {
    if (isScoringStrategy(strategy)) out.scoringStrategy = strategy;
    else
      problems.push(
        `scoringStrategy: unknown scoring strategy ${JSON.stringify(strategy)} (want ${scoringStrategies.join(', ')})`,
      );
  }
  const weights = doc['scoreWeights'];
  if (weights !== undefined) {
    if (!isRecord(weights)) problems.push('scoreWeights: must be a mapping of plugin name to weight');
    else {
      const w: Record<string, number> = {};
      for (const [plugin, weight] of Object.entries(weights)) {
        if (!scorePluginNames.includes(plugin))
          problems.push(`scoreWeights.${plugin}: not a Score plugin (known: ${scorePluginNames.join(', ')})`);
        else if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 100)
          problems.push(`scoreWeights.${plugin}: must be an integer from 1 to 100`);
        else w[plugin] = weight;
      }
      out.scoreWeights = w;
    }
  }
  const disabled = doc['disabled'];
  if (disabled !== undefined) {
    if (!Array.isArray(disabled) || disabled.some((d) => typeof d !== 'string' || d === ''))
      problems.push('disabled: must be a list of plugin names');
    else {
      for (const [i, d] of (disabled as string[]).entries())
        if (!pluginNames.includes(d))
          problems.push(`disabled[${i}]: unknown plugin "${d}" (known: ${pluginNames.join(', ')})`);
      out.disabled = disabled as string[];
    }
  }
  const pct = doc['percentageOfNodesToScore'];
  if (pct !== undefined) {
    if (typeof pct !== 'number' || !Number.isInteger(pct) || pct < 0 || pct > 100)
      problems.push('percentageOfNodesToScore: must be an integer from 0 to 100');
    else out.percentageOfNodesToScore = pct;
  }
  if (problems.length > 0) throw new SchedulerConfigError(problems.map((p) => `${source}: ${p}`).join('\n'));
  return out;
}

export interface SchedulerFlags {
  /** `--scheduler-scoring`. */
  scoring?: string | undefined;
  /** `--scheduler-config`: a path. */
  configFile?: string | undefined;
}

/** The profile the server's scheduler runs with: defaults, then the file, then `--scheduler-scoring`. */
export async function profileFromFlags(
  flags: SchedulerFlags,
  read: (path: string) => Promise<string> = (p) => readFile(p, 'utf8'),
): Promise<SchedulerProfile> {
  let profile: SchedulerProfile = { ...defaultProfile };
  if (flags.configFile !== undefined && flags.configFile !== '') {
    const where = `--scheduler-config ${flags.configFile}`;
    let text: string;
    try {
      text = await read(flags.configFile);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new SchedulerConfigError(
        `${where}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      );
    }
    profile = { ...profile, ...parseSchedulerConfig(text, where) };
  }
  if (flags.scoring !== undefined && flags.scoring !== '')
    profile = { ...profile, scoringStrategy: parseScoringStrategy(flags.scoring) };
  return profile;
}
