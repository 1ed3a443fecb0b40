import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { findByKind, resources, type ResourceInfo } from '../../api/resources.js';
import type { OwnerReference } from '../../api/types.js';
import { reconcileGarbage, toGcNode, type GcAction, type GcNode, type GcResult } from './reconcile.js';

const info = (apiVersion: string, kind: string): ResourceInfo => {
  const i = findByKind(apiVersion, kind);
  if (i === undefined) throw new Error(`no resource ${kind}`);
  return i;
};
const Deployment = info('apps/v1', 'Deployment');
const ReplicaSet = info('apps/v1', 'ReplicaSet');
const Pod = info('v1', 'Pod');
const Node = info('v1', 'Node');
const Namespace = info('v1', 'Namespace');

/** Fluent builder, in the style of the scheduler's MakePod(). */
class Obj {
  private n: GcNode;
  constructor(
    i: ResourceInfo,
    name: string,
    namespace: string | undefined = i.namespaced ? 'default' : undefined,
  ) {
    this.n = {
      info: i,
      namespace,
      name,
      uid: `uid-${name}`,
      resourceVersion: '1',
      ownerReferences: [],
      deletionTimestamp: undefined,
      finalizers: [],
    };
  }
  uid(uid: string): this {
    this.n = { ...this.n, uid };
    return this;
  }
  ns(namespace: string): this {
    this.n = { ...this.n, namespace };
    return this;
  }
  ownedBy(
    owner: GcNode | { apiVersion: string; kind: string; name: string; uid: string },
    extra: Partial<OwnerReference> = {},
  ): this {
    const ref: OwnerReference =
      'info' in owner
        ? {
            apiVersion:
              owner.info.group === '' ? owner.info.version : `${owner.info.group}/${owner.info.version}`,
            kind: owner.info.kind,
            name: owner.name,
            uid: owner.uid,
            ...extra,
          }
        : { ...owner, ...extra };
    this.n = { ...this.n, ownerReferences: [...this.n.ownerReferences, ref] };
    return this;
  }
  deleting(...finalizers: string[]): this {
    this.n = {
      ...this.n,
      deletionTimestamp: '2024-01-01T00:00:00Z',
      finalizers: [...this.n.finalizers, ...finalizers],
    };
    return this;
  }
  finalizers(...finalizers: string[]): this {
    this.n = { ...this.n, finalizers };
    return this;
  }
  obj(): GcNode {
    return this.n;
  }
}
const make = (i: ResourceInfo, name: string, ns?: string): Obj =>
  new Obj(i, name, ns ?? (i.namespaced ? 'default' : undefined));

function run(...objects: GcNode[]): GcResult {
  return reconcileGarbage({ objects, observed: resources });
}
/** Actions in a compact, readable form. */
function summary(r: GcResult): string[] {
  return r.actions.map((a) => {
    switch (a.type) {
      case 'delete':
        return `delete ${a.target.name} ${a.propagationPolicy}`;
      case 'patchOwnerRefs':
        return `patch ${a.target.name} [${a.ownerReferences.map((o) => `${o.name}${o.blockOwnerDeletion === true ? '!' : ''}`).join(',')}]`;
      case 'removeFinalizer':
        return `unfinalize ${a.target.name} ${a.finalizer} -> [${a.finalizers.join(',')}]`;
      default: {
        const never: never = a;
        return never;
      }
    }
  });
}

describe('reconcileGarbage: background', () => {
  const deploy = make(Deployment, 'web').obj();
  const rs = make(ReplicaSet, 'web-1').ownedBy(deploy, { controller: true, blockOwnerDeletion: true }).obj();
  const pod = make(Pod, 'web-1-a').ownedBy(rs, { controller: true, blockOwnerDeletion: true }).obj();

  it('does nothing while owners exist', () => {
    expect(run(deploy, rs, pod).actions).toEqual([]);
  });

  it('deletes a dependent whose only owner is gone, asking the caller to confirm the owner is absent', () => {
    const r = run(rs, pod);
    expect(summary(r)).toEqual(['delete web-1 Background']);
    const [del] = r.actions;
    expect(del).toMatchObject({
      target: { uid: 'uid-web-1', namespace: 'default' },
      absentOwners: [{ info: Deployment, namespace: 'default', name: 'web', uid: 'uid-web' }],
    });
  });

  it('cascades one level a pass: once the ReplicaSet is gone, its pods go', () => {
    expect(summary(run(pod))).toEqual(['delete web-1-a Background']);
  });

  it('keeps a dependent with one live owner and removes only the dangling reference', () => {
    const other = make(Deployment, 'other').obj();
    const shared = make(ReplicaSet, 'shared').ownedBy(deploy).ownedBy(other).obj();
    expect(summary(run(other, shared))).toEqual(['patch shared [other]']);
    const patch = run(other, shared).actions[0];
    expect(patch).toMatchObject({
      type: 'patchOwnerRefs',
      absentOwners: [{ name: 'web', uid: 'uid-web' }],
      target: { resourceVersion: '1' },
    });
  });

  it('treats an owner with the right name but another uid as gone (it was recreated)', () => {
    const recreated = make(Deployment, 'web').uid('uid-web-v2').obj();
    expect(summary(run(recreated, rs))).toEqual(['delete web-1 Background']);
  });

  it('honours the dependent’s own orphan or foreground finalizer when collecting it', () => {
    const a = make(ReplicaSet, 'a').ownedBy(deploy).finalizers('orphan').obj();
    const b = make(ReplicaSet, 'b').ownedBy(deploy).finalizers('foregroundDeletion').obj();
    expect(summary(run(a, b))).toEqual(['delete a Orphan', 'delete b Foreground']);
  });

  it('leaves alone dependents already being deleted', () => {
    const going = make(ReplicaSet, 'going').ownedBy(deploy).deleting('example.com/cleanup').obj();
    expect(run(going).actions).toEqual([]);
  });
});

describe('reconcileGarbage: namespaces and kinds', () => {
  it('an owner with the same uid in another namespace is absent, with an OwnerRefInvalidNamespace warning', () => {
    const owner = make(Deployment, 'web', 'a').obj();
    const dep = make(ReplicaSet, 'web-1', 'b').ownedBy(owner).obj();
    const r = run(owner, dep);
    expect(summary(r)).toEqual(['delete web-1 Background']);
    expect(r.warnings).toMatchObject([
      { reason: 'OwnerRefInvalidNamespace', target: { name: 'web-1', namespace: 'b' } },
    ]);
    expect(r.warnings[0]?.message).toContain('does not exist in namespace "b"');
  });

  it('a namespaced dependent may have a cluster-scoped owner', () => {
    const node = make(Node, 'node-a').obj();
    const lease = make(Pod, 'mirror').ns('kube-system').ownedBy(node).obj();
    expect(run(node, lease).actions).toEqual([]);
    expect(summary(run(lease))).toEqual(['delete mirror Background']);
  });

  it('never collects a cluster-scoped dependent naming a namespaced owner kind, and warns', () => {
    const node = make(Node, 'node-a')
      .ownedBy({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', uid: 'u' })
      .obj();
    const r = run(node);
    expect(r.actions).toEqual([]);
    expect(r.warnings).toMatchObject([{ reason: 'OwnerRefUnresolvable' }]);
  });

  it('never collects a dependent whose owner kind is not observed, even if its other owners are gone', () => {
    const pod = make(Pod, 'db-0')
      .ownedBy({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'uid-db' })
      .ownedBy({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'gone', uid: 'uid-gone' })
      .obj();
    expect(run(pod).actions).toEqual([]);
    // Observing only Pods: a ReplicaSet owner is unresolvable too.
    const rsOwned = make(Pod, 'p')
      .ownedBy({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'gone', uid: 'uid-gone' })
      .obj();
    expect(reconcileGarbage({ objects: [rsOwned], observed: [Pod] }).actions).toEqual([]);
  });

  it('matches owner kinds by group and kind, whatever the version in the reference', () => {
    const deploy = make(Deployment, 'web').obj();
    const rs = make(ReplicaSet, 'web-1')
      .ownedBy({ apiVersion: 'apps/v1beta2', kind: 'Deployment', name: 'web', uid: 'uid-web' })
      .obj();
    expect(run(deploy, rs).actions).toEqual([]);
  });
});

describe('reconcileGarbage: foreground', () => {
  const deploy = make(Deployment, 'web').deleting('foregroundDeletion').obj();
  const rs = make(ReplicaSet, 'web-1').ownedBy(deploy, { blockOwnerDeletion: true }).obj();
  const pod = make(Pod, 'web-1-a').ownedBy(rs, { blockOwnerDeletion: true }).obj();

  it('deletes a dependent that has dependents in the foreground too, and keeps the owner finalizer', () => {
    expect(summary(run(deploy, rs, pod))).toEqual(['delete web-1 Foreground']);
  });

  it('deletes leaf dependents in the background', () => {
    const leaf = make(ReplicaSet, 'leaf').ownedBy(deploy, { blockOwnerDeletion: true }).obj();
    expect(summary(run(deploy, leaf))).toEqual(['delete leaf Background']);
  });

  it('waits while a blocking dependent still exists, even one being deleted', () => {
    const rsGoing = make(ReplicaSet, 'web-1')
      .ownedBy(deploy, { blockOwnerDeletion: true })
      .deleting('foregroundDeletion')
      .obj();
    // rsGoing waits for its pod; the pod goes in the background; deploy keeps its finalizer.
    expect(summary(run(deploy, rsGoing, pod))).toEqual(['delete web-1-a Background']);
    // Pod gone: the ReplicaSet finalizes, the Deployment still waits for it.
    expect(summary(run(deploy, rsGoing))).toEqual(['unfinalize web-1 foregroundDeletion -> []']);
  });

  it('removes the finalizer once no blocking dependent remains; non-blocking ones do not hold it', () => {
    expect(summary(run(deploy))).toEqual(['unfinalize web foregroundDeletion -> []']);
    const nonBlocking = make(ReplicaSet, 'loose').ownedBy(deploy).obj();
    expect(summary(run(deploy, nonBlocking))).toEqual([
      'delete loose Background',
      'unfinalize web foregroundDeletion -> []',
    ]);
  });

  it('keeps a dependent that has another live owner, removing the reference to the deleting owner', () => {
    const other = make(Deployment, 'other').obj();
    const shared = make(ReplicaSet, 'shared')
      .ownedBy(deploy, { blockOwnerDeletion: true })
      .ownedBy(other)
      .obj();
    expect(summary(run(deploy, other, shared))).toEqual(['patch shared [other]']);
  });

  it('keeps other finalizers when removing foregroundDeletion', () => {
    const d = make(Deployment, 'web').deleting('example.com/keep', 'foregroundDeletion').obj();
    expect(summary(run(d))).toEqual(['unfinalize web foregroundDeletion -> [example.com/keep]']);
  });

  it('breaks a foreground cycle: unblocks the references of a dependent whose own dependent is also deleting in the foreground', () => {
    // a <- b <- c, and b is also owned by c: c waits for b, b would wait for c.
    const a = make(Deployment, 'a').deleting('foregroundDeletion').obj();
    const c = make(ReplicaSet, 'c').deleting('foregroundDeletion').obj();
    const b = make(ReplicaSet, 'b')
      .ownedBy(a, { blockOwnerDeletion: true })
      .ownedBy(c, { blockOwnerDeletion: true })
      .obj();
    const cOwned = {
      ...c,
      ownerReferences: make(ReplicaSet, 'c').ownedBy(b, { blockOwnerDeletion: true }).obj().ownerReferences,
    };
    expect(summary(run(a, b, cOwned))).toEqual(['patch b [a,c]', 'delete b Foreground']);
    // Once b's references no longer block, c may finish, and then b, then a.
    const bUnblocked = {
      ...b,
      ownerReferences: b.ownerReferences.map((r) => ({ ...r, blockOwnerDeletion: false })),
    };
    expect(summary(run(a, bUnblocked, cOwned))).toContain('unfinalize a foregroundDeletion -> []');
    expect(summary(run(a, bUnblocked, cOwned))).toContain('unfinalize c foregroundDeletion -> []');
  });
});

describe('reconcileGarbage: orphan', () => {
  const deploy = make(Deployment, 'web').deleting('orphan').obj();
  const other = make(Deployment, 'other').obj();

  it('removes the owner reference from every dependent, then (next pass) the orphan finalizer', () => {
    const rs1 = make(ReplicaSet, 'web-1')
      .ownedBy(deploy, { controller: true, blockOwnerDeletion: true })
      .obj();
    const rs2 = make(ReplicaSet, 'web-2').ownedBy(deploy).ownedBy(other).obj();
    expect(summary(run(deploy, other, rs1, rs2))).toEqual(['patch web-1 []', 'patch web-2 [other]']);
    const rs1After = { ...rs1, ownerReferences: [] };
    const rs2After = { ...rs2, ownerReferences: rs2.ownerReferences.filter((r) => r.uid !== deploy.uid) };
    expect(summary(run(deploy, other, rs1After, rs2After))).toEqual(['unfinalize web orphan -> []']);
  });

  it('merges an orphaning and a dangling-owner removal into one patch per dependent', () => {
    const rs = make(ReplicaSet, 'web-1')
      .ownedBy(deploy)
      .ownedBy({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'gone', uid: 'uid-gone' })
      .obj();
    const r = run(deploy, rs);
    expect(summary(r)).toEqual(['patch web-1 []']);
    expect(r.actions[0]).toMatchObject({ absentOwners: [{ name: 'gone' }] });
  });

  it('orphans a dependent even when it is itself being deleted', () => {
    const rs = make(ReplicaSet, 'web-1').ownedBy(deploy).deleting('example.com/x').obj();
    expect(summary(run(deploy, rs))).toEqual(['patch web-1 []']);
  });
});

describe('toGcNode', () => {
  it('reads the metadata the GC needs and skips objects without uid', () => {
    const n = toGcNode(ReplicaSet, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'a',
        namespace: 'ns',
        uid: 'u',
        resourceVersion: '7',
        finalizers: ['f'],
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'd', uid: 'x' }],
      },
    });
    expect(n).toMatchObject({
      name: 'a',
      namespace: 'ns',
      uid: 'u',
      resourceVersion: '7',
      finalizers: ['f'],
      deletionTimestamp: undefined,
    });
    expect(
      toGcNode(Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }),
    ).toBeUndefined();
  });
});

// ---------------------------------------------------------------- properties over random object graphs

const kindsForGraph = [Deployment, ReplicaSet, Pod, Node];
const arbGraph = fc
  .array(
    fc.record({
      kind: fc.integer({ min: 0, max: kindsForGraph.length - 1 }),
      ns: fc.constantFrom('a', 'b'),
      refs: fc.array(fc.record({ target: fc.nat(20), block: fc.boolean(), nameMatches: fc.boolean() }), {
        maxLength: 3,
      }),
      deleting: fc.boolean(),
      finalizers: fc.subarray(['foregroundDeletion', 'orphan', 'example.com/x']),
    }),
    { maxLength: 14 },
  )
  .map((specs) => {
    const base = specs.map((s, i) => {
      const i2 = kindsForGraph[s.kind] as ResourceInfo;
      return make(i2, `o${i}`, i2.namespaced ? s.ns : undefined).obj();
    });
    return specs.map((s, i) => {
      const self = base[i] as GcNode;
      const ownerReferences: OwnerReference[] = s.refs.map((r) => {
        const target = base[r.target]; // indexes past the end are absent owners
        const t = target ?? make(ReplicaSet, `missing${r.target}`).obj();
        return {
          apiVersion: t.info.group === '' ? 'v1' : `${t.info.group}/v1`,
          kind: t.info.kind,
          name: r.nameMatches ? t.name : `${t.name}-old`,
          uid: t.uid,
          blockOwnerDeletion: r.block,
        };
      });
      const n: GcNode = {
        ...self,
        ownerReferences,
        deletionTimestamp: s.deleting ? '2024-01-01T00:00:00Z' : undefined,
        finalizers: s.finalizers,
      };
      return n;
    });
  });

/** A deliberately naive owner check used as the oracle: exists with same uid, kind, name and a valid scope. */
function liveOwner(objects: GcNode[], dep: GcNode, ref: OwnerReference): GcNode | undefined {
  return objects.find(
    (o) =>
      o.uid === ref.uid &&
      o.info.kind === ref.kind &&
      o.name === ref.name &&
      (o.namespace === undefined ? true : o.namespace === dep.namespace),
  );
}

describe('reconcileGarbage properties', () => {
  it('never deletes an object that has a live owner not deleting in the foreground, nor one already being deleted', () => {
    fc.assert(
      fc.property(arbGraph, (objects) => {
        const { actions } = run(...objects);
        for (const a of actions.filter(
          (x): x is Extract<GcAction, { type: 'delete' }> => x.type === 'delete',
        )) {
          const n = objects.find((o) => o.uid === a.target.uid) as GcNode;
          expect(n.deletionTimestamp).toBeUndefined();
          expect(n.ownerReferences.length).toBeGreaterThan(0);
          for (const ref of n.ownerReferences) {
            const owner = liveOwner(objects, n, ref);
            if (owner !== undefined)
              expect(
                owner.deletionTimestamp !== undefined && owner.finalizers.includes('foregroundDeletion'),
              ).toBe(true);
            else expect(a.absentOwners.some((l) => l.uid === ref.uid)).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('patches only remove references or clear blockOwnerDeletion; at most one patch and one delete per object', () => {
    fc.assert(
      fc.property(arbGraph, (objects) => {
        const { actions } = run(...objects);
        const seen = new Set<string>();
        for (const a of actions) {
          if (a.type === 'removeFinalizer') continue;
          const k = `${a.type}:${a.target.uid}`;
          expect(seen.has(k)).toBe(false);
          seen.add(k);
          if (a.type !== 'patchOwnerRefs') continue;
          const n = objects.find((o) => o.uid === a.target.uid) as GcNode;
          // The new list is a subsequence of the old one, equal but for blockOwnerDeletion.
          let i = 0;
          for (const ref of a.ownerReferences) {
            while (
              i < n.ownerReferences.length &&
              JSON.stringify({ ...n.ownerReferences[i], blockOwnerDeletion: ref.blockOwnerDeletion }) !==
                JSON.stringify(ref)
            )
              i++;
            expect(i).toBeLessThan(n.ownerReferences.length);
            expect(ref.blockOwnerDeletion === true ? n.ownerReferences[i]?.blockOwnerDeletion : true).toBe(
              true,
            );
            i++;
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('removes foregroundDeletion only when no blocking dependent remains, orphan only when no dependent remains', () => {
    fc.assert(
      fc.property(arbGraph, (objects) => {
        for (const a of run(...objects).actions) {
          if (a.type !== 'removeFinalizer') continue;
          const owner = objects.find((o) => o.uid === a.target.uid) as GcNode;
          expect(owner.deletionTimestamp).toBeDefined();
          for (const dep of objects) {
            for (const ref of dep.ownerReferences) {
              if (liveOwner(objects, dep, ref) !== owner) continue;
              if (a.finalizer === 'foregroundDeletion') expect(ref.blockOwnerDeletion).not.toBe(true);
              else
                expect.unreachable(
                  `orphan finalizer removed while ${dep.name} still references ${owner.name}`,
                );
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on the order of the snapshot', () => {
    fc.assert(
      fc.property(
        arbGraph.chain((objects) =>
          fc.tuple(
            fc.constant(objects),
            fc.shuffledSubarray(objects, { minLength: objects.length, maxLength: objects.length }),
          ),
        ),
        ([objects, shuffled]) => {
          expect(run(...shuffled)).toEqual(run(...objects));
        },
      ),
      { numRuns: 200 },
    );
  });
});
