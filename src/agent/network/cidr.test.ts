import { describe, expect, it } from 'vitest';
import { bridgeMacFor, cidrContains, parseIpv4Cidr } from './cidr.js';

describe('parseIpv4Cidr', () => {
  it('gives the subnet and its first address as the gateway', () => {
    expect(parseIpv4Cidr('10.42.0.0/24')).toEqual({
      network: '10.42.0.0',
      prefixLength: 24,
      gateway: '10.42.0.1',
      subnet: '10.42.0.0/24',
    });
  });

  it('clears host bits a user wrote', () => {
    expect(parseIpv4Cidr('10.42.3.77/16').subnet).toBe('10.42.0.0/16');
    expect(parseIpv4Cidr('10.42.3.77/16').gateway).toBe('10.42.0.1');
  });

  it.each(['10.42.0.0', '10.42.0/24', '10.42.0.256/24', 'fd00::/64', '10.0.0.0/31', '10.0.0.0/4', ''])(
    'rejects %j with InvalidConfig',
    (text) => {
      expect(() => parseIpv4Cidr(text)).toThrow(expect.objectContaining({ code: 'InvalidConfig' }));
    },
  );

  it('knows which addresses belong to the range', () => {
    const cidr = parseIpv4Cidr('10.200.7.0/24');
    expect(cidrContains(cidr, '10.200.7.254')).toBe(true);
    expect(cidrContains(cidr, '10.200.8.1')).toBe(false);
    expect(cidrContains(cidr, 'nonsense')).toBe(false);
  });
});

describe('bridgeMacFor', () => {
  it('is 0a:58 and the four bytes of the address: fixed per node, unique per pod range', () => {
    expect(bridgeMacFor('10.42.0.1')).toBe('0a:58:0a:2a:00:01');
    expect(bridgeMacFor('10.214.92.1')).toBe('0a:58:0a:d6:5c:01');
    expect(() => bridgeMacFor('10.42.0')).toThrow(/not an IPv4 address/);
  });
});
