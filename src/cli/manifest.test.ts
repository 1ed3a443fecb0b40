import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testDir } from '../testkit/temp-dir.js';
import { formatProblem, loadManifests, parseManifestText } from './manifest.js';

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
`;

describe('parseManifestText', () => {
  it('reads multi-document YAML, skipping empty documents', () => {
    const set = parseManifestText(
      'app.yaml',
      `---\n${deployment}---\n# just a comment\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n`,
    );
    expect(set.problems).toEqual([]);
    expect(set.objects.map((o) => [o.document, o.info.kind, o.object.metadata.name])).toEqual([
      [1, 'Deployment', 'web'],
      [3, 'Service', 'web'],
    ]);
    expect(set.objects[0]!.object.spec).toEqual({ replicas: 2 });
  });

  it('reads JSON and expands kind: List', () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } },
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'dev' } },
      ],
    };
    const set = parseManifestText('list.json', JSON.stringify(list));
    expect(set.problems).toEqual([]);
    expect(set.objects.map((o) => [o.document, o.item, o.info.kind])).toEqual([
      [1, 0, 'ConfigMap'],
      [1, 1, 'Namespace'],
    ]);
    // A typed list (ConfigMapList) in YAML works too.
    const typed = parseManifestText(
      'x.yaml',
      'apiVersion: v1\nkind: ConfigMapList\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n',
    );
    expect(typed.objects.map((o) => o.object.metadata.name)).toEqual(['b']);
  });

  it('names file, document and field for every problem, without stopping at the first', () => {
    const set = parseManifestText(
      'app.yaml',
      `${deployment}---\napiVersion: v1\nmetadata: {name: x}\n---\napiVersion: apps/v1\nkind: Foo\nmetadata: {name: y}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {version: 1.0}\n---\n- a list\n`,
    );
    expect(set.objects).toHaveLength(1);
    expect(set.problems.map(formatProblem)).toEqual([
      'app.yaml: document 2: missing "kind"',
      'app.yaml: document 3: no resource type for apps/v1 Foo',
      'app.yaml: document 4: missing "metadata.name"',
      'app.yaml: document 4: "metadata.labels.version" must be a string, got number (quote the value)',
      'app.yaml: document 5: expected a mapping with apiVersion, kind and metadata, got a list',
    ]);
  });

  it('suggests the served version of a known kind', () => {
    const set = parseManifestText(
      'd.yaml',
      'apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: w}\n',
    );
    expect(set.problems.map(formatProblem)).toEqual([
      'd.yaml: document 1: no resource type for extensions/v1beta1 Deployment (did you mean apps/v1 Deployment?)',
    ]);
  });

  it('reports YAML and JSON syntax errors with the document', () => {
    const yaml = parseManifestText('bad.yaml', `${deployment}---\nkind: [unclosed\n`);
    expect(yaml.objects).toHaveLength(1);
    expect(yaml.problems).toHaveLength(1);
    expect(formatProblem(yaml.problems[0]!)).toMatch(/^bad\.yaml: document 2: invalid YAML: /);
    const json = parseManifestText('bad.json', '{"apiVersion": "v1",');
    expect(formatProblem(json.problems[0]!)).toMatch(/^bad\.json: document 1: invalid JSON: /);
  });

  it('reports problems inside List items with their index', () => {
    const set = parseManifestText(
      'l.yaml',
      'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: ok}}\n- {apiVersion: v1, metadata: {name: nokind}}\n',
    );
    expect(set.problems.map(formatProblem)).toEqual(['l.yaml: document 1: items[1]: missing "kind"']);
  });
});

describe('loadManifests', () => {
  it('reads files, directories (recursively with -R) and stdin', async () => {
    const dir = testDir('manifests-');
    writeFileSync(join(dir, 'b.yaml'), deployment);
    writeFileSync(
      join(dir, 'a.json'),
      JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } }),
    );
    writeFileSync(join(dir, 'notes.txt'), 'not a manifest');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'c.yml'), 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n');

    const flat = await loadManifests(['.'], { cwd: dir });
    expect(flat.objects.map((o) => `${o.source} ${o.info.kind}`)).toEqual([
      'a.json ConfigMap',
      'b.yaml Deployment',
    ]);
    const deep = await loadManifests([dir], { recursive: true });
    expect(deep.objects.map((o) => o.info.kind)).toEqual(['ConfigMap', 'Deployment', 'Secret']);
    const stdin = await loadManifests(['-'], { readStdin: () => Promise.resolve(deployment) });
    expect(stdin.objects.map((o) => `${o.source} ${o.object.metadata.name}`)).toEqual(['STDIN web']);
  });

  it('reports a missing path', async () => {
    const set = await loadManifests(['nope.yaml'], { cwd: tmpdir() });
    expect(set.problems.map(formatProblem)).toEqual(['nope.yaml: no such file or directory']);
  });
});
