import { describe, expect, it } from 'vitest';
import { dynamicBandStart, parsePortRange, parseServiceCIDR } from './ranges.js';

describe('parseServiceCIDR', () => {
  it.each([
    ['10.43.0.0/16', '10.43.0.0/16', 65534, '10.43.0.1', '10.43.255.254'],
    ['10.43.7.9/16', '10.43.0.0/16', 65534, '10.43.0.1', '10.43.255.254'],
    ['192.168.5.0/29', '192.168.5.0/29', 6, '192.168.5.1', '192.168.5.6'],
    ['10.0.0.0/30', '10.0.0.0/30', 2, '10.0.0.1', '10.0.0.2'],
  ])('%s → %s with %i addresses', (text, cidr, size, first, last) => {
    const r = parseServiceCIDR(text);
    expect(r.cidr).toBe(cidr);
    expect(r.size).toBe(size);
    expect(r.first).toBe(first);
    expect(r.nameAt(0)).toBe(first);
    expect(r.nameAt(size - 1)).toBe(last);
    expect(r.offsetOf(last)).toBe(size - 1);
  });

  it('excludes the network and broadcast addresses and anything outside', () => {
    const r = parseServiceCIDR('192.168.5.0/29');
    expect(r.offsetOf('192.168.5.0')).toBeUndefined();
    expect(r.offsetOf('192.168.5.7')).toBeUndefined();
    expect(r.offsetOf('192.168.6.1')).toBeUndefined();
    expect(r.offsetOf('fd00::1')).toBeUndefined();
    expect(r.offsetOf('192.168.5.3')).toBe(2);
  });

  it.each([
    ['10.43.0.0', /must be an IPv4 CIDR/],
    ['10.43.0.0/8', /between \/12 and \/30/],
    ['10.43.0.0/31', /between \/12 and \/30/],
    ['fd00::/108', /only IPv4/],
    ['300.1.1.1/16', /must be an IPv4 CIDR/],
  ])('refuses %s', (text, message) => {
    expect(() => parseServiceCIDR(text)).toThrow(message);
    expect(() => parseServiceCIDR(text)).toThrow(/--service-cluster-ip-range/);
  });
});

describe('parsePortRange', () => {
  it.each([
    ['30000-32767', 30000, 32767, 2768],
    ['30080', 30080, 30080, 1],
    [' 40000 - 40009 ', 40000, 40009, 10],
  ])('%s', (text, min, max, size) => {
    const r = parsePortRange(text);
    expect([r.min, r.max, r.size]).toEqual([min, max, size]);
    expect(r.nameAt(0)).toBe(String(min));
    expect(r.offsetOf(String(max))).toBe(size - 1);
    expect(r.offsetOf(String(max + 1))).toBeUndefined();
    expect(r.label).toBe(`${min}-${max}`);
  });

  it.each(['0-10', '32767-30000', '30000-70000', 'a-b', ''])('refuses %j', (text) => {
    expect(() => parsePortRange(text)).toThrow(/--service-node-port-range must be a port range/);
  });
});

describe('dynamicBandStart', () => {
  it.each([
    [65534, 256],
    [2768, 173],
    [62, 16],
    [6, 0],
  ])('size %i → %i', (size, start) => expect(dynamicBandStart(size)).toBe(start));
});
