// pods/binding and pods/eviction: what a Binding or an Eviction body asks for, and the change a binding
// makes to a pod. Pure: the caller reads and writes the store and passes the clock's `now`.
import { errors, type StatusCause } from '../api/errors.js';
import { checkAgainstSchema, strictDecodingError } from '../api/schema/check.js';
import { schemaFor } from '../api/schema/index.js';
import { isObject, type DeleteOptions, type KubeObject } from '../api/types.js';
import { field } from '../api/validation/field.js';
import type { FieldValidation } from './registry/strategy.js';

/** What a valid Binding asks for. */
export interface BindingRequest {
  nodeName: string;
  /** Preconditions on the pod, from the Binding's metadata.uid / metadata.resourceVersion. */
  uid: string | undefined;
  resourceVersion: string | undefined;
  /** Copied onto the pod, as upstream does. */
  annotations: Record<string, string>;
  warnings: string[];
}

/** The answer of a successful binding or eviction: a Status, as kube-apiserver sends. */
export function successStatus(code: number): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Kind and apiVersion (when given) must be one of `accepted`; unknown fields follow fieldValidation. */
function checkBody(
  body: unknown,
  kind: string,
  accepted: readonly string[],
  schemaVersion: string,
  mode: FieldValidation,
): { obj: Record<string, unknown>; warnings: string[] } {
  const a = /^[AEIOU]/.test(kind) ? 'an' : 'a';
  if (!isObject(body)) throw errors.badRequest(`the request body must be ${a} ${kind} object`);
  const apiVersion = body.apiVersion ?? '';
  const gotKind = body.kind ?? '';
  if (
    (gotKind !== '' && gotKind !== kind) ||
    (apiVersion !== '' && (typeof apiVersion !== 'string' || !accepted.includes(apiVersion)))
  ) {
    throw errors.badRequest(
      `the body must be ${a} ${kind} (apiVersion ${accepted.join(' or ')}); got apiVersion ${JSON.stringify(apiVersion)}, kind ${JSON.stringify(gotKind)}`,
    );
  }
  const schema = schemaFor(schemaVersion, kind);
  if (schema === undefined) return { obj: body, warnings: [] };
  const checked = checkAgainstSchema({ ...body, apiVersion: schemaVersion, kind }, schema, {
    unknownFields: mode,
  });
  const unknown = checked.causes.filter((c) => c.message.startsWith('unknown field '));
  if (unknown.length > 0) throw strictDecodingError(unknown);
  if (checked.causes.length > 0) throw errors.invalid(kind, schemaGroup(schemaVersion), '', checked.causes);
  return { obj: checked.pruned, warnings: checked.warnings };
}

function schemaGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** The body's metadata.name and .namespace, when set, must be those of the URL (400 otherwise). */
function checkNames(meta: Record<string, unknown>, kind: string, name: string, namespace: string): void {
  const n = str(meta.name);
  if (n !== undefined && n !== name) {
    throw errors.badRequest(
      `name in URL does not match name in ${kind} object: ${JSON.stringify(name)} != ${JSON.stringify(n)}`,
    );
  }
  const ns = str(meta.namespace);
  if (ns !== undefined && ns !== namespace) {
    throw errors.badRequest(
      `the namespace of the provided object (${JSON.stringify(ns)}) does not match the namespace sent on the request (${namespace})`,
    );
  }
}

/**
 * Checks a v1 Binding for pod `name` in `namespace`: 400 for a wrong kind, body shape or name, 422 naming
 * `target.name` / `target.kind` when the target is not a node.
 */
export function parseBinding(
  body: unknown,
  name: string,
  namespace: string,
  mode: FieldValidation,
): BindingRequest {
  const { obj, warnings } = checkBody(body, 'Binding', ['v1'], 'v1', mode);
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  checkNames(meta, 'Binding', name, namespace);
  const target = isObject(obj.target) ? obj.target : {};
  const causes: StatusCause[] = [];
  const nodeName = str(target.name);
  if (nodeName === undefined) causes.push(field.required('target.name'));
  const kind = target.kind;
  if (kind !== undefined && kind !== '' && kind !== 'Node')
    causes.push(field.notSupported('target.kind', kind, ['Node']));
  if (causes.length > 0 || nodeName === undefined) throw errors.invalid('Binding', '', name, causes);
  const annotations: Record<string, string> = {};
  if (isObject(meta.annotations)) {
    for (const [k, v] of Object.entries(meta.annotations)) if (typeof v === 'string') annotations[k] = v;
  }
  return {
    nodeName,
    uid: str(meta.uid),
    resourceVersion: str(meta.resourceVersion),
    annotations,
    warnings,
  };
}

/**
 * The pod bound to `req.nodeName`: spec.nodeName set, PodScheduled=True (lastTransitionTime `now` when it
 * changes), the Binding's annotations added. 409 when the pod is already bound, being deleted, gated, or
 * fails the Binding's uid / resourceVersion preconditions.
 */
export function assignPod(pod: KubeObject, req: BindingRequest, now: string): KubeObject {
  const name = pod.metadata.name ?? '';
  const conflict = (why: string) => errors.conflict('pods/binding', '', name, why);
  if (req.uid !== undefined && req.uid !== pod.metadata.uid) {
    throw conflict(
      `Precondition failed: UID in precondition: ${req.uid}, UID in object meta: ${pod.metadata.uid ?? ''}`,
    );
  }
  if (req.resourceVersion !== undefined && req.resourceVersion !== pod.metadata.resourceVersion) {
    throw conflict(
      `Precondition failed: ResourceVersion in precondition: ${req.resourceVersion}, ResourceVersion in object meta: ${pod.metadata.resourceVersion ?? ''}`,
    );
  }
  if (pod.metadata.deletionTimestamp !== undefined)
    throw conflict(`pod ${name} is being deleted, cannot be assigned to a host`);
  const spec = isObject(pod.spec) ? pod.spec : {};
  const bound = str(spec.nodeName);
  if (bound !== undefined) throw conflict(`pod ${name} is already assigned to node ${JSON.stringify(bound)}`);
  if (Array.isArray(spec.schedulingGates) && spec.schedulingGates.length > 0)
    throw conflict(`pod ${name} has non-empty .spec.schedulingGates`);
  const next = structuredClone(pod);
  next.spec = { ...spec, nodeName: req.nodeName };
  if (Object.keys(req.annotations).length > 0) {
    next.metadata.annotations = { ...(next.metadata.annotations ?? {}), ...req.annotations };
  }
  const status = isObject(next.status) ? next.status : {};
  const conditions = Array.isArray(status.conditions) ? status.conditions.filter(isObject) : [];
  const old = conditions.find((c) => c.type === 'PodScheduled');
  const scheduled: Record<string, unknown> = {
    type: 'PodScheduled',
    status: 'True',
    lastTransitionTime:
      old !== undefined && old.status === 'True' && typeof old.lastTransitionTime === 'string'
        ? old.lastTransitionTime
        : now,
  };
  next.status = {
    ...status,
    conditions:
      old === undefined
        ? [...conditions, scheduled]
        : conditions.map((c) => (c.type === 'PodScheduled' ? scheduled : c)),
  };
  return next;
}

/** What a valid Eviction asks for. */
export interface EvictionRequest {
  deleteOptions: DeleteOptions;
  dryRun: boolean;
  warnings: string[];
}

/**
 * Checks a policy/v1 (or v1beta1) Eviction for pod `name`: 400 for a wrong kind, body shape, name or
 * namespace, or bad deleteOptions.
 */
export function parseEviction(
  body: unknown,
  name: string,
  namespace: string,
  mode: FieldValidation,
): EvictionRequest {
  const { obj, warnings } = checkBody(body, 'Eviction', ['policy/v1', 'policy/v1beta1'], 'policy/v1', mode);
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  checkNames(meta, 'Eviction', name, namespace);
  const raw = isObject(obj.deleteOptions) ? obj.deleteOptions : {};
  const deleteOptions: DeleteOptions = {};
  const grace = raw.gracePeriodSeconds;
  if (grace !== undefined) {
    if (typeof grace !== 'number' || !Number.isInteger(grace)) {
      throw errors.badRequest(
        `deleteOptions.gracePeriodSeconds must be an integer; got ${JSON.stringify(grace)}`,
      );
    }
    deleteOptions.gracePeriodSeconds = Math.max(0, grace);
  }
  const policy = raw.propagationPolicy;
  if (policy !== undefined) {
    if (policy !== 'Background' && policy !== 'Foreground' && policy !== 'Orphan') {
      throw errors.badRequest(
        `deleteOptions.propagationPolicy must be Background, Foreground or Orphan; got ${JSON.stringify(policy)}`,
      );
    }
    deleteOptions.propagationPolicy = policy;
  }
  if (isObject(raw.preconditions)) {
    const pre: { uid?: string; resourceVersion?: string } = {};
    const uid = str(raw.preconditions.uid);
    const rv = str(raw.preconditions.resourceVersion);
    if (uid !== undefined) pre.uid = uid;
    if (rv !== undefined) pre.resourceVersion = rv;
    deleteOptions.preconditions = pre;
  }
  const dryRun = raw.dryRun;
  if (dryRun !== undefined && (!Array.isArray(dryRun) || dryRun.some((d) => d !== 'All'))) {
    throw errors.badRequest(`deleteOptions.dryRun must be a list of "All"; got ${JSON.stringify(dryRun)}`);
  }
  return { deleteOptions, dryRun: Array.isArray(dryRun) && dryRun.length > 0, warnings };
}

/** Terminal pods are gone already: an eviction deletes them without marking them. */
function isTerminal(pod: KubeObject): boolean {
  const phase = isObject(pod.status) ? pod.status.phase : undefined;
  return phase === 'Succeeded' || phase === 'Failed';
}

/**
 * Whether an eviction first marks the pod with DisruptionTarget=True (so its owner and `kubectl describe`
 * can tell an eviction from a crash): not for terminal pods or pods already being deleted.
 */
export function evictionMarks(pod: KubeObject): boolean {
  return pod.metadata.deletionTimestamp === undefined && !isTerminal(pod);
}

/**
 * 409 when the eviction's deleteOptions.preconditions (uid, resourceVersion) do not hold for `pod`.
 */
export function checkEvictionPreconditions(pod: KubeObject, opts: DeleteOptions): void {
  const pre = opts.preconditions;
  const name = pod.metadata.name ?? '';
  if (pre?.uid !== undefined && pre.uid !== pod.metadata.uid) {
    throw errors.conflict(
      'pods',
      '',
      name,
      `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${pod.metadata.uid ?? ''}`,
    );
  }
  if (pre?.resourceVersion !== undefined && pre.resourceVersion !== pod.metadata.resourceVersion) {
    throw errors.conflict(
      'pods',
      '',
      name,
      `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${pod.metadata.resourceVersion ?? ''}`,
    );
  }
}

/** The pod with condition DisruptionTarget=True, reason EvictionByEvictionAPI, as upstream sets it. */
export function markEvicted(pod: KubeObject, now: string): KubeObject {
  const next = structuredClone(pod);
  const status = isObject(next.status) ? next.status : {};
  const conditions = Array.isArray(status.conditions) ? status.conditions.filter(isObject) : [];
  const target = {
    type: 'DisruptionTarget',
    status: 'True',
    reason: 'EvictionByEvictionAPI',
    message: 'Eviction API: evicting',
    lastTransitionTime: now,
  };
  next.status = {
    ...status,
    conditions: [...conditions.filter((c) => c.type !== 'DisruptionTarget'), target],
  };
  return next;
}
