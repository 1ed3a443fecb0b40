// `flotilla agent reset` (resetAgent) on a real node (root): what an agent killed in the middle of a pod
// teardown leaves behind is removed too, and one part that cannot be removed does not stop the rest.
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupDirs, detectCgroupLayout } from './runtime/cgroups.js';
import { realRuntimeUnavailable, uniqueId } from './runtime/testing.js';
import { resetAgent } from './start.js';

const unavailable = realRuntimeUnavailable();
if (unavailable !== undefined) console.warn(`skipping agent reset integration tests: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('agent reset (real cgroups)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('removes a pod cgroup no container points at (a teardown cut short), then the cgroup root', async () => {
    const id = uniqueId('r')
      .replace(/[^a-z0-9]/g, '')
      .slice(-6);
    const cgroupRoot = `flotilla-reset-${id}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'flotilla-reset-'));
    dirs.push(dataDir);
    const layout = await detectCgroupLayout();
    const podCgroup = `/${cgroupRoot}/pod${id}-left-behind`;
    const made = cgroupDirs(layout, podCgroup);
    for (const d of made) mkdirSync(d, { recursive: true });
    try {
      const r = await resetAgent({
        dataDir,
        runcRoot: join(dataDir, 'runc'),
        bridge: `flr${id}`,
        podCidr: '10.254.254.0/24',
        netnsPrefix: `flr${id}-`,
        cgroupRoot,
        nftTable: `flr${id}`,
      });
      expect(r).toEqual({ containers: 0, networks: 0 });
      for (const d of made) expect(existsSync(d)).toBe(false);
      for (const d of cgroupDirs(layout, `/${cgroupRoot}`)) expect(existsSync(d)).toBe(false);
    } finally {
      // A cgroup dir goes with rmdir (its files cannot be unlinked); only there when the test failed.
      for (const d of [...made, ...cgroupDirs(layout, `/${cgroupRoot}`)]) {
        try {
          rmdirSync(d);
        } catch {
          // already gone
        }
      }
    }
  });
});
