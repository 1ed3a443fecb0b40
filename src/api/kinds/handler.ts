// The per-kind contract the apiserver calls on every write, and the helper that builds one.

import type { StatusCause } from '../errors.js';
import { findByKind } from '../resources.js';
import { validateEnums } from '../schema/check.js';
import { schemaFor } from '../schema/index.js';
import type { KubeObject } from '../types.js';
import {
  validateObjectMeta,
  validateObjectMetaUpdate,
  nameIsDNSSubdomain,
  type NameValidator,
} from '../validation/metadata.js';

export interface KindHandler {
  /** Fills in defaults in place, as Kubernetes does when decoding. Idempotent. Call before validate on every write. */
  defaults(obj: KubeObject): void;
  /** Every problem with a (defaulted) object: metadata, enums, kind rules. Empty when valid. */
  validate(obj: KubeObject): StatusCause[];
  /** Every problem with an update: validate(newObj) plus immutable-field rules against oldObj. */
  validateUpdate(newObj: KubeObject, oldObj: KubeObject): StatusCause[];
  /**
   * Carries server-allocated values the client omitted (Service clusterIP, nodePorts) from the old
   * object into the new one before validateUpdate. In place.
   */
  prepareUpdate?(newObj: KubeObject, oldObj: KubeObject): void;
}

export interface KindSpec {
  apiVersion: string;
  kind: string;
  /** Defaults to the resource table's scope. */
  namespaced?: boolean;
  /** Name rule; DNS-1123 subdomain unless said otherwise. */
  validateName?: NameValidator;
  defaults?: (obj: KubeObject) => void;
  validate?: (obj: KubeObject) => StatusCause[];
  validateUpdate?: (newObj: KubeObject, oldObj: KubeObject) => StatusCause[];
  prepareUpdate?: (newObj: KubeObject, oldObj: KubeObject) => void;
}

export function defineKind(spec: KindSpec): KindHandler {
  const schema = schemaFor(spec.apiVersion, spec.kind);
  const namespaced = spec.namespaced ?? findByKind(spec.apiVersion, spec.kind)?.namespaced ?? true;
  const validateName = spec.validateName ?? nameIsDNSSubdomain;
  const validate = (obj: KubeObject): StatusCause[] => [
    ...validateObjectMeta(obj.metadata, { namespaced, validateName }),
    ...(schema === undefined ? [] : validateEnums(obj, schema)),
    ...(spec.validate?.(obj) ?? []),
  ];
  const handler: KindHandler = {
    defaults: spec.defaults ?? (() => undefined),
    validate,
    validateUpdate: (newObj, oldObj) => [
      ...validateObjectMetaUpdate(newObj.metadata, oldObj.metadata),
      ...validate(newObj),
      ...(spec.validateUpdate?.(newObj, oldObj) ?? []),
    ],
  };
  if (spec.prepareUpdate !== undefined) handler.prepareUpdate = spec.prepareUpdate;
  return handler;
}
