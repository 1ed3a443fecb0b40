// v1 Endpoints: address IPs, ports named when several.

import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import { asStr, objItems, unsetStr } from '../validation/access.js';
import { validatePortNum } from '../validation/common.js';
import { child, field, index } from '../validation/field.js';
import { isDNS1123Label, isDNS1123Subdomain, isIP } from '../validation/names.js';
import { defineKind } from './handler.js';

function defaultEndpoints(ep: KubeObject): void {
  for (const [subset] of objItems(ep['subsets'])) {
    for (const [port] of objItems(subset['ports'])) if (unsetStr(port['protocol'])) port['protocol'] = 'TCP';
  }
}

function validateEndpoints(ep: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [subset, i] of objItems(ep['subsets'])) {
    const sp = index('subsets', i);
    for (const list of ['addresses', 'notReadyAddresses'] as const) {
      for (const [addr, j] of objItems(subset[list])) {
        const ap = index(child(sp, list), j);
        const ip = asStr(addr['ip']) ?? '';
        if (ip === '') causes.push(field.required(child(ap, 'ip')));
        else if (!isIP(ip)) causes.push(field.invalid(child(ap, 'ip'), ip, 'must be a valid IP address'));
        const hn = asStr(addr['hostname']) ?? '';
        if (hn !== '')
          for (const m of isDNS1123Label(hn)) causes.push(field.invalid(child(ap, 'hostname'), hn, m));
        const nn = asStr(addr['nodeName']) ?? '';
        if (nn !== '')
          for (const m of isDNS1123Subdomain(nn)) causes.push(field.invalid(child(ap, 'nodeName'), nn, m));
      }
    }
    const ports = objItems(subset['ports']);
    const names = new Set<string>();
    for (const [port, j] of ports) {
      const pp = index(child(sp, 'ports'), j);
      const name = asStr(port['name']) ?? '';
      if (ports.length > 1 && name === '') causes.push(field.required(child(pp, 'name')));
      if (name !== '') {
        for (const m of isDNS1123Label(name)) causes.push(field.invalid(child(pp, 'name'), name, m));
        if (names.has(name)) causes.push(field.duplicate(child(pp, 'name'), name));
        names.add(name);
      }
      causes.push(...validatePortNum(port['port'], child(pp, 'port')));
      if (unsetStr(port['protocol'])) causes.push(field.required(child(pp, 'protocol')));
    }
  }
  return causes;
}

export const endpointsHandler = defineKind({
  apiVersion: 'v1',
  kind: 'Endpoints',
  defaults: defaultEndpoints,
  validate: validateEndpoints,
});
