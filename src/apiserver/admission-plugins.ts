// The admission the API server runs on writes (decisions in admission.ts): Priority and
// DefaultTolerationSeconds on pods, "one global default" on priority classes, and the built-in
// system-* priority classes created at start.
import { isApiError } from '../api/errors.js';
import { systemPriorityClasses, systemPriorityClassObject } from '../api/kinds/index.js';
import type { KubeObject } from '../api/types.js';
import { asObj, asStr } from '../api/validation/access.js';
import {
  addDefaultTolerations,
  admitPodPriority,
  checkSingleGlobalDefault,
  defaultTolerationSeconds,
  globalDefaultClass,
  keepPodPriority,
  priorityClassView,
  type PriorityClassView,
  type TolerationSecondsOptions,
} from './admission.js';
import type { PriorityClassCache } from './priority-class-cache.js';
import type { ResourceRegistry } from './registry/rest.js';

export interface AdmissionOptions {
  /** tolerationSeconds of the default node.kubernetes.io/not-ready:NoExecute toleration (default 10). */
  defaultNotReadyTolerationSeconds?: number | undefined;
  /** tolerationSeconds of the default node.kubernetes.io/unreachable:NoExecute toleration (default 10). */
  defaultUnreachableTolerationSeconds?: number | undefined;
}

function tolerationSeconds(opts: AdmissionOptions): TolerationSecondsOptions {
  const check = (v: number | undefined, flag: string): number => {
    if (v === undefined) return defaultTolerationSeconds;
    if (!Number.isInteger(v) || v < 0)
      throw new Error(`${flag} must be a whole number of seconds ≥ 0; got ${v}`);
    return v;
  };
  return {
    notReadySeconds: check(opts.defaultNotReadyTolerationSeconds, 'defaultNotReadyTolerationSeconds'),
    unreachableSeconds: check(
      opts.defaultUnreachableTolerationSeconds,
      'defaultUnreachableTolerationSeconds',
    ),
  };
}

async function listClasses(classes: ResourceRegistry): Promise<PriorityClassView[]> {
  const listed = await classes.list({ namespace: undefined });
  return listed.items.map((json) => priorityClassView(JSON.parse(json) as KubeObject));
}

/**
 * Install admission on the pods and priorityclasses registries. Pod creates read the classes from `cache`
 * (kept current by this server's own class writes and the store watch), falling back to the store when
 * the cache does not know a class or cannot be trusted. Throws on bad options.
 */
export function installAdmission(
  pods: ResourceRegistry,
  classes: ResourceRegistry,
  cache: PriorityClassCache,
  opts: AdmissionOptions = {},
): void {
  const seconds = tolerationSeconds(opts);
  classes.onCommit = (obj, deleted, revision) => cache.apply(obj, deleted, revision);
  const named = async (name: string): Promise<PriorityClassView | undefined> => {
    const cached = cache.get(name);
    if (cached !== undefined) return cached;
    const kv = await classes.getRaw(undefined, name);
    return kv === undefined ? undefined : priorityClassView(JSON.parse(kv.value) as KubeObject);
  };
  pods.admission = {
    async create(pod) {
      const className = asStr(asObj(pod.spec)?.['priorityClassName']) ?? '';
      if (className === '') {
        const all = cache.all() ?? (await listClasses(classes));
        admitPodPriority(pod, undefined, globalDefaultClass(all));
      } else {
        admitPodPriority(pod, await named(className), undefined);
      }
      addDefaultTolerations(pod, seconds);
    },
    update(pod, old) {
      keepPodPriority(pod, old);
      addDefaultTolerations(pod, seconds);
      return Promise.resolve();
    },
  };
  classes.admission = {
    async create(pc) {
      if (pc['globalDefault'] === true) checkSingleGlobalDefault(pc, await listClasses(classes));
    },
    async update(pc, old) {
      if (pc['globalDefault'] === true && old['globalDefault'] !== true)
        checkSingleGlobalDefault(pc, await listClasses(classes));
    },
  };
}

/** Create the built-in system-node-critical and system-cluster-critical classes when missing. */
export async function ensureSystemPriorityClasses(classes: ResourceRegistry): Promise<void> {
  for (const c of systemPriorityClasses) {
    if ((await classes.getRaw(undefined, c.name)) !== undefined) continue;
    try {
      await classes.create(undefined, systemPriorityClassObject(c), {
        dryRun: false,
        fieldValidation: 'Strict',
      });
    } catch (err) {
      // Another server of the cluster created it first.
      if (!(isApiError(err) && err.reason === 'AlreadyExists')) throw err;
    }
  }
}
