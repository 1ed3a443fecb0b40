// Temporary directories for tests that go away with the test file: `testDir(prefix)` makes one under the
// system temp dir, and the afterAll hook this module registers (once per test file that imports it,
// directly or through another test kit module) removes every one it made.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A new empty directory `<tmp>/<prefix><random>`, removed after the importing test file's last test. */
export function testDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
