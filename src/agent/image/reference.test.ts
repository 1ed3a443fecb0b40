import { describe, expect, it } from 'vitest';
import { normaliseReference, parseReference } from './reference.js';
import { ImageError } from './types.js';

const digest = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['bitnami/nginx:1', 'docker.io/bitnami/nginx:1'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['127.0.0.1:5000/busybox:1', '127.0.0.1:5000/busybox:1'],
    ['localhost/a/b/c', 'localhost/a/b/c:latest'],
    ['registry.example.com/team/app', 'registry.example.com/team/app:latest'],
    [`busybox@${digest}`, `docker.io/library/busybox@${digest}`],
    [`host:5000/x:1@${digest}`, `host:5000/x:1@${digest}`],
    ['a.b/c__d-e.f:TAG_1.x', 'a.b/c__d-e.f:TAG_1.x'],
  ])('%s → %s', (input, want) => {
    expect(normaliseReference(input)).toBe(want);
  });

  it('splits the parts', () => {
    expect(parseReference('127.0.0.1:5000/ns/app:v2')).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'ns/app',
      tag: 'v2',
    });
  });

  it.each([
    ['', /empty/],
    ['Busybox', /lowercase/],
    ['busy box', /may only hold/],
    ['busybox:', /tag ""/],
    ['busybox:-x', /tag "-x"/],
    ['busybox@sha256:abc', /digest "sha256:abc"/],
    ['host:5000/', /repository name is empty/],
    ['a//b', /repository path component ""/],
  ])('refuses %j', (input, why) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).reason).toBe('Invalid');
    expect((err as ImageError).message).toMatch(why);
  });
});
