import { describe, expect, it } from 'vitest';
import { messageDef, messages, topLevelKinds } from './messages.js';

describe('message tables', () => {
  it('name only messages that exist, once per field number', () => {
    for (const m of messages.values()) {
      expect(new Set(m.fields.map((f) => f.no)).size).toBe(m.fields.length);
      for (const f of m.fields) {
        if (f.category === 'message') expect(messages.has(f.type), `${m.name}.${f.json}`).toBe(true);
      }
    }
  });

  it('have a table for every top-level kind, with metadata as field 1', () => {
    for (const [key, name] of topLevelKinds) {
      const def = messageDef(name);
      expect(def.byNumber.get(1), key).toMatchObject({ json: 'metadata', type: 'ObjectMeta' });
    }
  });

  it('parse the field notation', () => {
    const byJson = (msg: string, json: string) => messageDef(msg).fields.find((f) => f.json === json);
    expect(byJson('DeploymentSpec', 'replicas')).toMatchObject({ no: 1, type: 'int32', ptr: true });
    expect(byJson('DeploymentSpec', 'selector')).toMatchObject({ ptr: true, required: true });
    expect(byJson('PodSpec', 'containers')).toMatchObject({ no: 2, repeated: true, required: true });
    expect(byJson('ObjectMeta', 'labels')).toMatchObject({ no: 11, map: true, type: 'string' });
    expect(byJson('ResourceRequirements', 'limits')).toMatchObject({ map: true, category: 'wrapper' });
    expect(messageDef('Probe').byNumber.get(1)).toMatchObject({
      inline: true,
      json: '',
      type: 'ProbeHandler',
    });
    expect(() => messageDef('StatefulSet')).toThrow('no protobuf table for StatefulSet');
  });
});
