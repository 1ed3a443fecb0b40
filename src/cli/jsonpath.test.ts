import { describe, expect, it } from 'vitest';
import { evaluate, executeTemplate, JsonPathError, parseExpression, parseTemplate } from './jsonpath.js';

const deploy = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { app: 'web', 'app.kubernetes.io/name': 'shop' } },
  spec: {
    replicas: 3,
    template: {
      spec: {
        containers: [
          { name: 'web', image: 'nginx:1.25', ports: [{ containerPort: 80 }] },
          { name: 'sidecar', image: 'envoy:1', ports: [{ containerPort: 9901 }] },
        ],
      },
    },
  },
  status: {
    conditions: [
      { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
      { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' },
    ],
  },
};

describe('jsonpath expressions', () => {
  it.each<[string, unknown[]]>([
    ['{.metadata.name}', ['web']],
    ['.metadata.name', ['web']],
    ['metadata.name', ['web']],
    ['{$.spec.replicas}', [3]],
    ['{.spec.template.spec.containers[0].image}', ['nginx:1.25']],
    ['{.spec.template.spec.containers[-1].name}', ['sidecar']],
    ['{.spec.template.spec.containers[*].name}', ['web', 'sidecar']],
    ['{.spec.template.spec.containers[0:1].name}', ['web']],
    ["{.spec.template.spec.containers[?(@.name=='sidecar')].image}", ['envoy:1']],
    ['{.status.conditions[?(@.type=="Available")].status}', ['False']],
    ['{.status.conditions[?(@.status!="True")].type}', ['Available']],
    ['{.spec.template.spec.containers[?(@.ports[0].containerPort > 100)].name}', ['sidecar']],
    ["{.metadata.labels['app.kubernetes.io/name']}", ['shop']],
    ['{.metadata.labels.app\\.kubernetes\\.io/name}', ['shop']],
    ['{..containerPort}', [80, 9901]],
    ['{.metadata.missing}', []],
    ['{.spec.template.spec.containers[7].name}', []],
  ])('%s', (expr, want) => {
    expect(evaluate(deploy, parseExpression(expr))).toEqual(want);
  });

  it('rejects malformed expressions', () => {
    expect(() => parseExpression('{.a[}')).toThrow(JsonPathError);
    expect(() => parseExpression('{.a[?(@.x==)]}')).toThrow(JsonPathError);
  });
});

describe('jsonpath templates', () => {
  it('mixes text, literals, expressions and range', () => {
    const list = { items: [deploy, { ...deploy, metadata: { name: 'api' }, spec: { replicas: 1 } }] };
    expect(
      executeTemplate('{range .items[*]}{.metadata.name}{"\\t"}{.spec.replicas}{"\\n"}{end}', list),
    ).toBe('web\t3\napi\t1\n');
    expect(executeTemplate('name={.metadata.name} n={.spec.replicas}', deploy)).toBe('name=web n=3');
    expect(executeTemplate('{.items[*].metadata.name}', list)).toBe('web api');
  });

  it('prints maps and lists as JSON with sorted keys', () => {
    expect(executeTemplate('{.metadata.labels}', deploy)).toBe(
      '{"app":"web","app.kubernetes.io/name":"shop"}',
    );
  });

  it('reports unbalanced templates', () => {
    expect(() => parseTemplate('{range .items[*]}{.x}')).toThrow(/unclosed range/);
    expect(() => parseTemplate('{end}')).toThrow(/not in range/);
    expect(() => parseTemplate('{.a')).toThrow(/unclosed action/);
  });
});
