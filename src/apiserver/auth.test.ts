import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { authorize, ensureNodeToken, ensureTokens, nodeGroup, parseTokenFile } from './auth.js';

const node = { name: 'system:node:n1', uid: 'system:node:n1', groups: [nodeGroup] };

describe('node agent authorization', () => {
  it('lets an agent read everything and write only what it owns', () => {
    for (const r of ['pods', 'secrets', 'configmaps', 'services', 'nodes'])
      expect(authorize(node, 'list', r, undefined)).toBeUndefined();
    expect(authorize(node, 'update', 'pods/status', 'default')).toBeUndefined();
    expect(authorize(node, 'delete', 'pods', 'default')).toBeUndefined();
    expect(authorize(node, 'create', 'nodes', undefined)).toBeUndefined();
    expect(authorize(node, 'update', 'leases', 'kube-node-lease')).toBeUndefined();
    expect(authorize(node, 'create', 'events', 'default')).toBeUndefined();
    expect(authorize(node, 'create', 'pods', 'default')).toMatch(/cannot create resource "pods"/);
    expect(authorize(node, 'update', 'pods', 'default')).toMatch(/cannot update/);
    expect(authorize(node, 'delete', 'secrets', 'default')).toMatch(/cannot delete/);
    expect(authorize(node, 'create', 'deployments', 'default')).toMatch(/cannot create/);
  });
});

describe('node tokens', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('issues one token per node name and keeps it across starts', () => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-auth-'));
    ensureTokens(dir);
    const t1 = ensureNodeToken(dir, 'n1');
    expect(ensureNodeToken(dir, 'n1')).toBe(t1);
    const entries = parseTokenFile(readFileSync(join(dir, 'tokens.csv'), 'utf8'));
    expect(entries.find((e) => e.token === t1)).toMatchObject({
      name: 'system:node:n1',
      groups: [nodeGroup],
    });
    expect(entries).toHaveLength(2);
  });
});
