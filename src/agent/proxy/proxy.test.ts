import { afterEach, describe, expect, it } from 'vitest';
import { StaticServiceView } from '../services/view.js';
import type { ProxyHost } from './host.js';
import { ServiceProxy } from './proxy.js';
import type { ConntrackFlush } from './ruleset.js';
import { slice, svc } from './testing.js';

class FakeHost implements ProxyHost {
  scripts: string[] = [];
  flushes: ConntrackFlush[] = [];
  table: string | undefined;
  failNext = 0;
  async nft(script: string): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('nft -f failed: boom');
    }
    this.scripts.push(script);
    this.table =
      script.includes('delete table') && !script.includes('\ntable ip') ? undefined : 'table ip t {\n}\n';
  }
  async listTable(): Promise<string | undefined> {
    return this.table;
  }
  async conntrackDelete(f: ConntrackFlush): Promise<boolean> {
    this.flushes.push(f);
    return true;
  }
  async prepareKernel(): Promise<string[]> {
    return [];
  }
}

const node = { nodeName: 'node-a', nodeIPs: ['127.0.0.1'], bridge: 'fl0', podCidr: '10.200.1.0/24' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let proxy: ServiceProxy | undefined;
afterEach(() => proxy?.stop());

function setup(): { view: StaticServiceView; host: FakeHost; proxy: ServiceProxy } {
  const view = new StaticServiceView();
  const host = new FakeHost();
  proxy = new ServiceProxy({
    view,
    node,
    table: 't',
    host,
    minSyncIntervalMs: 10,
    cleanupDelayMs: 30,
    log: () => undefined,
  });
  return { view, host, proxy };
}

describe('ServiceProxy', () => {
  it('replaces the table at first, then applies only differences, and nothing when nothing changed', async () => {
    const { view, host, proxy } = setup();
    view.set([svc('web')], [slice('web', [{ ip: '10.200.1.2' }, { ip: '10.200.1.3' }])]);
    await proxy.start();
    await proxy.syncNow();
    expect(host.scripts).toHaveLength(1);
    expect(host.scripts[0]?.startsWith('table ip t {}\ndelete table ip t\n')).toBe(true); // no table yet: created whole
    expect(proxy.appliedTargets()).toEqual(new Set(['10.200.1.2', '10.200.1.3']));
    expect(proxy.appliedRevision()).toBe(1);

    view.set([svc('web')], [slice('web', [{ ip: '10.200.1.2' }, { ip: '10.200.1.3' }])]);
    await proxy.syncNow();
    expect(host.scripts).toHaveLength(1); // same text: no transaction
    expect(proxy.appliedRevision()).toBe(2);

    view.set([svc('web')], [slice('web', [{ ip: '10.200.1.2' }])]);
    await proxy.syncNow();
    expect(host.scripts).toHaveLength(2);
    // The new rule goes above the old one: no deletion in the transaction.
    expect(host.scripts[1]).toBe(
      'insert rule ip t svc-default/web/tcp/http meta l4proto tcp dnat to 10.200.1.2:8080\n',
    );
    // Once changes are quiet, the unreachable old rule is removed in a transaction of its own.
    await sleep(80);
    expect(host.scripts).toHaveLength(3);
    expect(host.scripts[2]).toBe(
      'flush chain ip t svc-default/web/tcp/http\nadd rule ip t svc-default/web/tcp/http meta l4proto tcp dnat to 10.200.1.2:8080\n',
    );
    await sleep(80);
    expect(host.scripts).toHaveLength(3);
  });

  it('coalesces a burst of changes into one transaction', async () => {
    const { view, host, proxy } = setup();
    view.set([svc('web')], []);
    await proxy.start();
    await sleep(30);
    const before = host.scripts.length;
    for (let i = 2; i < 12; i++) {
      view.set([svc('web')], [slice('web', [{ ip: `10.200.1.${i}` }])]);
      view.emit();
    }
    await sleep(60);
    expect(host.scripts.length - before).toBeLessThanOrEqual(2);
    expect(proxy.appliedTargets()).toEqual(new Set(['10.200.1.11']));
  });

  it('replaces the whole table when an update fails', async () => {
    const { view, host, proxy } = setup();
    view.set([svc('web')], [slice('web', [{ ip: '10.200.1.2' }])]);
    await proxy.start();
    await proxy.syncNow();
    host.failNext = 1;
    view.set([svc('web')], [slice('web', [{ ip: '10.200.1.3' }])]);
    await proxy.syncNow();
    expect(host.scripts.at(-1)?.startsWith('table ip t {}\ndelete table ip t\ntable ip t {')).toBe(true);
    expect(proxy.appliedTargets()).toEqual(new Set(['10.200.1.3']));
  });

  it('flushes conntrack entries of UDP endpoints that went away', async () => {
    const { view, host, proxy } = setup();
    const ports = [{ name: 'dns', port: 5353, protocol: 'UDP' as const }];
    const dns = svc('dns', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] });
    view.set([dns], [slice('dns', [{ ip: '10.200.1.2' }, { ip: '10.200.1.3' }], { ports })]);
    await proxy.start();
    await proxy.syncNow();
    view.set([dns], [slice('dns', [{ ip: '10.200.1.3' }], { ports })]);
    await proxy.syncNow();
    expect(host.flushes).toEqual([{ origDst: '10.96.0.10', replySrc: '10.200.1.2' }]);
  });

  it('drained(): resolves once the programmed ruleset stops sending to the pod, or at the timeout', async () => {
    const { view, proxy } = setup();
    view.set([svc('web')], [slice('web', [{ ip: '10.200.1.2' }, { ip: '10.200.1.3' }])]);
    await proxy.start();
    await proxy.syncNow();

    expect((await proxy.drained(['10.200.1.9'], 1000)).drained).toBe(true); // not an endpoint at all
    const timedOut = await proxy.drained(['10.200.1.2'], 50);
    expect(timedOut.drained).toBe(false);
    expect(timedOut.detail).toContain('local ruleset');

    const pending = proxy.drained(['10.200.1.2'], 5000);
    await sleep(20);
    // The EndpointSlice controller marks the deleting pod terminating.
    view.set(
      [svc('web')],
      [
        slice('web', [
          { ip: '10.200.1.2', ready: false, serving: true, terminating: true },
          { ip: '10.200.1.3' },
        ]),
      ],
    );
    view.emit();
    const r = await pending;
    expect(r.drained).toBe(true);
    expect(r.waitedMs).toBeLessThan(1000);
  });

  it('drained() waits for the first sync after a restart (old rules may still send to the pod)', async () => {
    const { view, proxy } = setup();
    view.set([svc('web')], [slice('web', [{ ip: '10.200.1.3' }])]);
    const pending = proxy.drained(['10.200.1.2'], 2000);
    await sleep(20);
    await proxy.start();
    const r = await pending;
    expect(r.drained).toBe(true);
    expect(r.waitedMs).toBeGreaterThanOrEqual(15);
  });
});
