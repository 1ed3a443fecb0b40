import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { systemClock } from '../../machinery/clock.js';
import { MemoryEventRecorder } from '../../machinery/event-recorder.js';
import { VirtualClock } from '../../testkit/clock.js';
import { FakeRuntime } from '../runtime/fake.js';
import type { ContainerCreateSpec } from '../runtime/types.js';
import { PodProber, runHandler, runLifecycleHook } from './probes.js';

let server: Server;
let port = 0;
const seenHeaders: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seenHeaders.push(req.headers);
    if (req.url === '/ok') res.writeHead(200).end('ok');
    else if (req.url === '/redirect') res.writeHead(302, { Location: '/ok' }).end();
    else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end(), 3000);
    else res.writeHead(500).end('boom');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const deps = (runtime = new FakeRuntime(systemClock)) => ({ runtime, clock: systemClock });
const target = (container: Record<string, unknown> = {}) => ({
  podIP: '127.0.0.1',
  containerId: 'c1',
  container,
});

describe('probe handlers', () => {
  it('httpGet: 200–399 succeed, other codes fail with the status code', async () => {
    expect((await runHandler({ httpGet: { path: '/ok', port } }, target(), deps(), 1000)).ok).toBe(true);
    expect((await runHandler({ httpGet: { path: '/redirect', port } }, target(), deps(), 1000)).ok).toBe(
      true,
    );
    expect(await runHandler({ httpGet: { path: '/bad', port } }, target(), deps(), 1000)).toMatchObject({
      ok: false,
      message: 'HTTP probe failed with statuscode: 500',
    });
  });

  it('httpGet: resolves a named container port and sends the probe headers', async () => {
    const container = { ports: [{ name: 'http', containerPort: port }] };
    const res = await runHandler(
      { httpGet: { path: '/ok', port: 'http', httpHeaders: [{ name: 'X-Probe', value: 'yes' }] } },
      target(container),
      deps(),
      1000,
    );
    expect(res.ok).toBe(true);
    const h = seenHeaders.at(-1);
    expect(h?.['x-probe']).toBe('yes');
    expect(String(h?.['user-agent'])).toMatch(/^kube-probe\//);
  });

  it('httpGet: a refused connection and a timeout fail with upstream-like messages', async () => {
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await runHandler({ httpGet: { path: '/', port: freePort } }, target(), deps(), 1000);
    expect(refused.message).toBe(
      `Get "http://127.0.0.1:${freePort}/": dial tcp 127.0.0.1:${freePort}: connect: connection refused`,
    );
    const slow = await runHandler({ httpGet: { path: '/slow', port } }, target(), deps(), 200);
    expect(slow.ok).toBe(false);
    expect(slow.message).toContain('context deadline exceeded');
  });

  it('tcpSocket: succeeds when something listens, fails when refused', async () => {
    expect((await runHandler({ tcpSocket: { port } }, target(), deps(), 1000)).ok).toBe(true);
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect((await runHandler({ tcpSocket: { port: freePort } }, target(), deps(), 1000)).message).toBe(
      `dial tcp 127.0.0.1:${freePort}: connect: connection refused`,
    );
  });
});

function spec(id: string, name: string): ContainerCreateSpec {
  return {
    id,
    labels: {
      podUid: 'u',
      podName: 'p',
      podNamespace: 'default',
      containerName: name,
      attempt: 0,
      kind: 'regular',
      specHash: 'h',
    },
    imageRef: 'busybox:1',
    imageId: 'sha256:1',
    layerDirs: [],
    args: ['sh'],
    env: [],
    workingDir: '/',
    hostname: 'p',
    mounts: [],
    resources: { cpuRequestMilli: 0 },
    security: {
      privileged: false,
      allowPrivilegeEscalation: true,
      readOnlyRootFilesystem: false,
      capabilitiesAdd: [],
      capabilitiesDrop: [],
      seccomp: 'RuntimeDefault',
    },
    tty: false,
    stdin: false,
    cgroupParent: 'flotilla/podu',
  };
}

describe('exec probes and hooks', () => {
  it('exec: exit 0 succeeds, a non-zero exit fails with the output, a slow command times out', async () => {
    const clock = new VirtualClock();
    const runtime = new FakeRuntime(clock);
    await runtime.createContainer(spec('c1', 'app'));
    await runtime.startContainer('c1');
    runtime.onExec((_id, command) => {
      if (command[0] === 'true') return { exitCode: 0 };
      if (command[0] === 'slow') return { exitCode: 0, delayMs: 5000 };
      return { exitCode: 1, stdout: 'not healthy\n' };
    });
    const d = { runtime, clock };
    expect((await runHandler({ exec: { command: ['true'] } }, target(), d, 1000)).ok).toBe(true);
    expect(await runHandler({ exec: { command: ['false'] } }, target(), d, 1000)).toMatchObject({
      ok: false,
      message: 'not healthy\n',
    });
    const slow = runHandler({ exec: { command: ['slow'] } }, target(), d, 1000);
    await clock.advance(1000);
    expect(await slow).toMatchObject({ ok: false, message: 'command "slow" timed out' });
  });

  it('a failed exec hook gives the kubelet-like message', async () => {
    const clock = new VirtualClock();
    const runtime = new FakeRuntime(clock);
    await runtime.createContainer(spec('c1', 'app'));
    await runtime.startContainer('c1');
    runtime.onExec(() => ({ exitCode: 3, stdout: 'nope' }));
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default', uid: 'u' },
    };
    const msg = await runLifecycleHook(
      { exec: { command: ['sh', '-c', 'exit 3'] } },
      { ...target(), containerName: 'app', pod },
      { runtime, clock },
      5000,
    );
    expect(msg).toBe(
      `Exec lifecycle hook ([sh -c exit 3]) for Container "app" in Pod "p_default(u)" failed - error: command 'sh -c exit 3' exited with 3: nope, message: "nope"`,
    );
  });
});

/** A started container `c1` (named `app`) under a PodProber, and a pod whose container has `probes`. */
async function proberSetup(
  probes: Record<string, unknown>,
  exec: Parameters<FakeRuntime['onExec']>[0],
  onChange: () => void = () => undefined,
) {
  const clock = new VirtualClock();
  const runtime = new FakeRuntime(clock);
  await runtime.createContainer(spec('c1', 'app'));
  await runtime.startContainer('c1');
  runtime.onExec(exec);
  const recorder = new MemoryEventRecorder();
  const prober = new PodProber({ runtime, clock, recorder, onChange });
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'u' },
    spec: { containers: [{ name: 'app', image: 'busybox:1', ...probes }] },
  };
  return { clock, runtime, recorder, prober, pod };
}

describe('PodProber', () => {
  it('gates readiness on startup, counts thresholds and records Unhealthy events', async () => {
    let healthy = false;
    let ready = true;
    let changes = 0;
    const { clock, runtime, recorder, prober, pod } = await proberSetup(
      {
        startupProbe: { exec: { command: ['started'] }, periodSeconds: 1, failureThreshold: 30 },
        readinessProbe: { exec: { command: ['ready'] }, periodSeconds: 2, failureThreshold: 2 },
      },
      (_id, command) => {
        if (command[0] === 'started') return { exitCode: healthy ? 0 : 1, stdout: 'starting' };
        if (command[0] === 'ready') return { exitCode: ready ? 0 : 1, stdout: 'not ready' };
        return { exitCode: 0 };
      },
      () => changes++,
    );
    prober.sync(pod, await runtime.listContainers(), '10.0.0.2');
    expect(prober.results()['c1']).toEqual({
      started: false,
      ready: false,
      livenessFailed: false,
      startupFailed: false,
    });
    await clock.advance(2500);
    expect(prober.results()['c1']?.started).toBe(false);
    expect(recorder.events.filter((e) => e.reason === 'Unhealthy')[0]?.message).toBe(
      'Startup probe failed: starting',
    );
    // Readiness is not probed before startup succeeds.
    expect(runtime.calls.filter((c) => c.op === 'exec' && c.command?.[0] === 'ready')).toEqual([]);
    healthy = true;
    await clock.advance(5000);
    expect(prober.results()['c1']).toMatchObject({ started: true, ready: true });
    ready = false;
    await clock.advance(5000);
    expect(prober.results()['c1']?.ready).toBe(false);
    expect(recorder.events.some((e) => e.message === 'Readiness probe failed: not ready')).toBe(true);
    expect(changes).toBeGreaterThanOrEqual(3);
    prober.stop();
  });

  it('keeps a ready container ready when one listing cannot tell its state (unknown)', async () => {
    const { clock, runtime, prober, pod } = await proberSetup(
      { readinessProbe: { exec: { command: ['ok'] }, periodSeconds: 1 } },
      () => ({ exitCode: 0 }),
    );
    const listed = await runtime.listContainers();
    prober.sync(pod, listed, '10.0.0.2');
    await clock.advance(1500);
    expect(prober.results()['c1']?.ready).toBe(true);
    // A listing that could not read the container's state: still ready, same prober.
    prober.sync(
      pod,
      listed.map((c) => ({ ...c, state: 'unknown' as const })),
      '10.0.0.2',
    );
    expect(prober.results()['c1']?.ready).toBe(true);
    // A listing without it at all (gone): the prober stops.
    prober.sync(pod, [], '10.0.0.2');
    expect(prober.results()['c1']).toBeUndefined();
    prober.stop();
  });

  it('after an agent restart, keeps the reported results of the same container until a probe says otherwise', async () => {
    let ready = true;
    const { clock, runtime, prober, pod } = await proberSetup(
      {
        startupProbe: { exec: { command: ['started'] }, periodSeconds: 1 },
        readinessProbe: { exec: { command: ['ready'] }, periodSeconds: 1, failureThreshold: 2 },
      },
      (_id, command) => ({ exitCode: command[0] === 'ready' && !ready ? 1 : 0, stdout: 'no' }),
    );
    const reported = (id: string, started: boolean, isReady: boolean): KubeObject => ({
      ...pod,
      status: { containerStatuses: [{ name: 'app', containerID: `runc://${id}`, started, ready: isReady }] },
    });
    // The pod's status says this very instance was started and ready: it stays so from the first look.
    prober.sync(reported('c1', true, true), await runtime.listContainers(), '10.0.0.2');
    expect(prober.results()['c1']).toMatchObject({ started: true, ready: true });
    // A probe that fails now takes it out as usual (failureThreshold 2).
    ready = false;
    await clock.advance(2500);
    expect(prober.results()['c1']?.ready).toBe(false);
    prober.stop();

    // A report about another instance, or an unready one, gives nothing.
    for (const pod2 of [reported('c0', true, true), reported('c1', true, false)]) {
      const p2 = new PodProber({
        runtime,
        clock,
        recorder: new MemoryEventRecorder(),
        onChange: () => undefined,
      });
      p2.sync(pod2, await runtime.listContainers(), '10.0.0.2');
      expect(p2.results()['c1']?.ready).toBe(false);
      p2.stop();
    }
  });

  it('flags a liveness failure after failureThreshold consecutive failures', async () => {
    const { clock, runtime, prober, pod } = await proberSetup(
      {
        livenessProbe: {
          exec: { command: ['check'] },
          initialDelaySeconds: 5,
          periodSeconds: 1,
          failureThreshold: 3,
        },
      },
      () => ({ exitCode: 1, stdout: 'dead' }),
    );
    prober.sync(pod, await runtime.listContainers(), '10.0.0.2');
    await clock.advance(4000);
    expect(runtime.calls.filter((c) => c.op === 'exec')).toEqual([]);
    await clock.advance(2500);
    expect(prober.results()['c1']?.livenessFailed).toBe(false);
    await clock.advance(1000);
    expect(prober.results()['c1']?.livenessFailed).toBe(true);
    prober.stop();
  });
});

describe('probes on a starved agent', () => {
  /** Blocks this process's event loop for `ms`, as a busy agent does. */
  function block(ms: number): void {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      // spin
    }
  }

  it('an answer that arrived in time wins over a timer that fired late', async () => {
    // The kernel completes the TCP handshake while this process is blocked (a container's server is
    // another process; an in-process HTTP server could not answer while blocked).
    const srv = createNetServer((c) => c.destroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    const target = { podIP: '127.0.0.1', containerId: 'c', container: {} };
    const pending = runHandler({ tcpSocket: { port } }, target, deps(), 300);
    block(600); // the handshake completes meanwhile; the timer is due first when the loop runs again
    const res = await pending;
    srv.close();
    expect(res).toEqual({ ok: true, message: '' });
  });

  it('a timeout whose timer fired far too late is marked starved, one on time is not', async () => {
    // Accepts and never answers.
    const srv = createNetServer(() => undefined);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    const target = { podIP: '127.0.0.1', containerId: 'c', container: {} };
    const d = deps();
    const late = runHandler({ httpGet: { path: '/', port } }, target, d, 200);
    block(800);
    expect(await late).toMatchObject({ ok: false, starved: true });
    const onTime = await runHandler({ httpGet: { path: '/', port } }, target, d, 200);
    expect(onTime.ok).toBe(false);
    expect(onTime.starved).toBeUndefined();
    srv.close();
  });
});
