import { describe, expect, it } from 'vitest';
import {
  canonicalCIDR,
  isCIDR,
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isIP,
  isIPv4,
  isIPv6,
  isQualifiedName,
  isValidLabelValue,
  isValidPathSegmentName,
  isValidPortName,
  isValidPortNum,
} from './names.js';

describe('DNS names', () => {
  it.each([
    ['a', true],
    ['my-name', true],
    ['123-abc', true],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['-a', false],
    ['a-', false],
    ['A', false],
    ['a.b', false],
    ['a_b', false],
    ['', false],
  ])('label %j → %s', (v, ok) => expect(isDNS1123Label(v).length === 0).toBe(ok));

  it('label messages are upstream texts', () => {
    expect(isDNS1123Label('My_Name')).toEqual([
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ]);
    expect(isDNS1123Label('a.b')).toEqual(['must not contain dots']);
    expect(isDNS1123Label('a'.repeat(64))).toEqual(['must be no more than 63 characters']);
  });

  it.each([
    ['example.com', true],
    ['a.b-c.d', true],
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, true],
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`, false],
    ['a..b', false],
    ['.a', false],
    ['Example.com', false],
  ])('subdomain %j → %s', (v, ok) => expect(isDNS1123Subdomain(v).length === 0).toBe(ok));

  it('subdomain message is the upstream text', () => {
    expect(isDNS1123Subdomain('Bad_Name')).toEqual([
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]);
  });

  it.each([
    ['web', true],
    ['web-1', true],
    ['1web', false],
    ['web-', false],
  ])('DNS-1035 %j → %s', (v, ok) => expect(isDNS1035Label(v).length === 0).toBe(ok));
});

describe('qualified names and label values', () => {
  it.each([
    ['app', []],
    ['app.kubernetes.io/name', []],
    ['MyName', []],
    ['my_name.x-1', []],
    [
      'example.com/',
      ['name part must be non-empty', expect.stringMatching(/^name part must consist of alphanumeric/)],
    ],
    ['/name', ['prefix part must be non-empty']],
    ['Example.com/name', [expect.stringMatching(/^prefix part a lowercase RFC 1123 subdomain/)]],
    [
      'a/b/c',
      [
        expect.stringMatching(
          /^a qualified name must consist of .* with an optional DNS subdomain prefix and '\/' \(e\.g\. 'example\.com\/MyName'\)$/,
        ),
      ],
    ],
    [
      '-app',
      [
        expect.stringMatching(
          /^name part must consist of alphanumeric characters, '-', '_' or '\.', and must start and end with an alphanumeric character/,
        ),
      ],
    ],
    ['a'.repeat(64), ['name part must be no more than 63 characters']],
  ])('qualified name %j', (v, errs) => expect(isQualifiedName(v)).toEqual(errs));

  it.each([
    ['', true],
    ['web', true],
    ['v1.2_3-x', true],
    ['-x', false],
    ['a b', false],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
  ])('label value %j → %s', (v, ok) => expect(isValidLabelValue(v).length === 0).toBe(ok));
});

describe('other names', () => {
  it.each([
    ['.', ["may not be '.'"]],
    ['..', ["may not be '..'"]],
    ['a/b', ["may not contain '/'"]],
    ['a%b/c', ["may not contain '/'", "may not contain '%'"]],
    ['ok:name', []],
  ])('path segment %j', (v, errs) => expect(isValidPathSegmentName(v)).toEqual(errs));

  it.each([
    ['key.name', []],
    ['KEY_NAME', []],
    ['.hidden', []],
    ['..x', ["must not start with '..'"]],
    ['a/b', [expect.stringMatching(/^a valid config key must consist of alphanumeric characters/)]],
  ])('config key %j', (v, errs) => expect(isConfigMapKey(v)).toEqual(errs));

  it.each([
    ['http', []],
    ['h2c-web', []],
    ['8080', ['must contain at least one letter (a-z)']],
    ['a--b', ['must not contain consecutive hyphens']],
    ['-a', ['must not begin or end with a hyphen']],
    ['verylongportname', ['must be no more than 15 characters']],
    [
      'HTTP',
      [
        'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        'must contain at least one letter (a-z)',
      ],
    ],
  ])('port name %j', (v, errs) => expect(isValidPortName(v)).toEqual(errs));

  it.each([
    [0, false],
    [1, true],
    [65535, true],
    [65536, false],
    [80.5, false],
  ])('port %d → %s', (p, ok) => expect(isValidPortNum(p).length === 0).toBe(ok));

  it.each([
    ['HOME', true],
    ['my.env-name', true],
    ['_x', true],
    ['1A', false],
    ['A=B', false],
  ])('env var %j → %s', (v, ok) => expect(isEnvVarName(v).length === 0).toBe(ok));
});

describe('IPs and CIDRs', () => {
  it.each([
    ['10.0.0.1', true, false],
    ['255.255.255.255', true, false],
    ['256.0.0.1', false, false],
    ['01.2.3.4', false, false],
    ['::1', false, true],
    ['2001:db8::ffff', false, true],
    ['fe80::1:2:3:4:5:6', false, true],
    ['1:2:3:4:5:6:7:8', false, true],
    ['1:2:3:4:5:6:7:8:9', false, false],
    ['::ffff:10.0.0.1', false, true],
    ['1::2::3', false, false],
    ['web', false, false],
  ])('%s: v4 %s, v6 %s', (ip, v4, v6) => {
    expect(isIPv4(ip)).toBe(v4);
    expect(isIPv6(ip)).toBe(v6);
    expect(isIP(ip)).toBe(v4 || v6);
  });

  it.each([
    ['10.244.0.0/16', true],
    ['10.244.0.0/33', false],
    ['2001:db8::/64', true],
    ['10.0.0.0', false],
  ])('CIDR %s → %s', (c, ok) => expect(isCIDR(c)).toBe(ok));

  it.each([
    ['10.43.0.0/16', '10.43.0.0/16'],
    ['10.43.7.9/16', '10.43.0.0/16'],
    ['10.43.255.255/20', '10.43.240.0/20'],
    ['192.168.1.1/32', '192.168.1.1/32'],
    ['10.1.2.3/0', '0.0.0.0/0'],
    ['10.0.0.0/08', '10.0.0.0/8'],
    ['2001:db8::/64', '2001:db8::/64'],
    ['2001:DB8:0000:0:0:0:0:1/64', '2001:db8::/64'],
    ['fd00:10:96:0:0:0:0:0/112', 'fd00:10:96::/112'],
    ['1:0:0:2:0:0:0:3/128', '1:0:0:2::3/128'],
    ['1:0:0:2:0:0:3:4/128', '1::2:0:0:3:4/128'],
    ['1:0:2:3:4:5:6:7/128', '1:0:2:3:4:5:6:7/128'],
    ['::/0', '::/0'],
    ['::1/128', '::1/128'],
    ['fe80::1:2:3:4:5:6/10', 'fe80::/10'],
    ['2001:db8:abcd:12ff::/52', '2001:db8:abcd:1000::/52'],
    ['::ffff:10.0.0.1/128', '::ffff:a00:1/128'],
    ['1:2:3:4:5:6:10.0.0.1/128', '1:2:3:4:5:6:a00:1/128'],
    ['10.0.0.0', undefined],
    ['10.0.0.0/33', undefined],
    ['web/8', undefined],
  ])('canonical CIDR of %s is %s', (c, want) => expect(canonicalCIDR(c)).toBe(want));
});
