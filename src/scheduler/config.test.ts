import { describe, expect, it } from 'vitest';
import { defaultProfile } from './core.js';
import { parseSchedulerConfig, profileFromFlags, SchedulerConfigError } from './config.js';

const files = (map: Record<string, string>) => (path: string) =>
  path in map
    ? Promise.resolve(map[path] as string)
    : Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }));

describe('profileFromFlags', () => {
  it('gives the default profile without flags', async () => {
    expect(await profileFromFlags({})).toEqual(defaultProfile);
  });

  it('reads every field from the file, and --scheduler-scoring wins over the file', async () => {
    const read = files({
      'sched.yaml': `schedulerName: batch-scheduler
scoringStrategy: BalancedAllocation
scoreWeights: { NodeResourcesFit: 3 }
disabled: [ImageLocality]
percentageOfNodesToScore: 40
`,
    });
    const fromFile = await profileFromFlags({ configFile: 'sched.yaml' }, read);
    expect(fromFile).toEqual({
      ...defaultProfile,
      schedulerName: 'batch-scheduler',
      scoringStrategy: 'BalancedAllocation',
      scoreWeights: { NodeResourcesFit: 3 },
      disabled: ['ImageLocality'],
      percentageOfNodesToScore: 40,
    });
    const both = await profileFromFlags({ configFile: 'sched.yaml', scoring: 'MostAllocated' }, read);
    expect(both.scoringStrategy).toBe('MostAllocated');
    expect(both.schedulerName).toBe('batch-scheduler');
  });

  it('names the flag for an unknown strategy', async () => {
    await expect(profileFromFlags({ scoring: 'Spread' })).rejects.toThrow(
      '--scheduler-scoring: unknown scoring strategy "Spread" (want LeastAllocated, MostAllocated, BalancedAllocation)',
    );
  });

  it('names the file when it is missing', async () => {
    await expect(profileFromFlags({ configFile: 'nope.yaml' }, files({}))).rejects.toThrow(
      '--scheduler-config nope.yaml: no such file',
    );
  });
});

describe('parseSchedulerConfig', () => {
  it.each([
    ['scoringStrategy: Fastest', 'f.yaml: scoringStrategy: unknown scoring strategy "Fastest"'],
    [
      'scoreWeights: { NodeResourcesFit: 0 }',
      'f.yaml: scoreWeights.NodeResourcesFit: must be an integer from 1 to 100',
    ],
    ['scoreWeights: [1, 2]', 'f.yaml: scoreWeights: must be a mapping'],
    ['scoreWeights: { Fastness: 2 }', 'f.yaml: scoreWeights.Fastness: not a Score plugin (known: '],
    ['scoreWeights: { NodeName: 2 }', 'f.yaml: scoreWeights.NodeName: not a Score plugin'],
    ['disabled: [ImageLocality, Gpu]', 'f.yaml: disabled[1]: unknown plugin "Gpu" (known: '],
    ['disabled: ImageLocality', 'f.yaml: disabled: must be a list of plugin names'],
    ['percentageOfNodesToScore: 150', 'f.yaml: percentageOfNodesToScore: must be an integer from 0 to 100'],
    ['schedulerName: My_Scheduler', 'f.yaml: schedulerName: must be a lower-case DNS name'],
    ['scoring: MostAllocated', 'f.yaml: scoring: unknown field'],
    ['[1, 2', 'f.yaml: not valid YAML'],
    ['- a\n- b', 'f.yaml: must be a mapping of fields'],
  ])('%s → %s', (text, message) => {
    expect(() => parseSchedulerConfig(text, 'f.yaml')).toThrow(SchedulerConfigError);
    expect(() => parseSchedulerConfig(text, 'f.yaml')).toThrow(message);
  });

  it('lists every bad field at once', () => {
    let message = '';
    try {
      parseSchedulerConfig('scoringStrategy: X\npercentageOfNodesToScore: -1\n', 'f.yaml');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n')).toHaveLength(2);
  });

  it('accepts an empty file and apiVersion/kind headers', () => {
    expect(parseSchedulerConfig('', 'f.yaml')).toEqual({});
    expect(
      parseSchedulerConfig('apiVersion: flotilla.dev/v1alpha1\nkind: SchedulerConfiguration\n', 'f.yaml'),
    ).toEqual({});
  });
});

describe('flotilla server/up scheduler flags', () => {
  it('refuse a bad strategy or a bad file before starting anything, naming the flag or field', async () => {
    const { run } = await import('../cli/main.js');
    const { memoryIO } = await import('../cli/io.js');
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-schedcfg-'));
    try {
      const io1 = memoryIO();
      expect(await run(['server', '--data-dir', dir, '--scheduler-scoring', 'Spread'], io1)).toBe(2);
      expect(io1.err()).toContain("option '--scheduler-scoring <strategy>' argument 'Spread' is invalid");
      expect(io1.err()).toContain('LeastAllocated, MostAllocated, BalancedAllocation');

      const file = join(dir, 'sched.yaml');
      writeFileSync(file, 'scoringStrategy: MostAllocated\npercentageOfNodesToScore: 101\n');
      const io2 = memoryIO();
      expect(await run(['up', '--data-dir', dir, '--scheduler-config', file], io2)).toBe(2);
      expect(io2.err()).toBe(
        `error: --scheduler-config ${file}: percentageOfNodesToScore: must be an integer from 0 to 100\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
