// The SpecBuilder seam: how the worker turns a Pod into files on disk and ContainerCreateSpecs. The real
// one is container-spec.ts + pull-secrets.ts; unit tests inject fakes that touch no disk.

import type { KubeObject } from '../../api/types.js';
import type { ApiClient } from '../../api/client/client.js';
import { isApiError } from '../../api/errors.js';
import type { ImageInfo, RegistryCredential } from '../image/types.js';
import type { ContainerCreateSpec } from '../runtime/types.js';
import {
  buildContainerSpec,
  cleanupPodDir,
  containerSpecHash,
  newContainerId,
  preparePod,
  type ObjectLookup,
  type PodContext,
  type PreparedPod,
} from './container-spec.js';
import { writePodFiles } from './pod-files.js';
import { pullCredentials } from './pull-secrets.js';

export type { ObjectLookup, PodContext, PreparedPod } from './container-spec.js';

export interface SpecBuilder {
  preparePod(ctx: PodContext, lookup: ObjectLookup): Promise<PreparedPod>;
  /** Rewrites /etc/hosts, resolv.conf and hostname in place (the pod IP became known after preparePod). */
  refreshPodFiles(ctx: PodContext): Promise<void>;
  buildContainerSpec(args: {
    ctx: PodContext;
    prepared: PreparedPod;
    container: Record<string, unknown>;
    kind: 'regular' | 'init';
    attempt: number;
    id: string;
    image: ImageInfo;
    lookup: ObjectLookup;
  }): Promise<ContainerCreateSpec>;
  containerSpecHash(container: Record<string, unknown>): string;
  newContainerId(podUid: string, containerName: string, attempt: number): string;
  cleanupPodDir(podDir: string): Promise<void>;
  pullCredentials(
    pod: KubeObject,
    lookup: ObjectLookup,
  ): Promise<{ credentials: RegistryCredential[]; warnings: string[] }>;
}

export const defaultSpecBuilder: SpecBuilder = {
  preparePod,
  async refreshPodFiles(ctx) {
    await writePodFiles(ctx);
  },
  buildContainerSpec,
  containerSpecHash,
  newContainerId,
  cleanupPodDir,
  pullCredentials,
};

/** ConfigMaps and Secrets read through the API (undefined when absent). */
export function apiObjectLookup(client: ApiClient): ObjectLookup {
  const get = async (kind: string, ns: string, name: string): Promise<KubeObject | undefined> => {
    try {
      return await client.get({ apiVersion: 'v1', kind }, ns, name);
    } catch (err: unknown) {
      if (isApiError(err) && err.reason === 'NotFound') return undefined;
      throw err;
    }
  };
  return {
    configMap: (ns, name) => get('ConfigMap', ns, name),
    secret: (ns, name) => get('Secret', ns, name),
  };
}
