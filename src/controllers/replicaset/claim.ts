// Which objects a controller owns, adopts and releases (upstream ControllerRefManager.ClaimObject),
// shared by the ReplicaSet controller (pods) and the Deployment controller (ReplicaSets).

import type { KubeObject, OwnerReference } from '../../api/types.js';
import { controllerRefOf } from './pods.js';

export interface ClaimResult {
  /** Objects the controller keeps: already owned and matching. */
  owned: KubeObject[];
  /** Orphans that match: take them with a controller reference (after re-checking the owner live). */
  adopt: KubeObject[];
  /** Owned objects that no longer match: drop our reference. */
  release: KubeObject[];
}

/** The owner reference a controller puts on what it owns. */
export function controllerRef(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * Sort `candidates` (objects of the owner's namespace) into owned / adopt / release:
 * - controlled by someone else: ignored;
 * - controlled by `owner`: owned while `matches` holds, else released (unless the owner is being deleted);
 * - orphans: adopted when they match, are not being deleted, and the owner is not being deleted.
 */
export function claimObjects(
  owner: KubeObject,
  candidates: readonly KubeObject[],
  matches: (obj: KubeObject) => boolean,
): ClaimResult {
  const result: ClaimResult = { owned: [], adopt: [], release: [] };
  const ownerDeleting = owner.metadata.deletionTimestamp !== undefined;
  for (const obj of candidates) {
    if (obj.metadata.namespace !== owner.metadata.namespace) continue;
    const ref = controllerRefOf(obj);
    if (ref !== undefined) {
      if (ref.uid !== owner.metadata.uid) continue;
      if (matches(obj)) result.owned.push(obj);
      else if (!ownerDeleting) result.release.push(obj);
      continue;
    }
    if (ownerDeleting || !matches(obj) || obj.metadata.deletionTimestamp !== undefined) continue;
    result.adopt.push(obj);
  }
  return result;
}

/**
 * The merge patch that adopts `obj`: its owner references plus ours, with its resourceVersion as a
 * precondition so a concurrent change (another controller adopting it first) makes it a Conflict.
 */
export function adoptPatch(obj: KubeObject, owner: KubeObject): Record<string, unknown> {
  const refs = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid);
  return {
    metadata: {
      resourceVersion: obj.metadata.resourceVersion,
      ownerReferences: [...refs, controllerRef(owner)],
    },
  };
}

/** The merge patch that releases `obj` from `owner` (resourceVersion precondition as for adoption). */
export function releasePatch(obj: KubeObject, owner: KubeObject): Record<string, unknown> {
  const refs = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid);
  return {
    metadata: {
      resourceVersion: obj.metadata.resourceVersion,
      ownerReferences: refs.length === 0 ? null : refs,
    },
  };
}
