// Garbage collection by ownerReferences, as a pure function of a snapshot (Kubernetes' garbage
// collector, pkg/controller/garbagecollector, made level-triggered).
//
// For every object in the snapshot:
// - Not being deleted, with ownerReferences: each reference is classified
//     solid     the owner exists (same uid, kind and name, in the dependent's namespace or cluster-scoped)
//               and is not being deleted in the foreground;
//     waiting   the owner exists, has a deletionTimestamp and the `foregroundDeletion` finalizer;
//     dangling  no such owner (absent, or an object with that uid in another namespace: invalid);
//     unresolvable  the owner's kind is not in the snapshot, or a cluster-scoped dependent names a
//               namespaced kind. Such an object is left alone (never collected on a guess).
//   then: with a solid owner, dangling and waiting references are removed (`patchOwnerRefs`); without
//   one, if an owner is waiting and the object has dependents of its own it is deleted in the foreground
//   (after unblocking its references if one of its dependents is also deleting in the foreground, to
//   break cycles); otherwise it is deleted with the policy its own finalizers ask for (orphan,
//   foreground) or in the background.
// - Being deleted with `foregroundDeletion`: its dependents are deleted through the rule above (they see
//   it as `waiting`); when no dependent with `blockOwnerDeletion: true` remains, the finalizer goes.
// - Being deleted with `orphan`: its reference is removed from every dependent; when none remains, the
//   finalizer goes.
// Finalizers are removed only once the snapshot shows the work done, so a failed write just means one
// more pass. Deletes and patches that rest on an owner being absent carry `absentOwners`, for the caller
// to confirm against the API server before acting (informer caches of different kinds can lag each
// other: a dependent may be seen before its brand-new owner).

import { splitApiVersion, type ResourceInfo } from '../../api/resources.js';
import type { DeletionPropagation, KubeObject, OwnerReference } from '../../api/types.js';

export const foregroundFinalizer = 'foregroundDeletion';
export const orphanFinalizer = 'orphan';
export type GcFinalizer = typeof foregroundFinalizer | typeof orphanFinalizer;

/** One object as the garbage collector sees it. */
export interface GcNode {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string;
  uid: string;
  resourceVersion: string | undefined;
  ownerReferences: readonly OwnerReference[];
  deletionTimestamp: string | undefined;
  finalizers: readonly string[];
}

/** The object an action applies to. Deletes carry `uid` as a precondition; patches `resourceVersion`. */
export interface GcTarget {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string;
  uid: string;
  resourceVersion: string | undefined;
}

/** Where an owner believed absent would be: confirm with a GET that finds nothing or another uid. */
export interface OwnerLocation {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string;
  uid: string;
}

export type GcAction =
  | {
      type: 'delete';
      target: GcTarget;
      propagationPolicy: DeletionPropagation;
      /** Owners the decision assumes absent. */
      absentOwners: OwnerLocation[];
      /** Why, for logs and events. */
      message: string;
    }
  | {
      type: 'patchOwnerRefs';
      target: GcTarget;
      /** The complete new list (empty: remove the field). */
      ownerReferences: OwnerReference[];
      absentOwners: OwnerLocation[];
      message: string;
    }
  | {
      type: 'removeFinalizer';
      target: GcTarget;
      finalizer: GcFinalizer;
      /** The complete new `metadata.finalizers`. */
      finalizers: string[];
      message: string;
    };

export interface GcWarning {
  target: GcTarget;
  reason: 'OwnerRefInvalidNamespace' | 'OwnerRefUnresolvable';
  message: string;
}

export interface GcSnapshot {
  objects: readonly GcNode[];
  /** The kinds the snapshot holds every object of. References to other kinds are unresolvable. */
  observed: readonly ResourceInfo[];
}

export interface GcResult {
  actions: GcAction[];
  warnings: GcWarning[];
}

/** The GC's view of an object; undefined for objects without name or uid (never stored by the API server). */
export function toGcNode(info: ResourceInfo, obj: KubeObject): GcNode | undefined {
  const m = obj.metadata;
  if (m.name === undefined || m.name === '' || m.uid === undefined || m.uid === '') return undefined;
  return {
    info,
    namespace: info.namespaced ? m.namespace : undefined,
    name: m.name,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    ownerReferences: m.ownerReferences ?? [],
    deletionTimestamp: m.deletionTimestamp,
    finalizers: m.finalizers ?? [],
  };
}

type Resolution =
  | { state: 'present'; owner: GcNode }
  | { state: 'absent'; location: OwnerLocation; wrongNamespace: GcNode | undefined }
  | { state: 'unresolvable'; why: string };

interface Dependent {
  node: GcNode;
  ref: OwnerReference;
}

function groupKind(group: string, kind: string): string {
  return `${group}/${kind}`;
}

function targetOf(n: GcNode): GcTarget {
  return {
    info: n.info,
    namespace: n.namespace,
    name: n.name,
    uid: n.uid,
    resourceVersion: n.resourceVersion,
  };
}

function describe(n: { info: ResourceInfo; namespace: string | undefined; name: string }): string {
  return `${n.info.kind} ${n.namespace === undefined ? '' : `${n.namespace}/`}${n.name}`;
}

function describeRef(ref: OwnerReference): string {
  return `${ref.kind} ${ref.name} (uid ${ref.uid})`;
}

function isDeletingDependents(n: GcNode): boolean {
  return n.deletionTimestamp !== undefined && n.finalizers.includes(foregroundFinalizer);
}

function sortKey(n: GcNode): string {
  return `${n.info.group}\u0000${n.info.resource}\u0000${n.namespace ?? ''}\u0000${n.name}\u0000${n.uid}`;
}

/** Decide what the garbage collector does now. Pure: same snapshot, same actions, in a stable order. */
export function reconcileGarbage(snapshot: GcSnapshot): GcResult {
  const kinds = new Map<string, ResourceInfo>();
  for (const info of snapshot.observed) kinds.set(groupKind(info.group, info.kind), info);

  const byUid = new Map<string, GcNode[]>();
  for (const n of snapshot.objects) {
    const list = byUid.get(n.uid);
    if (list === undefined) byUid.set(n.uid, [n]);
    else list.push(n);
  }

  const resolve = (dep: GcNode, ref: OwnerReference): Resolution => {
    const info = kinds.get(groupKind(splitApiVersion(ref.apiVersion).group, ref.kind));
    if (info === undefined)
      return { state: 'unresolvable', why: `the kind ${ref.apiVersion} ${ref.kind} is not known` };
    if (info.namespaced && dep.namespace === undefined) {
      return {
        state: 'unresolvable',
        why: `a cluster-scoped object cannot be owned by the namespaced kind ${ref.kind}`,
      };
    }
    const namespace = info.namespaced ? dep.namespace : undefined;
    const candidates = byUid.get(ref.uid) ?? [];
    const owner = candidates.find(
      (c) =>
        c.info.group === info.group &&
        c.info.kind === info.kind &&
        c.namespace === namespace &&
        c.name === ref.name,
    );
    if (owner !== undefined) return { state: 'present', owner };
    const wrongNamespace = info.namespaced
      ? candidates.find(
          (c) => c.info.group === info.group && c.info.kind === info.kind && c.namespace !== namespace,
        )
      : undefined;
    return { state: 'absent', location: { info, namespace, name: ref.name, uid: ref.uid }, wrongNamespace };
  };

  // Resolve every reference once; index dependents by owner uid.
  const resolutions = new Map<GcNode, { ref: OwnerReference; res: Resolution }[]>();
  const dependents = new Map<GcNode, Dependent[]>();
  for (const n of snapshot.objects) {
    if (n.ownerReferences.length === 0) continue;
    const list = n.ownerReferences.map((ref) => ({ ref, res: resolve(n, ref) }));
    resolutions.set(n, list);
    for (const { ref, res } of list) {
      if (res.state !== 'present') continue;
      const deps = dependents.get(res.owner);
      if (deps === undefined) dependents.set(res.owner, [{ node: n, ref }]);
      else deps.push({ node: n, ref });
    }
  }
  const dependentsOf = (owner: GcNode): Dependent[] => dependents.get(owner) ?? [];

  const sorted = [...snapshot.objects].sort((a, b) =>
    sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0,
  );

  // Reference edits per object, merged so each object gets at most one patch a pass.
  const removals = new Map<GcNode, { uids: Set<string>; absent: OwnerLocation[]; why: string[] }>();
  const unblock = new Set<GcNode>();
  const deletes = new Map<
    GcNode,
    { policy: DeletionPropagation; absent: OwnerLocation[]; message: string }
  >();
  const finalizerActions: GcAction[] = [];
  const warnings: GcWarning[] = [];

  const removeRefs = (n: GcNode, uids: string[], absent: OwnerLocation[], why: string): void => {
    const entry = removals.get(n) ?? { uids: new Set<string>(), absent: [], why: [] };
    for (const u of uids) entry.uids.add(u);
    entry.absent.push(...absent);
    entry.why.push(why);
    removals.set(n, entry);
  };

  for (const n of sorted) {
    if (n.deletionTimestamp !== undefined) {
      // Being deleted: a one-way trip. Only its own finalizers are our business.
      if (n.finalizers.includes(orphanFinalizer)) {
        const deps = uniqueNodes(dependentsOf(n));
        for (const dep of deps)
          removeRefs(dep, [n.uid], [], `its owner ${describe(n)} is deleted with orphan propagation`);
        if (deps.length === 0) {
          finalizerActions.push(
            removeFinalizer(n, orphanFinalizer, `all dependents of ${describe(n)} are orphaned`),
          );
          continue;
        }
      }
      if (n.finalizers.includes(foregroundFinalizer)) {
        const blocking = dependentsOf(n).filter((d) => d.ref.blockOwnerDeletion === true);
        if (blocking.length === 0) {
          finalizerActions.push(
            removeFinalizer(
              n,
              foregroundFinalizer,
              `no dependent of ${describe(n)} blocks its deletion any more`,
            ),
          );
        }
      }
      continue;
    }

    const refs = resolutions.get(n);
    if (refs === undefined) continue;
    const solid: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    const dangling: { ref: OwnerReference; location: OwnerLocation }[] = [];
    let unresolvable: string | undefined;
    for (const { ref, res } of refs) {
      switch (res.state) {
        case 'present':
          if (isDeletingDependents(res.owner)) waiting.push(ref);
          else solid.push(ref);
          break;
        case 'absent':
          dangling.push({ ref, location: res.location });
          if (res.wrongNamespace !== undefined) {
            warnings.push({
              target: targetOf(n),
              reason: 'OwnerRefInvalidNamespace',
              message: `ownerRef [${ref.apiVersion}/${ref.kind}, namespace: ${n.namespace ?? ''}, name: ${ref.name}, uid: ${ref.uid}] does not exist in namespace "${n.namespace ?? ''}"`,
            });
          }
          break;
        case 'unresolvable':
          unresolvable ??= `ownerRef ${describeRef(ref)} cannot be resolved: ${res.why}`;
          break;
        default: {
          const never: never = res;
          return never;
        }
      }
    }
    if (unresolvable !== undefined) {
      // Never collect on a guess: leave the object as it is (orphan edits above still apply).
      warnings.push({ target: targetOf(n), reason: 'OwnerRefUnresolvable', message: unresolvable });
      continue;
    }
    const absent = dangling.map((d) => d.location);
    if (solid.length > 0) {
      if (dangling.length + waiting.length > 0) {
        removeRefs(
          n,
          [...dangling.map((d) => d.ref.uid), ...waiting.map((r) => r.uid)],
          absent,
          `it still has the owner ${describeRef(solid[0] as OwnerReference)}; references to absent or foreground-deleting owners are removed`,
        );
      }
      continue;
    }
    if (waiting.length > 0 && dependentsOf(n).length > 0) {
      if (
        dependentsOf(n).some((d) => isDeletingDependents(d.node)) &&
        n.ownerReferences.some((r) => r.blockOwnerDeletion === true)
      ) {
        unblock.add(n);
      }
      deletes.set(n, {
        policy: 'Foreground',
        absent,
        message: `its owner ${describeRef(waiting[0] as OwnerReference)} is deleted in the foreground and it has dependents`,
      });
      continue;
    }
    const policy: DeletionPropagation = n.finalizers.includes(orphanFinalizer)
      ? 'Orphan'
      : n.finalizers.includes(foregroundFinalizer)
        ? 'Foreground'
        : 'Background';
    deletes.set(n, {
      policy,
      absent,
      message:
        waiting.length > 0
          ? `its owner ${describeRef(waiting[0] as OwnerReference)} is deleted in the foreground`
          : `all its owners are gone: ${dangling.map((d) => describeRef(d.ref)).join(', ')}`,
    });
  }

  const actions: GcAction[] = [];
  for (const n of sorted) {
    const edit = removals.get(n);
    if (edit !== undefined || unblock.has(n)) {
      const next = n.ownerReferences
        .filter((r) => edit === undefined || !edit.uids.has(r.uid))
        .map((r) =>
          unblock.has(n) && r.blockOwnerDeletion === true ? { ...r, blockOwnerDeletion: false } : r,
        );
      actions.push({
        type: 'patchOwnerRefs',
        target: targetOf(n),
        ownerReferences: next,
        absentOwners: edit?.absent ?? [],
        message:
          edit === undefined
            ? `a dependent of ${describe(n)} is also deleted in the foreground: its references stop blocking to avoid a cycle`
            : `${describe(n)}: ${edit.why.join('; ')}`,
      });
    }
    const del = deletes.get(n);
    if (del !== undefined) {
      actions.push({
        type: 'delete',
        target: targetOf(n),
        propagationPolicy: del.policy,
        absentOwners: del.absent,
        message: `${describe(n)}: ${del.message}`,
      });
    }
  }
  actions.push(...finalizerActions);
  return { actions, warnings };
}

function uniqueNodes(deps: Dependent[]): GcNode[] {
  return [...new Set(deps.map((d) => d.node))];
}

function removeFinalizer(n: GcNode, finalizer: GcFinalizer, message: string): GcAction {
  return {
    type: 'removeFinalizer',
    target: targetOf(n),
    finalizer,
    finalizers: n.finalizers.filter((f) => f !== finalizer),
    message,
  };
}
