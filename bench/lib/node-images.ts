// Images for the real-node benchmarks: pull an image once on a Flotilla node before timing anything, and
// unpack the same busybox layout as a plain rootfs for the Docker peer (`docker import`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiClient } from '../../src/api/client/client.js';
import { eventually } from '../../src/testkit/eventually.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };

/** Runs a `true` pod of `image` to completion and deletes it, so the node has the image before timing. */
export async function pullOnce(client: ApiClient, image: string, name = 'warm-up'): Promise<void> {
  await client.create(podRef, 'default', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'main', image, command: ['true'] }],
      restartPolicy: 'Never',
    },
  });
  await eventually(async () => {
    const p = await client.get(podRef, 'default', name);
    const phase = (p.status as { phase?: string } | undefined)?.phase;
    if (phase !== 'Succeeded') throw new Error(`${name} pod is ${phase}`);
  }, 120_000);
  await client.delete(podRef, 'default', name);
}

/** `umoci unpack --rootless` of `<layout>:<tag>` into a temp dir; returns the rootfs path. */
export function unpackRootfs(layout: string, tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-rootfs-'));
  execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:${tag}`, join(dir, 'bundle')], {
    stdio: 'ignore',
  });
  return join(dir, 'bundle', 'rootfs');
}

/** Removes what unpackRootfs made. */
export function removeRootfs(rootfs: string): void {
  rmSync(join(rootfs, '..', '..'), { recursive: true, force: true });
}
