// imagePullSecrets → registry credentials for the image service.
import type { KubeObject } from '../../api/types.js';
import { isObject } from '../../api/types.js';
import { parseDockerConfigJson } from '../image/credentials.js';
import type { RegistryCredential } from '../image/types.js';
import type { ObjectLookup } from './container-spec.js';
import { list, podSpec, secretValues, str } from './env.js';

/**
 * Credentials from the pod's imagePullSecrets: Secrets of type kubernetes.io/dockerconfigjson (key
 * `.dockerconfigjson`) and kubernetes.io/dockercfg (key `.dockercfg`, the legacy form without `auths`).
 * A missing or unusable secret is skipped, with a warning (upstream's wording for missing ones).
 */
export async function pullCredentials(
  pod: KubeObject,
  lookup: ObjectLookup,
): Promise<{ credentials: RegistryCredential[]; warnings: string[] }> {
  const ns = pod.metadata.namespace ?? 'default';
  const credentials: RegistryCredential[] = [];
  const warnings: string[] = [];
  const missing: string[] = [];
  for (const ref of list(podSpec(pod)['imagePullSecrets']).filter(isObject)) {
    const name = str(ref['name']) ?? '';
    if (name === '') continue;
    const secret = await lookup.secret(ns, name);
    if (secret === undefined) {
      missing.push(`"${name}"`);
      continue;
    }
    const type = str(secret['type']) ?? '';
    const values = secretValues(secret);
    const key =
      type === 'kubernetes.io/dockerconfigjson'
        ? '.dockerconfigjson'
        : type === 'kubernetes.io/dockercfg'
          ? '.dockercfg'
          : undefined;
    if (key === undefined) {
      warnings.push(
        `image pull secret "${name}" has type "${type}", not kubernetes.io/dockerconfigjson; ignored`,
      );
      continue;
    }
    const raw = values.get(key);
    if (raw === undefined) {
      warnings.push(`image pull secret "${name}" has no ${key} key; ignored`);
      continue;
    }
    try {
      credentials.push(...parseDockerConfigJson(raw.toString('utf8')));
    } catch (err) {
      warnings.push(`image pull secret "${name}": ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (missing.length > 0)
    warnings.unshift(
      `Unable to retrieve some image pull secrets (${missing.join(', ')}); attempting to pull the image may not succeed.`,
    );
  return { credentials, warnings };
}
