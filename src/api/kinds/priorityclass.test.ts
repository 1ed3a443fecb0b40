import { describe, expect, it } from 'vitest';
import { priorityClassHandler, systemPriorityClasses, systemPriorityClassObject } from './priorityclass.js';
import { create, obj, update } from './testing.js';

const pc = (name: string, fields: Record<string, unknown>) =>
  obj('scheduling.k8s.io/v1', 'PriorityClass', fields, { name, namespace: undefined });

describe('PriorityClass', () => {
  it('defaults preemptionPolicy to PreemptLowerPriority', () => {
    const o = pc('high', { value: 1000 });
    expect(create(priorityClassHandler, o)).toEqual([]);
    expect(o['preemptionPolicy']).toBe('PreemptLowerPriority');
    const never = pc('batch', { value: -5, preemptionPolicy: 'Never' });
    expect(create(priorityClassHandler, never)).toEqual([]);
    expect(never['preemptionPolicy']).toBe('Never');
  });

  it('accepts the built-in system classes as the server creates them', () => {
    for (const c of systemPriorityClasses)
      expect(create(priorityClassHandler, systemPriorityClassObject(c)), c.name).toEqual([]);
    expect(systemPriorityClasses.map((c) => [c.name, c.value])).toEqual([
      ['system-node-critical', 2000001000],
      ['system-cluster-critical', 2000000000],
    ]);
  });

  it.each([
    ['no value', pc('a', {}), ['value: Required value']],
    ['a fractional value', pc('a', { value: 1.5 }), ['value: Invalid value: 1.5: must be a 32-bit integer']],
    [
      'a value past int32',
      pc('a', { value: 3_000_000_000 }),
      ['value: Invalid value: 3000000000: must be a 32-bit integer'],
    ],
    [
      'a user value above one billion',
      pc('a', { value: 1_000_000_001 }),
      ['value: Forbidden: maximum allowed value of a user defined priority is 1000000000'],
    ],
    [
      'an unknown system- name',
      pc('system-mine', { value: 10 }),
      [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class",
      ],
    ],
    [
      'a system class with another value',
      pc('system-node-critical', { value: 10 }),
      [expect.stringContaining('value of system priority class system-node-critical must be 2000001000')],
    ],
    [
      'a system class as global default',
      pc('system-cluster-critical', { value: 2_000_000_000, globalDefault: true }),
      [expect.stringContaining('may not be the global default')],
    ],
    [
      'an unknown preemptionPolicy',
      pc('a', { value: 1, preemptionPolicy: 'Sometimes' }),
      ['preemptionPolicy: Unsupported value: "Sometimes": supported values: "Never", "PreemptLowerPriority"'],
    ],
    [
      'a namespace',
      obj('scheduling.k8s.io/v1', 'PriorityClass', { value: 1 }, { name: 'a', namespace: 'default' }),
      ['metadata.namespace: Forbidden: not allowed on this type'],
    ],
  ])('rejects %s, naming the field', (_what, o, messages) => {
    expect(create(priorityClassHandler, o)).toEqual(messages);
  });

  it('allows a negative user value and exactly one billion', () => {
    expect(create(priorityClassHandler, pc('low', { value: -100 }))).toEqual([]);
    expect(create(priorityClassHandler, pc('top', { value: 1_000_000_000 }))).toEqual([]);
  });

  it('keeps value and preemptionPolicy, but lets description and globalDefault change', () => {
    const before = pc('high', { value: 1000 });
    expect(update(priorityClassHandler, before, (o) => (o['value'] = 2000))).toEqual([
      'value: Forbidden: may not be changed in an update.',
    ]);
    expect(update(priorityClassHandler, before, (o) => (o['preemptionPolicy'] = 'Never'))).toEqual([
      'preemptionPolicy: Invalid value: "Never": field is immutable',
    ]);
    expect(
      update(priorityClassHandler, before, (o) => {
        o['description'] = 'new';
        o['globalDefault'] = true;
      }),
    ).toEqual([]);
  });
});
