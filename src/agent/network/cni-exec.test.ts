import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cniPluginVersions, execCniPlugin, parseCniError } from './cni-exec.js';

describe('parseCniError', () => {
  it('reads the error object of the CNI spec', () => {
    expect(parseCniError('{"cniVersion":"1.0.0","code":7,"msg":"bad config","details":"no bridge"}')).toEqual(
      {
        code: 7,
        msg: 'bad config',
        details: 'no bridge',
      },
    );
    expect(parseCniError('panic: oops')).toBeUndefined();
  });
});

describe('execCniPlugin', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fl-cni-exec-'));
    // A plugin that echoes what the protocol handed it, or fails as the spec says.
    await writeFile(
      join(dir, 'echo'),
      [
        '#!/bin/sh',
        'input=$(cat)',
        'case "$CNI_COMMAND" in',
        '  VERSION) echo \'{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}\' ;;',
        '  ADD) printf \'{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}],"seen":"%s %s %s %s %s"}\' "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_ARGS" "$(echo "$input" | tr -d \'"{}\')" ;;',
        '  DEL) exit 0 ;;',
        '  CHECK) echo \'{"cniVersion":"1.0.0","code":11,"msg":"try later"}\'; exit 1 ;;',
        'esac',
        '',
      ].join('\n'),
    );
    await chmod(join(dir, 'echo'), 0o755);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const inv = { containerId: 'pod1', netns: '/var/run/netns/x', ifName: 'eth0', args: 'IgnoreUnknown=1' };

  it('passes the CNI environment and the config on stdin, and parses the result', async () => {
    const result = await execCniPlugin(
      { type: 'echo', name: 'n' },
      { command: 'ADD', ...inv },
      { binDir: dir },
    );
    expect(result?.ips?.[0]?.address).toBe('10.0.0.2/24');
    expect(result?.['seen']).toBe('pod1 /var/run/netns/x eth0 IgnoreUnknown=1 type:echo,name:n');
  });

  it('resolves with nothing for a DEL and rejects with the plugin message on failure', async () => {
    await expect(
      execCniPlugin({ type: 'echo' }, { command: 'DEL', ...inv }, { binDir: dir }),
    ).resolves.toBeUndefined();
    await expect(
      execCniPlugin({ type: 'echo' }, { command: 'CHECK', ...inv }, { binDir: dir }),
    ).rejects.toMatchObject({
      code: 'PluginFailed',
      cniCode: 11,
      transient: true,
      message: 'CNI echo CHECK failed: try later',
    });
  });

  it('reports a missing plugin binary and refuses a type that is a path', async () => {
    await expect(
      execCniPlugin({ type: 'absent' }, { command: 'ADD', ...inv }, { binDir: dir }),
    ).rejects.toMatchObject({
      code: 'PluginFailed',
    });
    await expect(
      execCniPlugin({ type: '../../bin/sh' }, { command: 'ADD', ...inv }, { binDir: dir }),
    ).rejects.toMatchObject({ code: 'InvalidConfig' });
  });

  it('reads the versions a plugin supports', async () => {
    expect(await cniPluginVersions('echo', { binDir: dir })).toEqual(['0.4.0', '1.0.0']);
  });
});
