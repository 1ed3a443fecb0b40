import { describe, expect, it } from 'vitest';
import { credentialFor, parseDockerConfigJson } from './credentials.js';
import { ImageError } from './types.js';

describe('parseDockerConfigJson', () => {
  it('reads username/password, base64 auth and identity tokens per registry host', () => {
    const json = JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:se:cret').toString('base64') },
        '127.0.0.1:5000': { username: 'u', password: 'p' },
        'https://ghcr.io': { identitytoken: 'tok' },
      },
    });
    expect(parseDockerConfigJson(json)).toEqual([
      { registry: 'docker.io', username: 'hub', password: 'se:cret' },
      { registry: '127.0.0.1:5000', username: 'u', password: 'p' },
      { registry: 'ghcr.io', token: 'tok' },
    ]);
  });

  it('accepts the legacy .dockercfg shape without "auths"', () => {
    expect(parseDockerConfigJson('{"r.example.com":{"username":"a","password":"b"}}')).toEqual([
      { registry: 'r.example.com', username: 'a', password: 'b' },
    ]);
  });

  it.each([
    ['not json', /not JSON/],
    ['[]', /not a JSON object/],
    ['{"auths": 3}', /"auths" is not an object/],
    ['{"auths": {"h": "x"}}', /entry for "h"/],
    ['{"auths": {"h": {"username": 5}}}', /"username" of "h"/],
    ['{"auths": {"h": {"auth": "bm9jb2xvbg=="}}}', /not base64 of "username:password"/],
  ])('refuses %s', (json, why) => {
    let err: unknown;
    try {
      parseDockerConfigJson(json);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).reason).toBe('Invalid');
    expect((err as ImageError).message).toMatch(why);
  });

  it('finds the credential for a host, falling back to the host without its port', () => {
    const creds = [
      { registry: 'r.example.com', username: 'a' },
      { registry: 'r.example.com:5000', username: 'b' },
    ];
    expect(credentialFor(creds, 'r.example.com:5000')?.username).toBe('b');
    expect(credentialFor(creds, 'r.example.com:6000')?.username).toBe('a');
    expect(credentialFor(creds, 'other')).toBeUndefined();
  });
});
