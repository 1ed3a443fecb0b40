// The `kubernetes` ServiceCIDR (networking.k8s.io/v1): the API server's --service-cluster-ip-range as an
// object node agents can read and watch. Clients may not write ServiceCIDRs (405); the server writes this
// one through its registry at every start, so watches see the change when the flag changed.
import { isApiError } from '../../api/errors.js';
import { kubernetesServiceCIDRName, kubernetesServiceCIDRObject } from '../../api/kinds/index.js';
import type { KubeObject } from '../../api/types.js';
import { asArr, asObj } from '../../api/validation/access.js';
import { now, type ResourceRegistry, type WriteOptions } from '../registry/rest.js';

export type ServiceCIDRChange = 'created' | 'replaced' | 'unchanged';

const writeOpts: WriteOptions = { dryRun: false, fieldValidation: 'Strict' };

/** The Ready=True condition's lastTransitionTime, when the object has one. */
function readySince(obj: KubeObject): string | undefined {
  for (const c of asArr(asObj(obj.status)?.['conditions'])) {
    const cond = asObj(c);
    if (
      cond?.['type'] === 'Ready' &&
      cond['status'] === 'True' &&
      typeof cond['lastTransitionTime'] === 'string'
    )
      return cond['lastTransitionTime'];
  }
  return undefined;
}

function sameCIDRs(obj: KubeObject, cidrs: readonly string[]): boolean {
  const have = asArr(asObj(obj.spec)?.['cidrs']);
  return have.length === cidrs.length && have.every((c, i) => c === cidrs[i]);
}

async function current(registry: ResourceRegistry): Promise<KubeObject | undefined> {
  try {
    return await registry.get(undefined, kubernetesServiceCIDRName);
  } catch (err) {
    if (isApiError(err) && err.reason === 'NotFound') return undefined;
    throw err;
  }
}

/**
 * Make the `kubernetes` ServiceCIDR hold `cidrs` (the parsed --service-cluster-ip-range): create it when
 * missing; replace it when it holds other ranges (the flag changed since the last start) or is not Ready.
 * A Ready condition that was already true keeps its lastTransitionTime. Another API server writing it at
 * the same time makes this read again and retry.
 */
export async function ensureKubernetesServiceCIDR(
  registry: ResourceRegistry,
  cidrs: readonly string[],
  log: (line: string) => void = () => undefined,
): Promise<ServiceCIDRChange> {
  for (let attempt = 0; ; attempt++) {
    const found = await current(registry);
    try {
      if (found === undefined) {
        await registry.create(undefined, kubernetesServiceCIDRObject(cidrs, now()), writeOpts);
        return 'created';
      }
      const since = readySince(found);
      if (since !== undefined && sameCIDRs(found, cidrs)) return 'unchanged';
      const next = kubernetesServiceCIDRObject(cidrs, since ?? now());
      next.metadata.resourceVersion = found.metadata.resourceVersion ?? '';
      await registry.update(undefined, kubernetesServiceCIDRName, next, writeOpts);
      const was = asArr(asObj(found.spec)?.['cidrs']).join(',');
      log(`services: ServiceCIDR ${kubernetesServiceCIDRName} now holds ${cidrs.join(',')} (was ${was})`);
      return 'replaced';
    } catch (err) {
      const raced = isApiError(err) && (err.reason === 'AlreadyExists' || err.reason === 'Conflict');
      if (!raced || attempt >= 5) throw err;
    }
  }
}
