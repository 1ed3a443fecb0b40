// A real single-node cluster with busybox pushed to a local registry: what most real-node tests and
// benchmarks start from. `close()` stops the cluster and the registry and removes the image layout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBusyboxLayout, pushImage } from './images.js';
import { startNodeCluster, type NodeCluster } from './node.js';
import { startRegistry, type TestRegistry } from './registry.js';

export interface BusyboxCluster {
  cluster: NodeCluster;
  registry: TestRegistry;
  /** `<registry>/<repository>:1`, pullable by the node. */
  image: string;
  close(): Promise<void>;
}

export async function startBusyboxCluster(
  opts: { repository?: string; agentArgs?: string[]; serverArgs?: string[] } = {},
): Promise<BusyboxCluster> {
  const registry = await startRegistry();
  const layoutDir = mkdtempSync(join(tmpdir(), 'flotilla-bb-'));
  let cluster: NodeCluster | undefined;
  try {
    await buildBusyboxLayout(layoutDir, '1');
    const repository = opts.repository ?? 'tools/busybox';
    await pushImage(layoutDir, '1', registry, `${repository}:1`);
    cluster = await startNodeCluster({
      ...(opts.agentArgs === undefined ? {} : { agentArgs: opts.agentArgs }),
      ...(opts.serverArgs === undefined ? {} : { serverArgs: opts.serverArgs }),
    });
    const started = cluster;
    return {
      cluster: started,
      registry,
      image: `${registry.host}/${repository}:1`,
      async close() {
        await started.close();
        await registry.stop();
        rmSync(layoutDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await cluster?.close();
    await registry.stop();
    rmSync(layoutDir, { recursive: true, force: true });
    throw err;
  }
}
