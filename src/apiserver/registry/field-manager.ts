// Managed fields for one kind: which manager owns which field after each write (operation Update for
// create, update, patch, status and scale; Apply for server-side apply). The algorithms live in
// src/api/managed-fields; this file decides what each verb feeds them.
import { errors, type StatusCause } from '../../api/errors.js';
import {
  applyConfiguration,
  decodeManagedFields,
  encodeManagedFields,
  isResetRequest,
  managerName,
  recordUpdate,
  stampApplier,
  untrackedFields,
  validateManagedFields,
  type ApplyResult,
  type FieldSet,
  type ManagerEntry,
} from '../../api/managed-fields/index.js';
import { apiVersionOf, type ResourceInfo } from '../../api/resources.js';
import { schemaFor, type ObjectSchema } from '../../api/schema/index.js';
import { isObject, type KubeObject } from '../../api/types.js';
import { deepEqual } from './strategy.js';

/** The subresource a write went through; managers are told apart by it, as upstream does. */
export type WriteSubresource = 'status' | 'scale' | 'finalize';

export interface ManagerOptions {
  fieldManager?: string | undefined;
  userAgent?: string | undefined;
}

function withoutManagedFields(obj: KubeObject): KubeObject {
  if (obj.metadata.managedFields === undefined) return obj;
  const { managedFields: _mf, ...meta } = obj.metadata;
  return { ...obj, metadata: meta };
}

function setManagedFields(obj: KubeObject, entries: readonly ManagerEntry[]): void {
  const encoded = encodeManagedFields(entries);
  if (encoded === undefined) delete obj.metadata.managedFields;
  else obj.metadata.managedFields = encoded;
}

export class FieldManager {
  private readonly schema: ObjectSchema | undefined;
  private readonly apiVersion: string;
  private readonly statusIsSubresource: boolean;
  private readonly ignoreCache = new Map<string, FieldSet>();

  constructor(info: ResourceInfo) {
    this.apiVersion = apiVersionOf(info);
    this.schema = schemaFor(this.apiVersion, info.kind);
    this.statusIsSubresource = info.subresources.some((s) => s.name === 'status');
  }

  private ignore(subresource: WriteSubresource | undefined): FieldSet {
    const key = subresource ?? '';
    let set = this.ignoreCache.get(key);
    if (set === undefined) {
      set = untrackedFields({ statusIsSubresource: this.statusIsSubresource, subresource });
      this.ignoreCache.set(key, set);
    }
    return set;
  }

  /** 422 causes for managedFields a create or update carries. */
  validate(requested: unknown): StatusCause[] {
    return validateManagedFields(requested);
  }

  /**
   * Records an ordinary write on `obj` (the object about to be stored). `requested` is the
   * managedFields the request itself carried (main resource only): `[{}]` clears them, readable ones
   * replace the live ones, anything else keeps the live ones, as kube-apiserver does.
   */
  recordWrite(
    current: KubeObject | undefined,
    obj: KubeObject,
    requested: unknown,
    opts: ManagerOptions,
    subresource: WriteSubresource | undefined,
    now: string,
  ): void {
    const live = current === undefined ? [] : (decodeManagedFields(current.metadata.managedFields) ?? []);
    let base = live;
    let explicit = false;
    if (subresource === undefined && requested !== undefined) {
      if (isResetRequest(requested)) {
        base = [];
        explicit = true;
      } else {
        const decoded = decodeManagedFields(requested);
        if (decoded !== undefined && decoded.length > 0) {
          base = decoded;
          explicit = true;
        }
      }
    }
    const result = recordUpdate({
      entries: base,
      before: current === undefined ? undefined : withoutManagedFields(current),
      after: withoutManagedFields(obj),
      schema: this.schema,
      ignore: this.ignore(subresource),
      manager: managerName(opts.fieldManager, opts.userAgent),
      subresource,
      apiVersion: this.apiVersion,
      now,
    });
    if (!result.changed && !explicit && current !== undefined) {
      // Nothing tracked changed: keep the stored entries exactly as they are.
      if (current.metadata.managedFields === undefined) delete obj.metadata.managedFields;
      else obj.metadata.managedFields = structuredClone(current.metadata.managedFields);
      return;
    }
    setManagedFields(obj, result.entries);
  }

  /**
   * Checks an applied configuration (an object of this kind, named `name`, without managedFields) and
   * returns the part that applies through `subresource`, plus the resourceVersion it carried (a
   * precondition).
   */
  applyConfig(
    body: unknown,
    name: string,
    kind: string,
    subresource: 'status' | undefined,
  ): { config: Record<string, unknown>; precondition: string | undefined } {
    if (!isObject(body)) throw errors.badRequest('the apply patch must be a YAML or JSON object');
    if (body.apiVersion !== this.apiVersion) {
      throw errors.badRequest(
        `Incorrect version specified in apply patch. Specified patch version: ${typeof body.apiVersion === 'string' ? body.apiVersion : ''}, expected: ${this.apiVersion}`,
      );
    }
    if (body.kind !== kind) {
      throw errors.badRequest(
        `Incorrect kind specified in apply patch. Specified patch kind: ${typeof body.kind === 'string' ? body.kind : ''}, expected: ${kind}`,
      );
    }
    const meta = body.metadata === undefined || body.metadata === null ? {} : body.metadata;
    if (!isObject(meta)) throw errors.badRequest('metadata must be an object in an apply patch');
    const mf = meta.managedFields;
    if (mf !== undefined && mf !== null && !(Array.isArray(mf) && mf.length === 0)) {
      throw errors.badRequest('metadata.managedFields must be nil');
    }
    if (meta.name === undefined || meta.name === null || meta.name === '') meta.name = name;
    else if (meta.name !== name) {
      throw errors.badRequest(
        `the name of the object (${typeof meta.name === 'string' ? meta.name : JSON.stringify(meta.name)}) does not match the name on the URL (${name})`,
      );
    }
    const rv = meta.resourceVersion;
    if (rv !== undefined && rv !== null && typeof rv !== 'string') {
      throw errors.badRequest('metadata.resourceVersion must be a string');
    }
    const { managedFields: _mf, resourceVersion: _rv, ...rest } = meta;
    const config: Record<string, unknown> =
      subresource === 'status'
        ? {
            apiVersion: body.apiVersion,
            kind: body.kind,
            // Through /status only the status applies (metadata keeps just the identity).
            metadata: Object.fromEntries(
              Object.entries(rest).filter(([k]) => k === 'name' || k === 'namespace'),
            ),
            ...(body.status === undefined ? {} : { status: body.status }),
          }
        : { ...body, metadata: rest };
    return { config, precondition: typeof rv === 'string' && rv !== '' ? rv : undefined };
  }

  /** Server-side apply of a checked configuration onto `current` (undefined: the apply creates it). */
  apply(
    current: KubeObject | undefined,
    config: Record<string, unknown>,
    manager: string,
    force: boolean,
    subresource: 'status' | undefined,
  ): ApplyResult {
    return applyConfiguration({
      live: current,
      config,
      schema: this.schema,
      ignore: this.ignore(subresource),
      manager,
      force,
      subresource,
      apiVersion: this.apiVersion,
    });
  }

  /** Stores an apply's managers on `obj`; the applier's time moves when anything it did changed. */
  finishApply(
    current: KubeObject | undefined,
    obj: KubeObject,
    result: ApplyResult,
    manager: string,
    subresource: 'status' | undefined,
    now: string,
  ): void {
    const changed =
      result.applierChanged ||
      current === undefined ||
      !deepEqual(withoutManagedFields(obj), withoutManagedFields(current));
    const entries = changed
      ? stampApplier(result.entries, { manager, operation: 'Apply', subresource }, now)
      : result.entries;
    setManagedFields(obj, entries);
  }
}
