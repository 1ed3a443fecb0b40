// policy/v1 Eviction: the body of POST pods/{name}/eviction (what `kubectl drain` sends).

import { arrayOf, boolean, int64, object, string } from './dsl.js';
import { kind } from './meta.js';

/** meta/v1 DeleteOptions as an Eviction carries it. */
export const deleteOptions = object({
  apiVersion: string(),
  kind: string(),
  gracePeriodSeconds: int64(),
  preconditions: object({ uid: string(), resourceVersion: string() }),
  orphanDependents: boolean(),
  propagationPolicy: string(),
  dryRun: arrayOf(string(), { listType: 'atomic' }),
});

export const eviction = kind({ deleteOptions });
