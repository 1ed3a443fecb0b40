import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRuntimeError } from './errors.js';
import { busyboxSpec } from './testing.js';
import { readLayeredFile, resolveUser } from './user.js';

let base: string;
let bottom: string;
let top: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'flotilla-user-'));
  bottom = join(base, 'bottom');
  top = join(base, 'top');
  await mkdir(join(bottom, 'etc'), { recursive: true });
  await mkdir(top, { recursive: true });
  await writeFile(
    join(bottom, 'etc', 'passwd'),
    'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n',
  );
  await writeFile(
    join(bottom, 'etc', 'group'),
    'root:x:0:\napp:x:1000:\nwheel:x:10:app,other\nstaff:x:50:\n',
  );
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const spec = (o: Parameters<typeof busyboxSpec>[3]) =>
  busyboxSpec(bottom, 'p', ['true'], { layerDirs: [bottom, top], ...o });

describe('resolveUser', () => {
  it('resolves an image user name and its groups from the layers', async () => {
    expect(await resolveUser(spec({ imageUser: 'app' }))).toEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [10],
    });
    expect(await resolveUser(spec({ imageUser: 'app:staff' }))).toEqual({
      uid: 1000,
      gid: 50,
      additionalGids: [10],
    });
    expect(await resolveUser(spec({ imageUser: '1234:77' }))).toEqual({
      uid: 1234,
      gid: 77,
      additionalGids: [],
    });
    expect(await resolveUser(spec({}))).toEqual({ uid: 0, gid: 0, additionalGids: [] });
  });

  it('lets runAsUser/runAsGroup/supplementalGroups win over the image', async () => {
    const u = await resolveUser(
      spec({ imageUser: 'app', security: { runAsUser: 65534, runAsGroup: 3, supplementalGroups: [7] } }),
    );
    expect(u).toEqual({ uid: 65534, gid: 3, additionalGids: [7] });
  });

  it('refuses runAsNonRoot when the container would run as root, and unknown names', async () => {
    await expect(resolveUser(spec({ security: { runAsNonRoot: true } }))).rejects.toThrow(
      'container has runAsNonRoot and image will run as root',
    );
    const err = await resolveUser(spec({ imageUser: 'ghost' })).catch((e: unknown) => e);
    expect(isRuntimeError(err) && err.code).toBe('InvalidSpec');
    expect((err as Error).message).toContain('unable to find user ghost');
  });

  it('reads the top layer first and honours whiteouts', async () => {
    await mkdir(join(top, 'etc'));
    await writeFile(join(top, 'etc', 'passwd'), 'app:x:2000:2000::/:/bin/sh\n');
    expect((await resolveUser(spec({ imageUser: 'app' }))).uid).toBe(2000);
    // an OCI whiteout in the top layer deletes the bottom layer's /etc/group: no supplementary groups
    await writeFile(join(top, 'etc', 'passwd'), 'app:x:1000:1000::/:/bin/sh\n');
    expect((await resolveUser(spec({ imageUser: 'app' }))).additionalGids).toEqual([10]);
    await writeFile(join(top, 'etc', '.wh.group'), '');
    expect((await resolveUser(spec({ imageUser: 'app' }))).additionalGids).toEqual([]);
  });

  it('never follows a symlink out of the rootfs', async () => {
    const host = join(base, 'host');
    await mkdir(host);
    await writeFile(join(host, 'passwd'), 'evil:x:0:0::/:/bin/sh\n');
    await mkdir(join(top, 'etc'));
    // absolute and ../ escapes both resolve inside the layered rootfs, where the file does not exist
    await symlink(host + '/passwd', join(top, 'etc', 'passwd'));
    expect(await readLayeredFile([top, bottom], '/etc/passwd')).toBeUndefined();
    await rm(join(top, 'etc', 'passwd'));
    await symlink('../../../../../../../../' + host + '/passwd', join(top, 'etc', 'passwd'));
    expect(await readLayeredFile([top, bottom], '/etc/passwd')).toBeUndefined();
    // a link that stays inside the rootfs is followed, through the layers
    await rm(join(top, 'etc', 'passwd'));
    await mkdir(join(bottom, 'data'));
    await writeFile(join(bottom, 'data', 'passwd'), 'inside:x:5:5::/:/bin/sh\n');
    await symlink('../data/passwd', join(top, 'etc', 'passwd'));
    expect(await readLayeredFile([top, bottom], '/etc/passwd')).toContain('inside');
    expect((await resolveUser(spec({ imageUser: 'inside' }))).uid).toBe(5);
  });
});
