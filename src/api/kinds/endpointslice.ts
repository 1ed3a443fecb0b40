// discovery.k8s.io/v1 EndpointSlice.

import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import { asArr, asNum, asStr, objItems, unsetStr } from '../validation/access.js';
import { child, field, index } from '../validation/field.js';
import { isDNS1123Label, isDNS1123Subdomain, isIPv4, isIPv6, isQualifiedName } from '../validation/names.js';
import { defineKind } from './handler.js';

export const maxEndpoints = 1000;
export const maxAddresses = 100;
export const maxPorts = 100;

function defaultEndpointSlice(slice: KubeObject): void {
  for (const [port] of objItems(slice['ports'])) {
    if (unsetStr(port['protocol'])) port['protocol'] = 'TCP';
    if (port['name'] === undefined || port['name'] === null) port['name'] = '';
  }
}

function validateAddress(addr: string, type: string, path: string): StatusCause[] {
  switch (type) {
    case 'IPv4':
      return isIPv4(addr) ? [] : [field.invalid(path, addr, 'must be a valid IPv4 address')];
    case 'IPv6':
      return isIPv6(addr) ? [] : [field.invalid(path, addr, 'must be a valid IPv6 address')];
    case 'FQDN':
      return isDNS1123Subdomain(addr).map((m) => field.invalid(path, addr, m));
    default:
      return [];
  }
}

function validateEndpointSlice(slice: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const type = asStr(slice['addressType']) ?? '';
  if (type === '') causes.push(field.required('addressType'));
  const endpoints = objItems(slice['endpoints']);
  if (asArr(slice['endpoints']).length > maxEndpoints)
    causes.push(field.tooMany('endpoints', asArr(slice['endpoints']).length, maxEndpoints));
  for (const [ep, i] of endpoints) {
    const p = index('endpoints', i);
    const addrs = asArr(ep['addresses']);
    if (addrs.length === 0)
      causes.push(field.required(child(p, 'addresses'), 'must contain at least 1 address'));
    if (addrs.length > maxAddresses)
      causes.push(field.tooMany(child(p, 'addresses'), addrs.length, maxAddresses));
    addrs.forEach((a, j) => {
      if (typeof a === 'string') causes.push(...validateAddress(a, type, index(child(p, 'addresses'), j)));
    });
    const hn = asStr(ep['hostname']) ?? '';
    if (hn !== '')
      for (const m of isDNS1123Label(hn)) causes.push(field.invalid(child(p, 'hostname'), hn, m));
    const nn = asStr(ep['nodeName']) ?? '';
    if (nn !== '')
      for (const m of isDNS1123Subdomain(nn)) causes.push(field.invalid(child(p, 'nodeName'), nn, m));
  }
  const ports = objItems(slice['ports']);
  if (asArr(slice['ports']).length > maxPorts)
    causes.push(field.tooMany('ports', asArr(slice['ports']).length, maxPorts));
  const names = new Set<string>();
  for (const [port, i] of ports) {
    const p = index('ports', i);
    const name = asStr(port['name']) ?? '';
    if (name !== '')
      for (const m of isDNS1123Label(name)) causes.push(field.invalid(child(p, 'name'), name, m));
    if (names.has(name)) causes.push(field.duplicate(child(p, 'name'), name));
    names.add(name);
    const num = asNum(port['port']);
    if (num !== undefined && (num < 0 || num > 65535))
      causes.push(field.invalid(child(p, 'port'), num, 'must be between 0 and 65535, inclusive'));
    const ap = asStr(port['appProtocol']) ?? '';
    if (ap !== '')
      for (const m of isQualifiedName(ap)) causes.push(field.invalid(child(p, 'appProtocol'), ap, m));
  }
  return causes;
}

export const endpointSliceHandler = defineKind({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  defaults: defaultEndpointSlice,
  validate: validateEndpointSlice,
  validateUpdate: (n, o) =>
    n['addressType'] === o['addressType'] ? [] : [field.immutable('addressType', n['addressType'] ?? '')],
});
