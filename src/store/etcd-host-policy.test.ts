// The policy in front of each etcd host (hostPolicy): no breaker for one host; with several, a host is
// skipped for a while after repeated Unavailable errors only, never after cancelled calls or timeouts.
import { GRPCCancelledError, GRPCDeadlineExceededError, GRPCUnavailableError } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { hostPolicy } from './etcd-store.js';

interface Exec {
  execute<T>(fn: () => Promise<T>): Promise<T>;
}

const fail = (err: Error) => () => Promise.reject(err);
const ok = () => Promise.resolve('ok');

describe('etcd host policy', () => {
  it('never stops calling the only host, whatever failed before', async () => {
    const p = hostPolicy(1)() as unknown as Exec;
    for (let i = 0; i < 10; i++)
      await expect(p.execute(fail(new GRPCUnavailableError('down')))).rejects.toThrow('down');
    for (let i = 0; i < 10; i++)
      await expect(p.execute(fail(new GRPCCancelledError('cancelled')))).rejects.toThrow();
    await expect(p.execute(ok)).resolves.toBe('ok');
  });

  it('with several hosts, skips one after three Unavailable errors in a row, for the open time only', async () => {
    let t = 0;
    const p = hostPolicy(3, 3, 5_000, () => t)() as unknown as Exec;
    let calls = 0;
    const down = () => {
      calls++;
      return Promise.reject(new GRPCUnavailableError('down'));
    };
    for (let i = 0; i < 3; i++) await expect(p.execute(down)).rejects.toThrow('down');
    // Open: the call is not made, so the pool tries another host.
    await expect(p.execute(down)).rejects.toThrow(/skipped/);
    expect(calls).toBe(3);
    t += 5_001;
    await expect(p.execute(ok)).resolves.toBe('ok');
  });

  it('with several hosts, cancelled calls and timeouts never open it, and a success resets the count', async () => {
    const p = hostPolicy(2)() as unknown as Exec;
    for (let i = 0; i < 10; i++) {
      await expect(p.execute(fail(new GRPCCancelledError('c')))).rejects.toThrow('c');
      await expect(p.execute(fail(new GRPCDeadlineExceededError('d')))).rejects.toThrow('d');
    }
    await expect(p.execute(fail(new GRPCUnavailableError('u')))).rejects.toThrow('u');
    await expect(p.execute(fail(new GRPCUnavailableError('u')))).rejects.toThrow('u');
    await expect(p.execute(ok)).resolves.toBe('ok');
    await expect(p.execute(fail(new GRPCUnavailableError('u')))).rejects.toThrow('u');
    await expect(p.execute(ok)).resolves.toBe('ok');
  });
});
