import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addAgentFlags, agentFlagsFrom, metricsIntervalMs, type AgentCliFlags } from './agent-command.js';

const conn = { server: 'https://127.0.0.1:6443', token: 't', caPem: undefined };

function parse(argv: string[]): ReturnType<typeof agentFlagsFrom> {
  const p = addAgentFlags(new Command('agent').exitOverride(), { dataDir: true });
  p.parse(argv, { from: 'user' });
  return agentFlagsFrom(p.opts<AgentCliFlags>(), conn);
}

describe('agent --metrics-interval', () => {
  it('defaults to 10 s and takes s, ms and m', () => {
    expect(parse([]).metricsIntervalMs).toBe(10_000);
    expect(parse(['--metrics-interval', '1s']).metricsIntervalMs).toBe(1_000);
    expect(metricsIntervalMs('500ms')).toBe(500);
    expect(metricsIntervalMs('1.5s')).toBe(1_500);
    expect(metricsIntervalMs('1m')).toBe(60_000);
  });

  it.each(['10', '0s', '50ms', '11m', 'fast', '-1s'])('refuses %s with a message naming the flag', (v) => {
    expect(() => metricsIntervalMs(v)).toThrow(/--metrics-interval must be a duration between 100ms and 10m/);
  });
});
