import { describe, expect, it } from 'vitest';
import {
  decodeClientFrame,
  encodeFrame,
  errorPayload,
  exitCodeOfStatus,
  exitStatus,
  failureStatus,
  negotiateProtocol,
} from './channel.js';

describe('remote-command channel framing', () => {
  it('prefixes each payload with its stream byte', () => {
    expect([...encodeFrame(1, 'hi')]).toEqual([1, 0x68, 0x69]);
    expect([...encodeFrame(2, Buffer.from([0, 255]))]).toEqual([2, 0, 255]);
    expect([...encodeFrame(3, '')]).toEqual([3]);
  });

  it('decodes stdin, resize, the v5 close signal, and refuses malformed messages', () => {
    expect(decodeClientFrame(Buffer.from([0, 0x61, 0x0a]))).toEqual({
      kind: 'stdin',
      data: Buffer.from('a\n'),
    });
    expect(
      decodeClientFrame(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":120,"Height":40}')])),
    ).toEqual({
      kind: 'resize',
      width: 120,
      height: 40,
    });
    expect(decodeClientFrame(Buffer.from([255, 0]))).toEqual({ kind: 'close', stream: 0 });
    expect(decodeClientFrame(Buffer.from([4, 0x7b]))).toMatchObject({ kind: 'invalid' });
    expect(decodeClientFrame(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":"x"}')]))).toMatchObject({
      kind: 'invalid',
    });
    expect(decodeClientFrame(Buffer.from([255]))).toMatchObject({ kind: 'invalid' });
    expect(decodeClientFrame(Buffer.alloc(0))).toMatchObject({ kind: 'invalid' });
    expect(decodeClientFrame(Buffer.from([1, 0x61]))).toEqual({ kind: 'ignored', stream: 1 });
  });

  it('negotiates the newest protocol both sides speak', () => {
    expect(negotiateProtocol(['v5.channel.k8s.io'])).toBe('v5.channel.k8s.io');
    expect(
      negotiateProtocol([
        'channel.k8s.io',
        'v2.channel.k8s.io',
        'v3.channel.k8s.io',
        'v4.channel.k8s.io',
        'v5.channel.k8s.io',
      ]),
    ).toBe('v5.channel.k8s.io');
    expect(negotiateProtocol(['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'])).toBe('v4.channel.k8s.io');
    expect(negotiateProtocol(['v4.base64.channel.k8s.io'])).toBeUndefined();
  });

  it('reports the exit code the way kubectl reads it', () => {
    expect(exitStatus(0)).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' });
    const s = exitStatus(3);
    expect(s).toMatchObject({
      status: 'Failure',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
    expect(exitCodeOfStatus(JSON.parse(JSON.stringify(s)))).toBe(3);
    expect(exitCodeOfStatus(exitStatus(0))).toBe(0);
    expect(exitCodeOfStatus(failureStatus('container not found ("x")'))).toEqual({
      error: 'container not found ("x")',
    });
  });

  it('sends JSON Status from v4 on, and a bare message (nothing on success) before', () => {
    expect(JSON.parse(errorPayload('v5.channel.k8s.io', exitStatus(0)) ?? '')).toMatchObject({
      status: 'Success',
    });
    expect(errorPayload('v3.channel.k8s.io', exitStatus(0))).toBeUndefined();
    expect(errorPayload('channel.k8s.io', exitStatus(2))).toBe(
      'command terminated with non-zero exit code: exit status 2',
    );
  });
});
