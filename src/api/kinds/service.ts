// v1 Service: defaults (SetDefaults_Service), validation (ValidateService) and update rules
// (clusterIP immutable once allocated; allocated values carried over when a client omits them).

import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import {
  asArr,
  asNum,
  asObj,
  asStr,
  ensureObj,
  objItems,
  unset,
  unsetStr,
  type Obj,
} from '../validation/access.js';
import { validatePortNum, validatePortNumOrName } from '../validation/common.js';
import { child, field, index } from '../validation/field.js';
import { nameIsDNS1035Label, validateLabels } from '../validation/metadata.js';
import { isDNS1123Label, isDNS1123Subdomain, isIP, isQualifiedName } from '../validation/names.js';
import { defineKind } from './handler.js';

function specOf(svc: KubeObject): Obj {
  return asObj(svc.spec) ?? {};
}

function defaultService(svc: KubeObject): void {
  const spec = ensureObj(svc, 'spec');
  if (unsetStr(spec['type'])) spec['type'] = 'ClusterIP';
  if (unsetStr(spec['sessionAffinity'])) spec['sessionAffinity'] = 'None';
  if (spec['sessionAffinity'] === 'ClientIP') {
    const cfg = ensureObj(ensureObj(spec, 'sessionAffinityConfig'), 'clientIP');
    if (unset(cfg['timeoutSeconds'])) cfg['timeoutSeconds'] = 10800;
  }
  for (const [p] of objItems(spec['ports'])) {
    if (unsetStr(p['protocol'])) p['protocol'] = 'TCP';
    if (unset(p['targetPort']) || p['targetPort'] === 0 || p['targetPort'] === '')
      p['targetPort'] = p['port'];
  }
  const type = spec['type'];
  if ((type === 'NodePort' || type === 'LoadBalancer') && unsetStr(spec['externalTrafficPolicy'])) {
    spec['externalTrafficPolicy'] = 'Cluster';
  }
  if (type !== 'ExternalName' && unsetStr(spec['internalTrafficPolicy']))
    spec['internalTrafficPolicy'] = 'Cluster';
  if (type === 'LoadBalancer' && unset(spec['allocateLoadBalancerNodePorts']))
    spec['allocateLoadBalancerNodePorts'] = true;
  // clusterIPs[0] is clusterIP: fill whichever of the two the client left out (v1 conversion upstream).
  if (type !== 'ExternalName') {
    const ip = asStr(spec['clusterIP']) ?? '';
    const ips = asArr(spec['clusterIPs']);
    if (ip !== '' && ips.length === 0) spec['clusterIPs'] = [ip];
    else if (ip === '' && typeof ips[0] === 'string' && ips[0] !== '') spec['clusterIP'] = ips[0];
  }
}

function validateService(svc: KubeObject): StatusCause[] {
  const spec = asObj(svc.spec);
  if (spec === undefined) return [field.required('spec')];
  const causes: StatusCause[] = [];
  const type = asStr(spec['type']) ?? '';
  if (type === '') causes.push(field.required('spec.type'));
  const clusterIP = asStr(spec['clusterIP']) ?? '';
  const headless = clusterIP === 'None';
  const ports = objItems(spec['ports']);

  if (type === 'ExternalName') {
    const en = asStr(spec['externalName']) ?? '';
    if (en === '') causes.push(field.required('spec.externalName'));
    else
      for (const m of isDNS1123Subdomain(en.replace(/\.$/, '')))
        causes.push(field.invalid('spec.externalName', en, m));
    if (clusterIP !== '')
      causes.push(field.forbidden('spec.clusterIP', 'may not be set for ExternalName services'));
  } else {
    if (ports.length === 0 && !headless) causes.push(field.required('spec.ports'));
    // With clusterIPs given (defaults copy clusterIP there), the bad address is reported there, as upstream.
    if (clusterIP !== '' && !headless && !isIP(clusterIP) && asArr(spec['clusterIPs'])[0] !== clusterIP) {
      causes.push(field.invalid('spec.clusterIP', clusterIP, "must be empty, 'None', or a valid IP address"));
    }
    if (headless && (type === 'NodePort' || type === 'LoadBalancer')) {
      causes.push(
        field.invalid('spec.clusterIP', clusterIP, `may not be set to 'None' for ${type} services`),
      );
    }
  }
  asArr(spec['clusterIPs']).forEach((ip, i) => {
    if (typeof ip === 'string' && ip !== 'None' && !isIP(ip)) {
      causes.push(
        field.invalid(index('spec.clusterIPs', i), ip, "must be empty, 'None', or a valid IP address"),
      );
    }
  });
  if (
    asArr(spec['clusterIPs']).length > 0 &&
    clusterIP !== '' &&
    asArr(spec['clusterIPs'])[0] !== clusterIP
  ) {
    causes.push(field.invalid('spec.clusterIPs', spec['clusterIPs'], 'first value must match `clusterIP`'));
  }

  const names = new Set<string>();
  const portProtos = new Set<string>();
  const nodePorts = new Set<string>();
  for (const [p, i] of ports) {
    const pp = index('spec.ports', i);
    const name = asStr(p['name']) ?? '';
    if (ports.length > 1 && name === '') causes.push(field.required(child(pp, 'name')));
    if (name !== '') {
      for (const m of isDNS1123Label(name)) causes.push(field.invalid(child(pp, 'name'), name, m));
      if (names.has(name)) causes.push(field.duplicate(child(pp, 'name'), name));
      names.add(name);
    }
    causes.push(...validatePortNum(p['port'], child(pp, 'port')));
    if (unsetStr(p['protocol'])) causes.push(field.required(child(pp, 'protocol')));
    const id = JSON.stringify({ port: p['port'], protocol: p['protocol'] });
    if (portProtos.has(id)) causes.push(field.duplicate(pp, { port: p['port'], protocol: p['protocol'] }));
    portProtos.add(id);
    if (!unset(p['targetPort']))
      causes.push(...validatePortNumOrName(p['targetPort'], child(pp, 'targetPort')));
    const nodePort = asNum(p['nodePort']);
    if (nodePort !== undefined && nodePort !== 0) {
      if (type === 'ClusterIP' || type === 'ExternalName') {
        causes.push(field.forbidden(child(pp, 'nodePort'), `may not be used when \`type\` is '${type}'`));
      } else {
        causes.push(...validatePortNum(nodePort, child(pp, 'nodePort')));
        const np = `${nodePort}/${asStr(p['protocol']) ?? 'TCP'}`;
        if (nodePorts.has(np)) causes.push(field.duplicate(child(pp, 'nodePort'), np));
        nodePorts.add(np);
      }
    }
    const ap = asStr(p['appProtocol']) ?? '';
    if (ap !== '')
      for (const m of isQualifiedName(ap)) causes.push(field.invalid(child(pp, 'appProtocol'), ap, m));
  }

  causes.push(...validateLabels(spec['selector'], 'spec.selector'));
  asArr(spec['externalIPs']).forEach((ip, i) => {
    if (typeof ip === 'string' && !isIP(ip))
      causes.push(field.invalid(index('spec.externalIPs', i), ip, 'must be a valid IP address'));
  });
  const etp = asStr(spec['externalTrafficPolicy']) ?? '';
  if (etp !== '' && type !== 'NodePort' && type !== 'LoadBalancer') {
    causes.push(
      field.invalid('spec.externalTrafficPolicy', etp, 'may only be set for externally-accessible services'),
    );
  }
  const hcnp = asNum(spec['healthCheckNodePort']);
  if (hcnp !== undefined && hcnp !== 0) {
    if (!(type === 'LoadBalancer' && etp === 'Local')) {
      causes.push(
        field.invalid(
          'spec.healthCheckNodePort',
          hcnp,
          "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ),
      );
    } else causes.push(...validatePortNum(hcnp, 'spec.healthCheckNodePort'));
  }
  const affinity = spec['sessionAffinity'];
  const cfg = asObj(spec['sessionAffinityConfig']);
  if (affinity === 'None' && cfg !== undefined) {
    causes.push(
      field.invalid('spec.sessionAffinityConfig', cfg, `must not be set when session affinity is None`),
    );
  }
  if (affinity === 'ClientIP') {
    const t = asNum(asObj(cfg?.['clientIP'])?.['timeoutSeconds']);
    if (t !== undefined && (t <= 0 || t > 86400)) {
      causes.push(
        field.invalid(
          'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
          t,
          'must be greater than 0 and less than 86400',
        ),
      );
    }
  }
  const families = asArr(spec['ipFamilies']);
  if (families.length > 2)
    causes.push(field.invalid('spec.ipFamilies', families, 'may not have more than 2 entries'));
  if (families.length === 2 && families[0] === families[1])
    causes.push(field.duplicate(index('spec.ipFamilies', 1), families[1]));
  if (type === 'ExternalName' && !unsetStr(spec['internalTrafficPolicy'])) {
    causes.push(
      field.forbidden('spec.internalTrafficPolicy', "may not be set when `type` is 'ExternalName'"),
    );
  }
  return causes;
}

function validateServiceUpdate(newSvc: KubeObject, oldSvc: KubeObject): StatusCause[] {
  const n = specOf(newSvc);
  const o = specOf(oldSvc);
  const causes: StatusCause[] = [];
  const oldIP = asStr(o['clusterIP']) ?? '';
  const newIP = asStr(n['clusterIP']) ?? '';
  // Changing to ExternalName releases the cluster IP; otherwise it is fixed once allocated.
  if (oldIP !== '' && newIP !== oldIP && n['type'] !== 'ExternalName' && o['type'] !== 'ExternalName') {
    causes.push(field.immutable('spec.clusterIP', newIP));
  }
  const oldIPs = asArr(o['clusterIPs']);
  const newIPs = asArr(n['clusterIPs']);
  if (oldIPs.length > 0 && n['type'] !== 'ExternalName' && newIPs.length > 0 && newIPs[0] !== oldIPs[0]) {
    causes.push(field.immutable(index('spec.clusterIPs', 0), newIPs[0]));
  }
  return causes;
}

const needsClusterIP = (spec: Obj): boolean => spec['type'] !== 'ExternalName';
const needsNodePorts = (spec: Obj): boolean => spec['type'] === 'NodePort' || spec['type'] === 'LoadBalancer';
const needsHealthCheck = (spec: Obj): boolean =>
  spec['type'] === 'LoadBalancer' && spec['externalTrafficPolicy'] === 'Local';

function sameJSON(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function nodePortsOf(spec: Obj): unknown[] {
  return objItems(spec['ports']).map(([p]) => p['nodePort'] ?? null);
}

/**
 * Upstream's PrepareForUpdate for Services: keep allocated values an update omits (patchAllocatedValues),
 * then drop the values the new type no longer uses when the update left them as they were
 * (dropTypeDependentFields), so `type: ClusterIP` on a NodePort Service just works and gives its node
 * ports back, and `type: ExternalName` gives the cluster IP back.
 */
function prepareServiceUpdate(newSvc: KubeObject, oldSvc: KubeObject): void {
  const n = asObj(newSvc.spec);
  const o = specOf(oldSvc);
  if (n === undefined) return;
  if (needsClusterIP(o) && needsClusterIP(n)) {
    if (unsetStr(n['clusterIP']) && !unsetStr(o['clusterIP'])) n['clusterIP'] = o['clusterIP'];
    if (
      asArr(n['clusterIPs']).length === 0 &&
      asArr(o['clusterIPs']).length > 0 &&
      n['clusterIP'] === o['clusterIP']
    ) {
      n['clusterIPs'] = [...asArr(o['clusterIPs'])];
    }
  }
  if (needsNodePorts(o) && needsNodePorts(n)) {
    const oldPorts = objItems(o['ports']).map(([p]) => p);
    for (const [p] of objItems(n['ports'])) {
      if (!unset(p['nodePort']) && p['nodePort'] !== 0) continue;
      const match = oldPorts.find(
        (q) => q['port'] === p['port'] && (q['protocol'] ?? 'TCP') === (p['protocol'] ?? 'TCP'),
      );
      if (match !== undefined && !unset(match['nodePort'])) p['nodePort'] = match['nodePort'];
    }
  }
  if (needsHealthCheck(o) && needsHealthCheck(n) && unset(n['healthCheckNodePort']))
    if (!unset(o['healthCheckNodePort'])) n['healthCheckNodePort'] = o['healthCheckNodePort'];

  // dropTypeDependentFields
  if (needsClusterIP(o) && !needsClusterIP(n)) {
    if (sameJSON(n['clusterIP'], o['clusterIP']) && sameJSON(n['clusterIPs'], o['clusterIPs'])) {
      delete n['clusterIP'];
      delete n['clusterIPs'];
    }
    if (sameJSON(n['ipFamilies'], o['ipFamilies'])) delete n['ipFamilies'];
    if (sameJSON(n['ipFamilyPolicy'], o['ipFamilyPolicy'])) delete n['ipFamilyPolicy'];
    if (n['internalTrafficPolicy'] === o['internalTrafficPolicy']) delete n['internalTrafficPolicy'];
  }
  if (needsNodePorts(o) && !needsNodePorts(n) && sameJSON(nodePortsOf(n), nodePortsOf(o))) {
    for (const [p] of objItems(n['ports'])) delete p['nodePort'];
  }
  if (needsHealthCheck(o) && !needsHealthCheck(n) && n['healthCheckNodePort'] === o['healthCheckNodePort'])
    delete n['healthCheckNodePort'];
  if (o['type'] === 'LoadBalancer' && n['type'] !== 'LoadBalancer') {
    if (n['allocateLoadBalancerNodePorts'] === o['allocateLoadBalancerNodePorts'])
      delete n['allocateLoadBalancerNodePorts'];
  }
  if (needsNodePorts(o) && !needsNodePorts(n) && n['externalTrafficPolicy'] === o['externalTrafficPolicy'])
    delete n['externalTrafficPolicy'];
}

export const serviceHandler = defineKind({
  apiVersion: 'v1',
  kind: 'Service',
  validateName: nameIsDNS1035Label,
  defaults: defaultService,
  validate: validateService,
  validateUpdate: validateServiceUpdate,
  prepareUpdate: prepareServiceUpdate,
});
