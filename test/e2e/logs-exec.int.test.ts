// kubectl logs / exec (1.35 and 1.31), client-node's Exec and the flotilla verbs, end to end: API server
// (HTTPS, tokens) → node proxy → AgentServer (client certificate) → a stub ContainerRuntime whose log files
// the test writes in CRI format and whose exec runs the command on the host.
import * as k8s from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import * as pty from 'node-pty';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentServer } from '../../src/agent/server/index.js';
import type {
  ContainerRuntime,
  ContainerStatus,
  ExecOptions,
  ExecSession,
} from '../../src/agent/runtime/types.js';
import { runExec } from '../../src/cli/commands/exec.js';
import { memoryIO } from '../../src/cli/io.js';
import { run } from '../../src/cli/main.js';
import { Session } from '../../src/cli/session.js';
import { freePort } from '../../src/testkit/process.js';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { eventually } from '../../src/testkit/eventually.js';
import { callerFor, type Caller } from '../../src/testkit/http.js';
import { Kubectl } from '../../src/testkit/kubectl.js';

const suffix = Math.random().toString(36).slice(2, 8);
const viewerToken = `viewer-${suffix}-${Math.random().toString(36).slice(2)}`;

/** A runtime that knows only what the test tells it: containers with log files, exec on the host. */
class StubRuntime implements Partial<ContainerRuntime> {
  containers: ContainerStatus[] = [];
  async listContainers(): Promise<ContainerStatus[]> {
    return this.containers.map((c) => ({ ...c }));
  }
  async containerStatus(id: string): Promise<ContainerStatus | undefined> {
    return this.containers.find((c) => c.id === id);
  }
  async exec(_id: string, opts: ExecOptions): Promise<ExecSession> {
    const [file, ...args] = opts.command;
    if (opts.tty) {
      const term = pty.spawn(file ?? 'false', args, { cols: opts.columns ?? 80, rows: opts.rows ?? 24 });
      const out = new PassThrough();
      term.onData((d) => out.write(d));
      const exit = new Promise<number>((resolve) =>
        term.onExit(({ exitCode }) => {
          out.end();
          resolve(exitCode);
        }),
      );
      const input = new Writable({
        write(chunk: Buffer, _enc, cb) {
          term.write(chunk.toString('utf8'));
          cb();
        },
      });
      return {
        stdin: input,
        stdout: out,
        stderr: null,
        resize: (c, r) => term.resize(c, r),
        exit,
        kill: () => term.kill(),
      };
    }
    const child = spawn(file ?? 'false', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const exit = new Promise<number>((resolve) => {
      child.once('error', () => resolve(127));
      child.once('close', (code, signal) => resolve(code ?? (signal === null ? 1 : 128 + 9)));
    });
    child.stdin.on('error', () => undefined);
    return {
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      resize: () => undefined,
      exit,
      kill: () => child.kill('SIGKILL'),
    };
  }
}

let cluster: TestCluster;
let dataDir: string;
let logDir: string;
let agent: AgentServer;
let runtime: StubRuntime;
let admin: Caller;
const nodeName = `node-${suffix}`;

function container(
  pod: string,
  name: string,
  attempt: number,
  state: ContainerStatus['state'],
  lines: string[],
): ContainerStatus {
  const id = `${pod}-${name}-${attempt}-${suffix}`;
  const logPath = join(logDir, `${id}.log`);
  writeFileSync(logPath, lines.map((l) => `${l}\n`).join(''));
  return {
    id,
    labels: {
      podUid: `uid-${pod}`,
      podName: pod,
      podNamespace: 'default',
      containerName: name,
      attempt,
      kind: 'regular',
      specHash: 'h',
    },
    imageRef: 'busybox',
    imageId: 'sha256:0',
    state,
    createdAt: new Date(Date.now() - 60_000 + attempt * 1000),
    ...(state === 'created' ? {} : { startedAt: new Date() }),
    ...(state === 'exited' ? { finishedAt: new Date(), exitCode: 1 } : {}),
    logPath,
  };
}

async function createPod(name: string, containers: string[], node: string | undefined): Promise<void> {
  const res = await admin.call('POST', '/api/v1/namespaces/default/pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      ...(node === undefined ? {} : { nodeName: node }),
      containers: containers.map((c) => ({ name: c, image: 'busybox:1.36' })),
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), `flotilla-logs-exec-${suffix}-`));
  logDir = join(dataDir, 'logs');
  mkdirSync(logDir);
  // A read-only user next to the admin (the server reads tokens.csv at start).
  writeFileSync(
    join(dataDir, 'tokens.csv'),
    `admin-${suffix}-${Math.random().toString(36).slice(2)},admin,admin,"system:masters"\n` +
      `${viewerToken},viewer,viewer,"flotilla:viewers"\n`,
    { mode: 0o600 },
  );
  cluster = await startTestCluster({ store: 'sqlite', dataDir });
  admin = callerFor(cluster);
  runtime = new StubRuntime();
  agent = new AgentServer({
    host: '127.0.0.1',
    port: 0,
    caPem: cluster.caPem ?? '',
    runtime: runtime as unknown as ContainerRuntime,
    logPollMs: 50,
  });
  const port = await agent.start();
  const node = await admin.call('POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: nodeName },
  });
  expect(node.status, JSON.stringify(node.body)).toBe(201);
  const st = await admin.call(
    'PATCH',
    `/api/v1/nodes/${nodeName}/status`,
    {
      status: {
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
        daemonEndpoints: { kubeletEndpoint: { Port: port } },
      },
    },
    'application/merge-patch+json',
  );
  expect(st.status, JSON.stringify(st.body)).toBe(200);

  await createPod('web', ['app'], nodeName);
  await createPod('multi', ['main', 'side'], nodeName);
  await createPod('follow', ['app'], nodeName);
  await createPod('waiting', ['app'], nodeName);
  await createPod('pending', ['app'], undefined);
  // A node whose agent is not listening.
  const deadNode = `dead-${suffix}`;
  await admin.call('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: deadNode } });
  const deadPort = await freePort();
  await admin.call(
    'PATCH',
    `/api/v1/nodes/${deadNode}/status`,
    {
      status: {
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
        daemonEndpoints: { kubeletEndpoint: { Port: deadPort } },
      },
    },
    'application/merge-patch+json',
  );
  await createPod('orphan', ['app'], deadNode);
  runtime.containers.push(
    container('web', 'app', 0, 'exited', [
      '2026-11-26T11:00:00.000000001Z stdout F crashed run line',
      '2026-11-26T11:00:01Z stderr F panic: boom',
    ]),
    container('web', 'app', 1, 'running', [
      '2026-11-26T12:00:00.123456789Z stdout F line one',
      '2026-11-26T12:00:01Z stderr F line two (stderr)',
      '2026-11-26T12:00:02Z stdout P line thr',
      '2026-11-26T12:00:02.5Z stdout F ee',
      '2026-11-26T12:00:03Z stdout F line four',
    ]),
    container('multi', 'main', 0, 'running', ['2026-11-26T12:00:00Z stdout F from main']),
    container('multi', 'side', 0, 'running', ['2026-11-26T12:00:00Z stdout F from side']),
    container('follow', 'app', 0, 'running', ['2026-11-26T12:00:00Z stdout F first']),
    container('waiting', 'app', 0, 'created', []),
  );
});

afterAll(async () => {
  await agent?.close();
  await admin?.close();
  await cluster?.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('kubectl 1.35 logs', () => {
  let k: Kubectl;
  beforeAll(() => {
    k = new Kubectl('1.35', cluster.kubeconfig);
  });

  it('prints the current container log, partial records joined, stderr included', async () => {
    expect(await k.ok(['logs', 'web'])).toBe('line one\nline two (stderr)\nline three\nline four\n');
  });

  it('--tail, --timestamps, --limit-bytes', async () => {
    expect(await k.ok(['logs', 'web', '--tail=2'])).toBe('line three\nline four\n');
    expect(await k.ok(['logs', 'web', '--tail=1', '--timestamps'])).toBe(
      '2026-11-26T12:00:03.000000000Z line four\n',
    );
    expect(await k.ok(['logs', 'web', '--timestamps', '--tail=-1'])).toContain(
      '2026-11-26T12:00:00.123456789Z line one\n',
    );
    expect(await k.ok(['logs', 'web', '--limit-bytes=6'])).toBe('line o');
  });

  it('--previous shows the run before the restart; without one it is a 400 with the kubelet message', async () => {
    expect(await k.ok(['logs', 'web', '--previous'])).toBe('crashed run line\npanic: boom\n');
    const r = await k.run(['logs', 'follow', '--previous']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('previous terminated container "app" in pod "follow" not found');
  });

  it('picks a container with -c, and defaults to the first as kubectl does', async () => {
    expect(await k.ok(['logs', 'multi', '-c', 'side'])).toBe('from side\n');
    const r = await k.run(['logs', 'multi']);
    expect(r.stdout).toBe('from main\n');
    const bad = await k.run(['logs', 'multi', '-c', 'nope']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('container nope is not valid for pod multi');
  });

  it('says a never-started container is waiting, and a pod with no node has no host', async () => {
    const w = await k.run(['logs', 'waiting']);
    expect(w.stderr).toContain('container "app" in pod "waiting" is waiting to start: ContainerCreating');
    const p = await k.run(['logs', 'pending']);
    expect(p.code).not.toBe(0);
    expect(p.stderr).toContain('pod pending does not have a host assigned');
  });

  it('-f streams lines appended later and ends when the container exits', async () => {
    const f = k.start(['logs', '-f', 'follow']);
    const exited = new Promise<number | null>((resolve) => f.child.once('exit', (code) => resolve(code)));
    await eventually(() => expect(f.output()).toBe('first\n'), 20_000);
    const c = runtime.containers.find((x) => x.labels.podName === 'follow');
    appendFileSync(c!.logPath, '2026-11-26T12:00:05Z stdout F second\n');
    await eventually(() => expect(f.output()).toBe('first\nsecond\n'), 20_000);
    appendFileSync(c!.logPath, '2026-11-26T12:00:06Z stderr F last words\n');
    c!.state = 'exited';
    c!.exitCode = 0;
    expect(await exited).toBe(0);
    expect(f.output()).toBe('first\nsecond\nlast words\n');
  });

  it('refuses bad parameters with upstream-like 400s', async () => {
    const r = await admin.call('GET', '/api/v1/namespaces/default/pods/web/log?tailLines=-2');
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('tailLines: Invalid value: -2: must be greater than or equal to 0');
    const both = await admin.call(
      'GET',
      '/api/v1/namespaces/default/pods/web/log?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z',
    );
    expect(both.status).toBe(400);
    expect(both.body.message).toContain('at most one of `sinceTime` or `sinceSeconds` may be specified');
    const multi = await admin.call('GET', '/api/v1/namespaces/default/pods/multi/log');
    expect(multi.status).toBe(400);
    expect(multi.body.message).toBe(
      'a container name must be specified for pod multi, choose one of: [main side]',
    );
    const missing = await admin.call('GET', '/api/v1/namespaces/default/pods/nope/log');
    expect(missing.status).toBe(404);
  });
});

describe.each(['1.35', '1.31'] as const)('kubectl %s exec', (version) => {
  let k: Kubectl;
  beforeAll(() => {
    k = new Kubectl(version, cluster.kubeconfig);
  });

  it('passes stdout and stderr apart and exits with the command exit code', async () => {
    const r = await k.run(['exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toContain('err\n');
    expect(r.code).toBe(3);
    expect(await k.ok(['exec', 'web', '-c', 'app', '--', 'echo', 'fine'])).toBe('fine\n');
  });

  it('feeds stdin and closes it at EOF (echo hi | kubectl exec -i POD -- cat)', async () => {
    expect(await k.ok(['exec', '-i', 'web', '--', 'cat'], 'hi\n')).toBe('hi\n');
  });

  it('denies a viewer (403) and says a pod without a node has no host (400)', async () => {
    const v = await k.run([`--token=${viewerToken}`, 'exec', 'web', '--', 'true']);
    expect(v.code).not.toBe(0);
    expect(v.stderr).toContain('Forbidden');
    expect(v.stderr).toContain('cannot create resource "pods/exec"');
    // A viewer still reads logs (get pods/log).
    expect(await k.ok([`--token=${viewerToken}`, 'logs', 'web', '--tail=1'])).toBe('line four\n');
    const p = await k.run(['exec', 'pending', '--', 'true']);
    expect(p.code).not.toBe(0);
    expect(p.stderr).toContain('pod pending does not have a host assigned');
  });
});

describe('kubectl 1.35 failure reports', () => {
  let k: Kubectl;
  beforeAll(() => {
    k = new Kubectl('1.35', cluster.kubeconfig);
  });

  it('names the node and the cause when its agent cannot be reached', async () => {
    const l = await k.run(['logs', 'orphan']);
    expect(l.code).not.toBe(0);
    expect(l.stderr).toContain('ServiceUnavailable');
    expect(l.stderr).toMatch(
      /error dialing backend: node "dead-\w+" \(agent at https:\/\/127\.0\.0\.1:\d+\): connect ECONNREFUSED/,
    );
    const e = await k.run(['exec', 'orphan', '--', 'true']);
    expect(e.code).not.toBe(0);
    expect(e.stderr).toMatch(/error dialing backend: node "dead-\w+"/);
  });

  it('reports a container that is not running on the error channel', async () => {
    const r = await k.run(['exec', 'waiting', '--', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('container "app" in pod "waiting" is not running');
  });

  it('tells a SPDY client that Flotilla speaks WebSocket', async () => {
    process.env.KUBECTL_REMOTE_COMMAND_WEBSOCKETS = 'false';
    try {
      const r = await k.run(['exec', 'web', '--', 'true']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('Flotilla speaks the WebSocket streaming protocol');
    } finally {
      delete process.env.KUBECTL_REMOTE_COMMAND_WEBSOCKETS;
    }
  });
});

describe('@kubernetes/client-node Exec', () => {
  it('returns the command status over v4 (and v5)', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    for (const protocol of ['v4.channel.k8s.io', 'v5.channel.k8s.io']) {
      let negotiated = '';
      const exec = new k8s.Exec(kc);
      // client-node offers v5 down to v1; its socket factory (a test hook) lets us offer only one.
      (exec as unknown as { handler: { socketFactory: unknown } }).handler.socketFactory = (
        uri: string,
        _protocols: string[],
        opts: WebSocket.ClientOptions,
      ) => {
        const ws = new WebSocket(uri, [protocol], opts);
        ws.once('open', () => (negotiated = ws.protocol));
        return ws;
      };
      let out = '';
      const stdout = new Writable({
        write(chunk: Buffer, _enc, cb) {
          out += chunk.toString();
          cb();
        },
      });
      const status = await new Promise<k8s.V1Status>((resolve, reject) => {
        exec
          .exec(
            'default',
            'web',
            'app',
            ['sh', '-c', 'echo via client-node; exit 5'],
            stdout,
            new PassThrough(),
            null,
            false,
            resolve,
          )
          .catch(reject);
      });
      expect(negotiated).toBe(protocol);
      expect(out).toBe('via client-node\n');
      expect(status.status).toBe('Failure');
      expect(status.reason).toBe('NonZeroExitCode');
      expect(status.details?.causes?.[0]).toMatchObject({ reason: 'ExitCode', message: '5' });
    }
  });
});

describe('the agent server on its own', () => {
  it('refuses a client without the API server certificate', async () => {
    const res = await fetch(`https://127.0.0.1:${agent.port}/containerLogs/default/web/app`, {
      // @ts-expect-error undici-specific option in Node's fetch
      dispatcher: new (await import('undici')).Agent({ connect: { rejectUnauthorized: false } }),
    });
    expect(res.status).toBe(401);
  });
});

describe('flotilla logs and exec', () => {
  const flotilla = async (
    args: string[],
    stdin = '',
  ): Promise<{ code: number; out: string; err: string }> => {
    const io = memoryIO({ stdin, env: {} });
    const code = await run(['--kubeconfig', cluster.kubeconfig, ...args], io);
    return { code, out: io.out(), err: io.err() };
  };

  it('logs with --tail, --timestamps, --previous and a defaulted container', async () => {
    expect((await flotilla(['logs', 'web'])).out).toBe(
      'line one\nline two (stderr)\nline three\nline four\n',
    );
    expect((await flotilla(['logs', 'pod/web', '--tail', '1', '--timestamps'])).out).toBe(
      '2026-11-26T12:00:03.000000000Z line four\n',
    );
    expect((await flotilla(['logs', 'web', '-p'])).out).toBe('crashed run line\npanic: boom\n');
    const multi = await flotilla(['logs', 'multi']);
    expect(multi.out).toBe('from main\n');
    expect(multi.err).toContain('Defaulted container "main" out of: main, side');
    const bad = await flotilla(['logs', 'pending']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('pod pending does not have a host assigned');
  });

  it('exec: output, stdin, and the exit code of the command', async () => {
    const r = await flotilla(['exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2; exit 4']);
    expect(r.out).toBe('out\n');
    expect(r.err).toContain('err\n');
    expect(r.err).toContain('command terminated with exit code 4');
    expect(r.code).toBe(4);
    const cat = await flotilla(['exec', '-i', 'web', '--', 'cat'], 'piped\n');
    expect(cat).toMatchObject({ code: 0, out: 'piped\n' });
    const denied = await flotilla(['--token', viewerToken, 'exec', 'web', '--', 'true']);
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('Forbidden');
  });

  it('exec -t: one merged stream from a terminal that takes the window size and its changes', async () => {
    const io = memoryIO({ env: {} });
    const session = new Session(io, { kubeconfig: cluster.kubeconfig });
    let size = { columns: 100, rows: 30 };
    let notify: () => void = () => undefined;
    const input = new PassThrough();
    try {
      const done = runExec(
        session,
        'web',
        ['sh', '-c', 'sleep 1; stty size; echo oops >&2; sleep 1; stty size'],
        { tty: true, stdin: true },
        {
          input,
          setRaw: () => undefined,
          size: () => size,
          onResize: (l) => {
            notify = l;
            return () => undefined;
          },
        },
      );
      await eventually(() => expect(io.out()).toContain('30 100'), 20_000);
      size = { columns: 90, rows: 20 };
      notify();
      expect(await done).toBe(0);
      expect(io.out()).toContain('20 90');
      expect(io.out()).toContain('oops');
      expect(io.err()).toBe('');
    } finally {
      input.end();
      await session.close();
    }
  });
});
