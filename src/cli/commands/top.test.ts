import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { nodeTable as nodeTablePadded, podTable as podTablePadded, type PodMetricsView } from './top.js';

// Lines as kubectl prints them, trailing padding aside (the e2e test compares with kubectl byte for byte).
const trimmed = (s: string): string =>
  s
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
const nodeTable = (...a: Parameters<typeof nodeTablePadded>): string => trimmed(nodeTablePadded(...a));
const podTable = (...a: Parameters<typeof podTablePadded>): string => trimmed(podTablePadded(...a));

const node = (name: string, cpu: string, memory: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  status: { allocatable: { cpu, memory } },
});

describe('flotilla top node', () => {
  it('prints kubectl’s columns: millicores rounded up, MiB rounded down, % of allocatable; unknown last', () => {
    const out = nodeTable(
      [
        { metadata: { name: 'n1' }, usage: { cpu: '1250000001n', memory: '2Gi' } },
        { metadata: { name: 'n2' }, usage: { cpu: '250m', memory: '1048575' } },
      ],
      [node('n1', '4', '8Gi'), node('n2', '2', '4Gi'), node('n3', '2', '4Gi')],
    );
    expect(out).toBe(
      [
        'NAME   CPU(cores)   CPU(%)      MEMORY(bytes)   MEMORY(%)',
        'n1     1251m        31%         2048Mi          25%',
        'n2     250m         12%         0Mi             0%',
        'n3     <unknown>    <unknown>   <unknown>       <unknown>',
        '',
      ].join('\n'),
    );
  });

  it('sorts by cpu or memory, highest first, and can leave out the header', () => {
    const out = nodeTable(
      [
        { metadata: { name: 'a' }, usage: { cpu: '100m', memory: '3Gi' } },
        { metadata: { name: 'b' }, usage: { cpu: '900m', memory: '1Gi' } },
      ],
      [node('a', '1', '4Gi'), node('b', '1', '4Gi')],
      { sortBy: 'cpu', noHeaders: true },
    );
    expect(out.split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['b', 'a', '']);
  });
});

describe('flotilla top pod', () => {
  const pods: PodMetricsView[] = [
    {
      metadata: { name: 'web', namespace: 'default' },
      containers: [
        { name: 'app', usage: { cpu: '250m', memory: '20Mi' } },
        { name: 'side', usage: { cpu: '100001u', memory: '5Mi' } },
      ],
    },
    {
      metadata: { name: 'db', namespace: 'data' },
      containers: [{ name: 'main', usage: { cpu: '2', memory: '100Mi' } }],
    },
  ];

  it('pod totals', () => {
    expect(podTable(pods)).toBe(
      ['NAME   CPU(cores)   MEMORY(bytes)', 'web    351m         25Mi', 'db     2000m        100Mi', ''].join(
        '\n',
      ),
    );
  });

  it('--containers -A: NAMESPACE POD NAME, one row per container; --sort-by memory', () => {
    expect(podTable(pods, { containers: true, allNamespaces: true, sortBy: 'memory' })).toBe(
      [
        'NAMESPACE   POD   NAME   CPU(cores)   MEMORY(bytes)',
        'data        db    main   2000m        100Mi',
        'default     web   app    250m         20Mi',
        'default     web   side   101m         5Mi',
        '',
      ].join('\n'),
    );
  });
});
