// The activator on loopback: a StaticServiceView, a scripted wake-up, a real HTTP backend and clients.
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { slice, svc } from '../proxy/testing.js';
import { StaticServiceView } from '../services/view.js';
import {
  Activator,
  activationsOf,
  looksLikeHttp,
  unavailableResponse,
  type ScaleTarget,
} from './activator.js';

function hpa(name: string, o: { min?: number; annotated?: boolean; service?: string } = {}): KubeObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name,
      namespace: 'default',
      ...(o.annotated === false ? {} : { annotations: { 'flotilla.dev/scale-to-zero': 'true' } }),
    },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: o.min ?? 0,
      maxReplicas: 3,
      metrics: [
        {
          type: 'Object',
          object: {
            describedObject: { apiVersion: 'v1', kind: 'Service', name: o.service ?? 'web' },
            metric: { name: 'requests-per-second' },
            target: { type: 'AverageValue', averageValue: '5' },
          },
        },
      ],
    },
  };
}

describe('activationsOf', () => {
  it('takes opted-in HPAs at minReplicas 0 with an Object metric on a Service', () => {
    const got = activationsOf([
      hpa('a'),
      hpa('b', { min: 1, service: 'x' }),
      hpa('c', { annotated: false, service: 'y' }),
    ]);
    expect([...got.keys()]).toEqual(['default/web']);
    expect(got.get('default/web')).toEqual({
      namespace: 'default',
      service: 'web',
      hpa: 'a',
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
    });
  });
});

describe('HTTP helpers', () => {
  it('recognises a request line and writes a 503 that says why', () => {
    expect(looksLikeHttp(Buffer.from('GET / HTTP/1.1\r\n'))).toBe(true);
    expect(looksLikeHttp(Buffer.from('\x16\x03\x01'))).toBe(false);
    expect(unavailableResponse('no pod')).toMatch(
      /^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*\r\n\r\nno pod\n$/,
    );
  });
});

describe('Activator (loopback)', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  async function setup(opts: { timeoutMs?: number; maxHeld?: number } = {}) {
    const backend: Server = createServer((_q, s) => s.end('hello from web-1'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => backend.close(r)));
    const port = (backend.address() as { port: number }).port;
    const view = new StaticServiceView();
    const service = svc('web', { clusterIP: '10.43.0.10', ports: [{ name: 'http', port: 80 }] });
    view.set([service], []);
    const wakes: ScaleTarget[] = [];
    let changed = 0;
    const activator = new Activator({
      address: '127.0.0.1',
      view,
      hpas: { list: () => [hpa('web')], onChange: () => () => undefined },
      wake: async (_ns, target) => {
        wakes.push(target);
      },
      onAddressesChanged: () => changed++,
      ...opts,
    });
    await activator.start();
    closers.push(() => activator.stop());
    const becomeReady = (): void => {
      view.set(
        [service],
        [slice('web', [{ ip: '127.0.0.1', pod: 'web-1' }], { ports: [{ name: 'http', port }] })],
      );
      view.emit();
    };
    return { activator, view, wakes, becomeReady, changed: () => changed };
  }

  function get(address: string): Promise<{ status: number; body: string; ms: number }> {
    const [host, port] = address.split(':');
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
      request({ host, port: Number(port), path: '/', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - t0 }));
      })
        .on('error', reject)
        .end();
    });
  }

  it('listens per TCP service port, holds a request, wakes the target once and forwards when ready', async () => {
    const { activator, wakes, becomeReady, changed } = await setup();
    const address = activator.addresses().get('default/web/tcp/http');
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(changed()).toBe(1);
    const first = get(address ?? '');
    const second = get(address ?? '');
    await new Promise((r) => setTimeout(r, 300));
    expect(activator.held()).toBe(2);
    expect(wakes).toEqual([{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }]);
    becomeReady();
    const [a, b] = await Promise.all([first, second]);
    expect(a).toMatchObject({ status: 200, body: 'hello from web-1' });
    expect(b.body).toBe('hello from web-1');
    expect(a.ms).toBeGreaterThanOrEqual(250);
    expect(activator.held()).toBe(0);
    // Once ready, a connection that still reaches the activator goes straight through.
    expect((await get(address ?? '')).body).toBe('hello from web-1');
  });

  it('answers 503 naming the Service when no pod is ready within the bound, and past the queue bound at once', async () => {
    const { activator } = await setup({ timeoutMs: 400, maxHeld: 1 });
    const address = activator.addresses().get('default/web/tcp/http') ?? '';
    const held = get(address);
    await new Promise((r) => setTimeout(r, 100));
    const over = await get(address);
    expect(over.status).toBe(503);
    expect(over.body).toMatch(/default\/web is starting from zero and already holds 1 connections/);
    expect(over.ms).toBeLessThan(300);
    const late = await held;
    expect(late.status).toBe(503);
    expect(late.body).toMatch(/default\/web has no ready pod/);
  });

  it('closes a non-HTTP connection past the bound instead of leaving it hanging', async () => {
    const { activator } = await setup({ timeoutMs: 300 });
    const [host, port] = (activator.addresses().get('default/web/tcp/http') ?? '').split(':');
    const sock = connect(Number(port), host);
    sock.write('\x16\x03\x01hello');
    const t0 = Date.now();
    await new Promise<void>((r) => sock.on('close', () => r()).on('error', () => undefined));
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('closes its listeners when the HPA no longer allows zero', async () => {
    const view = new StaticServiceView();
    view.set([svc('web', { clusterIP: '10.43.0.10' })], []);
    let list = [hpa('web')];
    let notify = (): void => undefined;
    const activator = new Activator({
      address: '127.0.0.1',
      view,
      hpas: {
        list: () => list,
        onChange: (fn) => {
          notify = fn;
          return () => undefined;
        },
      },
      wake: async () => undefined,
    });
    await activator.start();
    closers.push(() => activator.stop());
    expect(activator.addresses().size).toBe(1);
    list = [hpa('web', { min: 1 })];
    notify();
    await new Promise((r) => setTimeout(r, 50));
    expect(activator.addresses().size).toBe(0);
  });
});
