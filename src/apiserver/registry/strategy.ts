// Per-kind strategies: what create and update may change, defaults, validation, canonical form.
// The kind-specific knowledge (defaults, validation rules, schemas) lives in src/api; this file decides how
// the REST verbs apply it.
import type { StatusCause } from '../../api/errors.js';
import type { ResourceInfo } from '../../api/resources.js';
import { isObject, type KubeObject } from '../../api/types.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** Hooks supplied by src/api for one kind. */
export interface KindHooks {
  defaults(obj: KubeObject): void;
  validate(obj: KubeObject): StatusCause[];
  /** Everything validate checks plus the rules of change (immutable fields). */
  validateUpdate(newObj: KubeObject, oldObj: KubeObject): StatusCause[];
  /** Carry server-allocated values the client omitted (e.g. a Service's clusterIP) from the old object. */
  prepareUpdate(newObj: KubeObject, oldObj: KubeObject): void;
  /** Type and unknown-field check; returns the object with unknown fields pruned (Warn/Ignore). */
  checkSchema(
    obj: KubeObject,
    mode: FieldValidation,
  ): { causes: StatusCause[]; warnings: string[]; pruned: KubeObject };
}

export interface Strategy {
  info: ResourceInfo;
  hooks: KindHooks;
  /** Kinds whose spec changes bump metadata.generation. */
  tracksGeneration: boolean;
  hasStatus: boolean;
  /** Reset status on create (Deployment, Pod, ...); Node and others keep what the creator sent. */
  prepareForCreate(obj: KubeObject): void;
  /** Main-resource update: keep the stored status. */
  prepareForUpdate(newObj: KubeObject, oldObj: KubeObject): void;
  /** Status update: keep everything but status from the stored object. */
  prepareForStatusUpdate(newObj: KubeObject, oldObj: KubeObject): void;
}

const noHooks: KindHooks = {
  defaults: () => undefined,
  validate: () => [],
  validateUpdate: () => [],
  prepareUpdate: () => undefined,
  checkSchema: (obj) => ({ causes: [], warnings: [], pruned: obj }),
};

let hookSource: (info: ResourceInfo) => KindHooks = () => noHooks;

/** Installed once by the server with the src/api kind handlers. */
export function setHookSource(source: (info: ResourceInfo) => KindHooks): void {
  hookSource = source;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

export { deepEqual };

const generationKinds = new Set(['Deployment', 'ReplicaSet', 'HorizontalPodAutoscaler', 'Pod']);

function initialStatus(kind: string): unknown {
  switch (kind) {
    case 'Pod':
      return { phase: 'Pending' };
    case 'Namespace':
      return { phase: 'Active' };
    case 'Service':
      return { loadBalancer: {} };
    case 'Deployment':
    case 'ReplicaSet':
    case 'HorizontalPodAutoscaler':
      return {};
    default:
      return undefined;
  }
}

/** The "spec" of a kind for generation purposes: everything but metadata and status. */
function specOf(obj: KubeObject): unknown {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

export function strategyFor(info: ResourceInfo): Strategy {
  const hasStatus = info.subresources.some((s) => s.name === 'status');
  const tracksGeneration = generationKinds.has(info.kind);
  return {
    info,
    get hooks() {
      return hookSource(info);
    },
    tracksGeneration,
    hasStatus,
    prepareForCreate(obj) {
      if (hasStatus && info.kind !== 'Node') {
        const status = initialStatus(info.kind);
        if (status === undefined) delete obj.status;
        else obj.status = status;
      }
      if (tracksGeneration) obj.metadata.generation = 1;
      else delete obj.metadata.generation;
      if (info.kind === 'Namespace') {
        // The namespace controller removes this once the namespace is empty (see namespaces/finalize).
        const spec = isObject(obj.spec) ? obj.spec : {};
        obj.spec = { ...spec, finalizers: ['kubernetes'] };
      }
    },
    prepareForUpdate(newObj, oldObj) {
      if (hasStatus) {
        if (oldObj.status === undefined) delete newObj.status;
        else newObj.status = structuredClone(oldObj.status);
      }
      if (tracksGeneration) {
        const old = oldObj.metadata.generation ?? 1;
        newObj.metadata.generation = deepEqual(specOf(newObj), specOf(oldObj)) ? old : old + 1;
      } else {
        delete newObj.metadata.generation;
      }
    },
    prepareForStatusUpdate(newObj, oldObj) {
      const status = newObj.status;
      const keep = structuredClone(oldObj);
      for (const key of Object.keys(newObj)) delete newObj[key];
      Object.assign(newObj, keep);
      if (status === undefined) delete newObj.status;
      else newObj.status = status;
    },
  };
}
