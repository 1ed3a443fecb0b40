import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/types.js';
import { agentEndpoint, chooseContainer, execQuery, logQuery } from './node-proxy.js';

const pod = (containers: string[], init: string[] = []): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web' },
  spec: {
    containers: containers.map((name) => ({ name })),
    ...(init.length > 0 ? { initContainers: init.map((name) => ({ name })) } : {}),
  },
});

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
};

describe('node proxy parameters', () => {
  it('chooses the container as the API does', () => {
    expect(chooseContainer(pod(['app']), null)).toBe('app');
    expect(chooseContainer(pod(['a', 'b'], ['init']), 'init')).toBe('init');
    expect(message(() => chooseContainer(pod(['a', 'b'], ['init']), ''))).toBe(
      'a container name must be specified for pod web, choose one of: [a b] or one of the init containers: [init]',
    );
    expect(message(() => chooseContainer(pod(['a']), 'x'))).toBe('container x is not valid for pod web');
  });

  it('validates log options and forwards only what the agent needs', () => {
    const q = logQuery(
      new URLSearchParams('container=a&follow=true&tailLines=5&timestamps=1&previous=false&pretty=true'),
    );
    expect(q.toString()).toBe('follow=true&timestamps=true&tailLines=5');
    expect(message(() => logQuery(new URLSearchParams('tailLines=x')))).toBe(
      'tailLines: Invalid value: "x": must be an integer',
    );
    expect(message(() => logQuery(new URLSearchParams('limitBytes=0&sinceSeconds=0')))).toBe(
      '[limitBytes: Invalid value: 0: must be greater than 0, sinceSeconds: Invalid value: 0: must be greater than 0]',
    );
    expect(message(() => logQuery(new URLSearchParams('sinceTime=yesterday')))).toContain(
      'must be an RFC 3339 time',
    );
  });

  it('needs a command and at least one stream for exec', () => {
    expect(
      execQuery(
        new URLSearchParams('command=sh&command=-c&command=x&stdout=true&tty=false'),
      ).query.toString(),
    ).toBe('command=sh&command=-c&command=x&stdout=true');
    expect(message(() => execQuery(new URLSearchParams('stdout=true')))).toBe(
      'you must specify at least one command for the container',
    );
    expect(message(() => execQuery(new URLSearchParams('command=ls')))).toBe(
      'you must specify at least 1 of stdin, stdout, stderr',
    );
  });

  it("finds the agent at the node's InternalIP (else Hostname) and kubelet port (default 10250)", () => {
    const node = (status: unknown): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1' },
      status,
    });
    expect(
      agentEndpoint(
        node({
          addresses: [
            { type: 'Hostname', address: 'n1.local' },
            { type: 'InternalIP', address: '10.0.0.5' },
          ],
          daemonEndpoints: { kubeletEndpoint: { Port: 10555 } },
        }),
      ),
    ).toEqual({ node: 'n1', host: '10.0.0.5', port: 10555 });
    expect(agentEndpoint(node({ addresses: [{ type: 'Hostname', address: 'n1.local' }] }))).toEqual({
      node: 'n1',
      host: 'n1.local',
      port: 10250,
    });
    expect(message(() => agentEndpoint(node({})))).toBe(
      'node "n1" has no InternalIP or Hostname address to reach its agent',
    );
  });
});
