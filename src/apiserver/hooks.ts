// Wire the kind knowledge of src/api (defaults, validation, schemas) into the server's strategies.
import { ApiError } from '../api/errors.js';
import { kindHandlerFor } from '../api/kinds/index.js';
import { apiVersionOf, type ResourceInfo } from '../api/resources.js';
import { checkAgainstSchema, strictDecodingError } from '../api/schema/check.js';
import { schemaFor } from '../api/schema/index.js';
import type { KubeObject } from '../api/types.js';
import { setHookSource, type KindHooks } from './registry/strategy.js';

let installed = false;

function hooksFor(info: ResourceInfo): KindHooks {
  const apiVersion = apiVersionOf(info);
  const handler = kindHandlerFor(apiVersion, info.kind);
  const schema = schemaFor(apiVersion, info.kind);
  return {
    defaults: (obj) => handler?.defaults(obj),
    validate: (obj) => handler?.validate(obj) ?? [],
    validateUpdate: (newObj, oldObj) => handler?.validateUpdate(newObj, oldObj) ?? [],
    prepareUpdate: (newObj, oldObj) => handler?.prepareUpdate?.(newObj, oldObj),
    checkSchema: (obj, mode) => {
      if (schema === undefined) return { causes: [], warnings: [], pruned: obj };
      const result = checkAgainstSchema(obj, schema, { unknownFields: mode });
      const unknown = result.causes.filter((c) => c.message.startsWith('unknown field '));
      // Like kube-apiserver: unknown fields under Strict are a 400 "strict decoding error".
      if (unknown.length > 0) {
        const err = strictDecodingError(unknown);
        throw new ApiError(
          'BadRequest',
          `${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: ${err.message}`,
          err.details,
        );
      }
      return { causes: result.causes, warnings: result.warnings, pruned: result.pruned as KubeObject };
    },
  };
}

export function installKindHooks(): void {
  if (installed) return;
  installed = true;
  const cache = new Map<string, KindHooks>();
  setHookSource((info) => {
    const key = `${info.group}/${info.version}/${info.kind}`;
    let hooks = cache.get(key);
    if (hooks === undefined) {
      hooks = hooksFor(info);
      cache.set(key, hooks);
    }
    return hooks;
  });
}
