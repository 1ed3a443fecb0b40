// v1 Pod: defaults (SetDefaults_Pod / PodSpec / Container / Volume / Probe), validation
// (ValidatePodSpec and friends) and the update rule that pod specs are mostly immutable.

import type { StatusCause } from '../errors.js';
import { jsonClone, jsonEqual } from '../patch/json.js';
import { compareQuantities, tryParseQuantity } from '../quantity.js';
import { validateLabelSelector } from '../selectors.js';
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
import {
  inRange,
  nonNegative,
  positive,
  validatePortNum,
  validatePortNumOrName,
  validateQuantityValue,
  validateResourceRequirements,
} from '../validation/common.js';
import { child, field, index, key } from '../validation/field.js';
import { validateAnnotations, validateLabels } from '../validation/metadata.js';
import {
  isConfigMapKey,
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isIP,
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
} from '../validation/names.js';
import { defineKind } from './handler.js';

// ---------------------------------------------------------------------------------------------
// Defaults

/** The tag of an image reference, '' when pinned by digest, 'latest' when none is given. */
export function imageTag(image: string): string {
  if (image.includes('@')) return '';
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  return colon < 0 ? 'latest' : image.slice(colon + 1);
}

function defaultHandler(h: Obj | undefined): void {
  const httpGet = asObj(h?.['httpGet']);
  if (httpGet !== undefined) {
    if (unsetStr(httpGet['path'])) httpGet['path'] = '/';
    if (unsetStr(httpGet['scheme'])) httpGet['scheme'] = 'HTTP';
  }
}

function defaultProbe(p: Obj | undefined): void {
  if (p === undefined) return;
  defaultHandler(p);
  if (unset(p['timeoutSeconds']) || p['timeoutSeconds'] === 0) p['timeoutSeconds'] = 1;
  if (unset(p['periodSeconds']) || p['periodSeconds'] === 0) p['periodSeconds'] = 10;
  if (unset(p['successThreshold']) || p['successThreshold'] === 0) p['successThreshold'] = 1;
  if (unset(p['failureThreshold']) || p['failureThreshold'] === 0) p['failureThreshold'] = 3;
}

function defaultFieldRef(ref: unknown): void {
  const r = asObj(ref);
  if (r !== undefined && unsetStr(r['apiVersion'])) r['apiVersion'] = 'v1';
}

export function defaultContainer(c: Obj, hostNetwork: boolean): void {
  if (unsetStr(c['imagePullPolicy'])) {
    c['imagePullPolicy'] = imageTag(asStr(c['image']) ?? '') === 'latest' ? 'Always' : 'IfNotPresent';
  }
  if (unsetStr(c['terminationMessagePath'])) c['terminationMessagePath'] = '/dev/termination-log';
  if (unsetStr(c['terminationMessagePolicy'])) c['terminationMessagePolicy'] = 'File';
  if (unset(c['resources'])) c['resources'] = {};
  for (const [port] of objItems(c['ports'])) {
    if (unsetStr(port['protocol'])) port['protocol'] = 'TCP';
    if (hostNetwork && (unset(port['hostPort']) || port['hostPort'] === 0))
      port['hostPort'] = port['containerPort'];
  }
  for (const [env] of objItems(c['env'])) defaultFieldRef(asObj(env['valueFrom'])?.['fieldRef']);
  defaultProbe(asObj(c['livenessProbe']));
  defaultProbe(asObj(c['readinessProbe']));
  defaultProbe(asObj(c['startupProbe']));
  const lifecycle = asObj(c['lifecycle']);
  defaultHandler(asObj(lifecycle?.['postStart']));
  defaultHandler(asObj(lifecycle?.['preStop']));
}

const volumeSources = [
  'hostPath',
  'emptyDir',
  'secret',
  'configMap',
  'persistentVolumeClaim',
  'downwardAPI',
  'projected',
  'nfs',
  'image',
  'csi',
  'ephemeral',
] as const;

function defaultVolume(v: Obj): void {
  if (!volumeSources.some((s) => !unset(v[s]))) v['emptyDir'] = {};
  for (const s of ['secret', 'configMap', 'downwardAPI', 'projected'] as const) {
    const src = asObj(v[s]);
    if (src !== undefined && unset(src['defaultMode'])) src['defaultMode'] = 0o644;
  }
  const hostPath = asObj(v['hostPath']);
  if (hostPath !== undefined && unset(hostPath['type'])) hostPath['type'] = '';
  for (const [item] of objItems(asObj(v['downwardAPI'])?.['items'])) defaultFieldRef(item['fieldRef']);
  for (const [src] of objItems(asObj(v['projected'])?.['sources'])) {
    for (const [item] of objItems(asObj(src['downwardAPI'])?.['items'])) defaultFieldRef(item['fieldRef']);
    const token = asObj(src['serviceAccountToken']);
    if (token !== undefined && unset(token['expirationSeconds'])) token['expirationSeconds'] = 3600;
  }
}

/** PodSpec defaults, shared by Pods and pod templates (Deployment, ReplicaSet). In place. */
export function defaultPodSpec(spec: Obj): void {
  if (unsetStr(spec['dnsPolicy'])) spec['dnsPolicy'] = 'ClusterFirst';
  if (unsetStr(spec['restartPolicy'])) spec['restartPolicy'] = 'Always';
  if (unset(spec['terminationGracePeriodSeconds'])) spec['terminationGracePeriodSeconds'] = 30;
  if (unset(spec['securityContext'])) spec['securityContext'] = {};
  if (unsetStr(spec['schedulerName'])) spec['schedulerName'] = 'default-scheduler';
  if (unset(spec['enableServiceLinks'])) spec['enableServiceLinks'] = true;
  // serviceAccount is the deprecated mirror of serviceAccountName; keep them in step.
  const sa = asStr(spec['serviceAccountName']) ?? '';
  const deprecatedSa = asStr(spec['serviceAccount']) ?? '';
  if (sa === '' && deprecatedSa !== '') spec['serviceAccountName'] = deprecatedSa;
  else if (sa !== '' && deprecatedSa === '') spec['serviceAccount'] = sa;
  const hostNetwork = spec['hostNetwork'] === true;
  for (const list of ['containers', 'initContainers', 'ephemeralContainers'] as const) {
    for (const [c] of objItems(spec[list])) defaultContainer(c, hostNetwork);
  }
  for (const [v] of objItems(spec['volumes'])) defaultVolume(v);
}

/** Pod-only defaults: requests default to limits (not for templates), priority as admission sets it. */
function defaultPod(pod: KubeObject): void {
  const spec = ensureObj(pod, 'spec');
  defaultPodSpec(spec);
  for (const list of ['containers', 'initContainers'] as const) {
    for (const [c] of objItems(spec[list])) {
      const resources = asObj(c['resources']);
      const limits = asObj(resources?.['limits']);
      if (resources === undefined || limits === undefined) continue;
      const requests = ensureObj(resources, 'requests');
      for (const [name, q] of Object.entries(limits)) if (unset(requests[name])) requests[name] = q;
    }
  }
  if (unset(spec['priority']) && unsetStr(spec['priorityClassName'])) spec['priority'] = 0;
  if (unsetStr(spec['preemptionPolicy'])) spec['preemptionPolicy'] = 'PreemptLowerPriority';
}

/** Guaranteed / Burstable / BestEffort, as upstream's GetPodQOS (the apiserver sets status.qosClass). */
export function podQosClass(spec: unknown): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const s = asObj(spec) ?? {};
  const containers = [...objItems(s['containers']), ...objItems(s['initContainers'])].map(([c]) => c);
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const res = asObj(c['resources']) ?? {};
    const limits = asObj(res['limits']) ?? {};
    const requests = { ...limits, ...(asObj(res['requests']) ?? {}) };
    for (const name of ['cpu', 'memory']) {
      const r = tryParseQuantity(requests[name]);
      const l = tryParseQuantity(limits[name]);
      if ((r !== undefined && r.nanos !== 0n) || (l !== undefined && l.nanos !== 0n)) any = true;
      if (l === undefined || r === undefined || compareQuantities(r, l) !== 0) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

// ---------------------------------------------------------------------------------------------
// Validation

function namesErrors(value: string, path: string, check: (s: string) => string[]): StatusCause[] {
  return check(value).map((m) => field.invalid(path, value, m));
}

function validateRelativePath(p: string, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (p.startsWith('/')) causes.push(field.invalid(path, p, 'must be a relative path'));
  if (p.split('/').includes('..')) causes.push(field.invalid(path, p, "must not contain '..'"));
  return causes;
}

const supportedFieldPaths = [
  'metadata.annotations',
  'metadata.labels',
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
];
const supportedResourceFields = [
  'limits.cpu',
  'limits.ephemeral-storage',
  'limits.memory',
  'requests.cpu',
  'requests.ephemeral-storage',
  'requests.memory',
];

function validateFieldRef(ref: Obj, path: string, allowed = supportedFieldPaths): StatusCause[] {
  const fp = asStr(ref['fieldPath']) ?? '';
  if (fp === '') return [field.required(child(path, 'fieldPath'))];
  const subscript = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fp);
  if (subscript !== null) {
    const k = subscript[2] ?? '';
    return isQualifiedName(k.toLowerCase()).map((m) => field.invalid(child(path, 'fieldPath'), fp, m));
  }
  return allowed.includes(fp) ? [] : [field.notSupported(child(path, 'fieldPath'), fp, allowed)];
}

function validateResourceFieldRef(ref: Obj, path: string): StatusCause[] {
  const r = asStr(ref['resource']) ?? '';
  if (r === '') return [field.required(child(path, 'resource'))];
  if (supportedResourceFields.includes(r) || /^(limits|requests)\.hugepages-/.test(r)) {
    return validateQuantityValue(ref['divisor'], child(path, 'divisor'));
  }
  return [field.notSupported(child(path, 'resource'), r, supportedResourceFields)];
}

function validateKeySelector(sel: Obj, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const name = asStr(sel['name']) ?? '';
  if (name === '') causes.push(field.required(child(path, 'name')));
  const k = asStr(sel['key']) ?? '';
  if (k === '') causes.push(field.required(child(path, 'key')));
  else causes.push(...namesErrors(k, child(path, 'key'), isConfigMapKey));
  return causes;
}

function validateEnv(env: unknown, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [e, i] of objItems(env)) {
    const p = index(path, i);
    const name = asStr(e['name']) ?? '';
    if (name === '') causes.push(field.required(child(p, 'name')));
    else causes.push(...namesErrors(name, child(p, 'name'), isEnvVarName));
    const from = asObj(e['valueFrom']);
    if (from === undefined) continue;
    const vp = child(p, 'valueFrom');
    const sources = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef', 'fileKeyRef'].filter(
      (s) => !unset(from[s]),
    );
    if ((asStr(e['value']) ?? '') !== '' && sources.length > 0) {
      causes.push(field.invalid(vp, '', 'may not be specified when `value` is not empty'));
    }
    if (sources.length === 0)
      causes.push(
        field.invalid(
          vp,
          '',
          'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
        ),
      );
    else if (sources.length > 1)
      causes.push(field.invalid(vp, '', 'may not have more than one field specified at a time'));
    const fieldRef = asObj(from['fieldRef']);
    if (fieldRef !== undefined) causes.push(...validateFieldRef(fieldRef, child(vp, 'fieldRef')));
    const resRef = asObj(from['resourceFieldRef']);
    if (resRef !== undefined) causes.push(...validateResourceFieldRef(resRef, child(vp, 'resourceFieldRef')));
    for (const s of ['configMapKeyRef', 'secretKeyRef'] as const) {
      const ref = asObj(from[s]);
      if (ref !== undefined) causes.push(...validateKeySelector(ref, child(vp, s)));
    }
  }
  return causes;
}

function validateEnvFrom(envFrom: unknown, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [e, i] of objItems(envFrom)) {
    const p = index(path, i);
    const prefix = asStr(e['prefix']) ?? '';
    if (prefix !== '') causes.push(...namesErrors(prefix, child(p, 'prefix'), isEnvVarName));
    const refs = (['configMapRef', 'secretRef'] as const).filter((s) => !unset(e[s]));
    if (refs.length === 0)
      causes.push(field.invalid(p, '', 'must specify one of: `configMapRef` or `secretRef`'));
    if (refs.length > 1)
      causes.push(field.invalid(p, '', 'may not have more than one field specified at a time'));
    for (const r of refs) {
      const name = asStr(asObj(e[r])?.['name']) ?? '';
      if (name === '') causes.push(field.required(child(child(p, r), 'name')));
      else causes.push(...namesErrors(name, child(child(p, r), 'name'), isDNS1123Subdomain));
    }
  }
  return causes;
}

const handlerTypes = ['exec', 'httpGet', 'tcpSocket', 'grpc'] as const;

function validateHandler(h: Obj, path: string, types: readonly string[]): StatusCause[] {
  const causes: StatusCause[] = [];
  const present = types.filter((t) => !unset(h[t]));
  if (present.length === 0) return [field.required(path, 'must specify a handler type')];
  for (const extra of present.slice(1))
    causes.push(field.forbidden(child(path, extra), 'may not specify more than 1 handler type'));
  const exec = asObj(h['exec']);
  if (exec !== undefined && asArr(exec['command']).length === 0)
    causes.push(field.required(child(child(path, 'exec'), 'command')));
  const httpGet = asObj(h['httpGet']);
  if (httpGet !== undefined) {
    causes.push(...validatePortNumOrName(httpGet['port'] ?? '', child(child(path, 'httpGet'), 'port')));
    for (const [hdr, i] of objItems(httpGet['httpHeaders'])) {
      const n = asStr(hdr['name']) ?? '';
      if (!/^[-A-Za-z0-9!#$%&'*+.^_`|~]+$/.test(n)) {
        causes.push(
          field.invalid(
            child(index(child(child(path, 'httpGet'), 'httpHeaders'), i), 'name'),
            n,
            "a valid HTTP header must consist of alphanumeric characters or '-'",
          ),
        );
      }
    }
  }
  const tcp = asObj(h['tcpSocket']);
  if (tcp !== undefined)
    causes.push(...validatePortNumOrName(tcp['port'] ?? '', child(child(path, 'tcpSocket'), 'port')));
  const grpc = asObj(h['grpc']);
  if (grpc !== undefined) causes.push(...validatePortNum(grpc['port'], child(child(path, 'grpc'), 'port')));
  const sleep = asObj(h['sleep']);
  if (sleep !== undefined)
    causes.push(...nonNegative(sleep['seconds'], child(child(path, 'sleep'), 'seconds')));
  return causes;
}

type ProbeKind = 'livenessProbe' | 'readinessProbe' | 'startupProbe';

function validateProbe(p: Obj, path: string, which: ProbeKind): StatusCause[] {
  const causes = validateHandler(p, path, handlerTypes);
  for (const f of [
    'initialDelaySeconds',
    'timeoutSeconds',
    'periodSeconds',
    'successThreshold',
    'failureThreshold',
  ] as const) {
    causes.push(...nonNegative(p[f], child(path, f)));
  }
  const success = asNum(p['successThreshold']);
  if (which !== 'readinessProbe' && success !== undefined && success !== 1) {
    causes.push(field.invalid(child(path, 'successThreshold'), success, 'must be 1'));
  }
  const grace = asNum(p['terminationGracePeriodSeconds']);
  if (grace !== undefined) {
    if (which === 'readinessProbe')
      causes.push(
        field.invalid(
          child(path, 'terminationGracePeriodSeconds'),
          grace,
          'must not be set for readinessProbes',
        ),
      );
    else causes.push(...positive(grace, child(path, 'terminationGracePeriodSeconds')));
  }
  return causes;
}

interface ContainerContext {
  volumes: Set<string>;
  names: Set<string>;
  portNames: Set<string>;
  hostPorts: Set<string>;
  hostNetwork: boolean;
}

function validateContainer(
  c: Obj,
  path: string,
  ctx: ContainerContext,
  kind: 'container' | 'init' | 'ephemeral',
): StatusCause[] {
  const causes: StatusCause[] = [];
  const name = asStr(c['name']) ?? '';
  if (name === '') causes.push(field.required(child(path, 'name')));
  else {
    causes.push(...namesErrors(name, child(path, 'name'), isDNS1123Label));
    if (ctx.names.has(name)) causes.push(field.duplicate(child(path, 'name'), name));
    ctx.names.add(name);
  }
  const image = asStr(c['image']);
  if (image === undefined || image === '') causes.push(field.required(child(path, 'image')));
  else if (image.trim() !== image)
    causes.push(field.invalid(child(path, 'image'), image, 'must not have leading or trailing whitespace'));
  if (unsetStr(c['imagePullPolicy'])) causes.push(field.required(child(path, 'imagePullPolicy')));
  if (unsetStr(c['terminationMessagePolicy']))
    causes.push(field.required(child(path, 'terminationMessagePolicy')));

  for (const [port, i] of objItems(c['ports'])) {
    const p = index(child(path, 'ports'), i);
    causes.push(...validatePortNum(port['containerPort'], child(p, 'containerPort')));
    const hostPort = asNum(port['hostPort']);
    if (hostPort !== undefined && hostPort !== 0) {
      causes.push(...validatePortNum(hostPort, child(p, 'hostPort')));
      if (ctx.hostNetwork && hostPort !== port['containerPort']) {
        causes.push(
          field.invalid(
            child(p, 'hostPort'),
            hostPort,
            'must match `containerPort` when `hostNetwork` is true',
          ),
        );
      }
      const proto = asStr(port['protocol']) ?? 'TCP';
      const id = `${asStr(port['hostIP']) ?? ''}/${hostPort}/${proto}`;
      if (ctx.hostPorts.has(id)) causes.push(field.duplicate(child(p, 'hostPort'), `${hostPort}/${proto}`));
      ctx.hostPorts.add(id);
    }
    const pn = asStr(port['name']) ?? '';
    if (pn !== '') {
      causes.push(...namesErrors(pn, child(p, 'name'), isValidPortName));
      if (ctx.portNames.has(pn)) causes.push(field.duplicate(child(p, 'name'), pn));
      ctx.portNames.add(pn);
    }
    if (unsetStr(port['protocol'])) causes.push(field.required(child(p, 'protocol')));
    const hostIP = asStr(port['hostIP']) ?? '';
    if (hostIP !== '' && !isIP(hostIP))
      causes.push(field.invalid(child(p, 'hostIP'), hostIP, 'must be a valid IP address'));
  }

  causes.push(...validateEnv(c['env'], child(path, 'env')));
  causes.push(...validateEnvFrom(c['envFrom'], child(path, 'envFrom')));
  causes.push(...validateResourceRequirements(c['resources'], child(path, 'resources')));

  const mountPaths = new Set<string>();
  for (const [m, i] of objItems(c['volumeMounts'])) {
    const p = index(child(path, 'volumeMounts'), i);
    const vname = asStr(m['name']) ?? '';
    if (vname === '') causes.push(field.required(child(p, 'name')));
    else if (!ctx.volumes.has(vname)) causes.push(field.notFound(child(p, 'name'), vname));
    const mp = asStr(m['mountPath']) ?? '';
    if (mp === '') causes.push(field.required(child(p, 'mountPath')));
    else {
      if (mountPaths.has(mp)) causes.push(field.invalid(child(p, 'mountPath'), mp, 'must be unique'));
      mountPaths.add(mp);
    }
    const sub = asStr(m['subPath']) ?? '';
    if (sub !== '') causes.push(...validateRelativePath(sub, child(p, 'subPath')));
    if (sub !== '' && (asStr(m['subPathExpr']) ?? '') !== '') {
      causes.push(
        field.invalid(
          child(p, 'subPathExpr'),
          m['subPathExpr'],
          'subPathExpr and subPath are mutually exclusive',
        ),
      );
    }
  }

  const sidecar = kind === 'init' && c['restartPolicy'] === 'Always';
  for (const which of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    const probe = asObj(c[which]);
    if (probe === undefined) continue;
    if ((kind === 'init' && !sidecar) || kind === 'ephemeral') {
      causes.push(
        field.forbidden(
          child(path, which),
          kind === 'init'
            ? 'may not be set for init containers without restartPolicy=Always'
            : 'cannot be set for an Ephemeral Container',
        ),
      );
      continue;
    }
    causes.push(...validateProbe(probe, child(path, which), which));
  }
  const lifecycle = asObj(c['lifecycle']);
  if (lifecycle !== undefined) {
    if (kind === 'init' && !sidecar)
      causes.push(
        field.forbidden(
          child(path, 'lifecycle'),
          'may not be set for init containers without restartPolicy=Always',
        ),
      );
    for (const hook of ['postStart', 'preStop'] as const) {
      const h = asObj(lifecycle[hook]);
      if (h !== undefined)
        causes.push(
          ...validateHandler(h, child(child(path, 'lifecycle'), hook), [
            'exec',
            'httpGet',
            'tcpSocket',
            'sleep',
          ]),
        );
    }
  }
  if (kind !== 'init' && !unset(c['restartPolicy'])) {
    causes.push(field.forbidden(child(path, 'restartPolicy'), 'may not be set for non-init containers'));
  }
  return causes;
}

function validateKeyToPaths(items: unknown, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [it, i] of objItems(items)) {
    const p = index(path, i);
    const k = asStr(it['key']) ?? '';
    if (k === '') causes.push(field.required(child(p, 'key')));
    const ip = asStr(it['path']) ?? '';
    if (ip === '') causes.push(field.required(child(p, 'path')));
    else causes.push(...validateRelativePath(ip, child(p, 'path')));
    causes.push(...validateMode(it['mode'], child(p, 'mode')));
  }
  return causes;
}

function validateMode(mode: unknown, path: string): StatusCause[] {
  return typeof mode === 'number' && (mode < 0 || mode > 0o777)
    ? [field.invalid(path, mode, 'must be a number between 0 and 0777 (octal), both inclusive')]
    : [];
}

function validateDownwardAPIItems(items: unknown, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [it, i] of objItems(items)) {
    const p = index(path, i);
    const ip = asStr(it['path']) ?? '';
    if (ip === '') causes.push(field.required(child(p, 'path')));
    else causes.push(...validateRelativePath(ip, child(p, 'path')));
    const fr = asObj(it['fieldRef']);
    const rr = asObj(it['resourceFieldRef']);
    if (fr !== undefined && rr !== undefined)
      causes.push(
        field.invalid(p, 'resource', 'fieldRef and resourceFieldRef can not be specified simultaneously'),
      );
    if (fr === undefined && rr === undefined)
      causes.push(field.required(p, 'one of fieldRef and resourceFieldRef is required'));
    if (fr !== undefined) {
      causes.push(
        ...validateFieldRef(fr, child(p, 'fieldRef'), [
          'metadata.annotations',
          'metadata.labels',
          'metadata.name',
          'metadata.namespace',
          'metadata.uid',
        ]),
      );
    }
    if (rr !== undefined) causes.push(...validateResourceFieldRef(rr, child(p, 'resourceFieldRef')));
    causes.push(...validateMode(it['mode'], child(p, 'mode')));
  }
  return causes;
}

function validateVolumes(volumes: unknown, path: string): { causes: StatusCause[]; names: Set<string> } {
  const causes: StatusCause[] = [];
  const names = new Set<string>();
  for (const [v, i] of objItems(volumes)) {
    const p = index(path, i);
    const name = asStr(v['name']) ?? '';
    if (name === '') causes.push(field.required(child(p, 'name')));
    else {
      causes.push(...namesErrors(name, child(p, 'name'), isDNS1123Label));
      if (names.has(name)) causes.push(field.duplicate(child(p, 'name'), name));
      names.add(name);
    }
    const present = volumeSources.filter((s) => !unset(v[s]));
    if (present.length === 0) causes.push(field.required(p, 'must specify a volume type'));
    for (const extra of present.slice(1))
      causes.push(field.forbidden(child(p, extra), 'may not specify more than 1 volume type'));

    const hostPath = asObj(v['hostPath']);
    if (hostPath !== undefined && (asStr(hostPath['path']) ?? '') === '')
      causes.push(field.required(child(child(p, 'hostPath'), 'path')));
    const emptyDir = asObj(v['emptyDir']);
    if (emptyDir !== undefined)
      causes.push(...validateQuantityValue(emptyDir['sizeLimit'], child(child(p, 'emptyDir'), 'sizeLimit')));
    const secret = asObj(v['secret']);
    if (secret !== undefined) {
      const sn = asStr(secret['secretName']) ?? '';
      if (sn === '') causes.push(field.required(child(child(p, 'secret'), 'secretName')));
      else causes.push(...namesErrors(sn, child(child(p, 'secret'), 'secretName'), isDNS1123Subdomain));
      causes.push(...validateKeyToPaths(secret['items'], child(child(p, 'secret'), 'items')));
      causes.push(...validateMode(secret['defaultMode'], child(child(p, 'secret'), 'defaultMode')));
    }
    const cm = asObj(v['configMap']);
    if (cm !== undefined) {
      const cn = asStr(cm['name']) ?? '';
      if (cn === '') causes.push(field.required(child(child(p, 'configMap'), 'name')));
      else causes.push(...namesErrors(cn, child(child(p, 'configMap'), 'name'), isDNS1123Subdomain));
      causes.push(...validateKeyToPaths(cm['items'], child(child(p, 'configMap'), 'items')));
      causes.push(...validateMode(cm['defaultMode'], child(child(p, 'configMap'), 'defaultMode')));
    }
    const pvc = asObj(v['persistentVolumeClaim']);
    if (pvc !== undefined && (asStr(pvc['claimName']) ?? '') === '') {
      causes.push(field.required(child(child(p, 'persistentVolumeClaim'), 'claimName')));
    }
    const dapi = asObj(v['downwardAPI']);
    if (dapi !== undefined) {
      causes.push(...validateDownwardAPIItems(dapi['items'], child(child(p, 'downwardAPI'), 'items')));
      causes.push(...validateMode(dapi['defaultMode'], child(child(p, 'downwardAPI'), 'defaultMode')));
    }
    const projected = asObj(v['projected']);
    if (projected !== undefined) {
      const pp = child(p, 'projected');
      causes.push(...validateMode(projected['defaultMode'], child(pp, 'defaultMode')));
      for (const [src, j] of objItems(projected['sources'])) {
        const sp = index(child(pp, 'sources'), j);
        const kinds = [
          'secret',
          'configMap',
          'downwardAPI',
          'serviceAccountToken',
          'clusterTrustBundle',
          'podCertificate',
        ].filter((k) => !unset(src[k]));
        if (kinds.length === 0)
          causes.push(
            field.required(
              sp,
              'must specify exactly 1 of: secret, configMap, downwardAPI, serviceAccountToken',
            ),
          );
        for (const extra of kinds.slice(1))
          causes.push(
            field.forbidden(child(sp, extra), 'may not specify more than 1 volume type per source'),
          );
        for (const k of ['secret', 'configMap'] as const) {
          const s = asObj(src[k]);
          if (s !== undefined) causes.push(...validateKeyToPaths(s['items'], child(child(sp, k), 'items')));
        }
        const d = asObj(src['downwardAPI']);
        if (d !== undefined)
          causes.push(...validateDownwardAPIItems(d['items'], child(child(sp, 'downwardAPI'), 'items')));
        const t = asObj(src['serviceAccountToken']);
        if (t !== undefined) {
          const tp = asStr(t['path']) ?? '';
          if (tp === '') causes.push(field.required(child(child(sp, 'serviceAccountToken'), 'path')));
          else causes.push(...validateRelativePath(tp, child(child(sp, 'serviceAccountToken'), 'path')));
          const exp = asNum(t['expirationSeconds']);
          if (exp !== undefined && exp < 600)
            causes.push(
              field.invalid(
                child(child(sp, 'serviceAccountToken'), 'expirationSeconds'),
                exp,
                'may not specify a duration less than 10 minutes',
              ),
            );
        }
      }
    }
  }
  return { causes, names };
}

function validateNodeSelectorTerm(term: Obj, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [req, i] of objItems(term['matchExpressions'])) {
    const p = index(child(path, 'matchExpressions'), i);
    const k = asStr(req['key']) ?? '';
    if (k === '') causes.push(field.required(child(p, 'key')));
    else causes.push(...namesErrors(k, child(p, 'key'), isQualifiedName));
    const values = asArr(req['values']);
    switch (req['operator']) {
      case 'In':
      case 'NotIn':
        if (values.length === 0)
          causes.push(
            field.required(child(p, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"),
          );
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0)
          causes.push(
            field.forbidden(
              child(p, 'values'),
              "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
          );
        break;
      case 'Gt':
      case 'Lt':
        if (values.length !== 1 || !/^-?\d+$/.test(String(values[0]))) {
          causes.push(
            field.required(
              child(p, 'values'),
              "must be specified single value when `operator` is 'Lt' or 'Gt'",
            ),
          );
        }
        break;
      default:
        break; // enum check reports unknown operators
    }
    values.forEach((v, j) => {
      if (typeof v === 'string')
        causes.push(...namesErrors(v, index(child(p, 'values'), j), isValidLabelValue));
    });
  }
  for (const [req, i] of objItems(term['matchFields'])) {
    const p = index(child(path, 'matchFields'), i);
    if (req['key'] !== 'metadata.name')
      causes.push(field.notSupported(child(p, 'key'), req['key'], ['metadata.name']));
    if ((req['operator'] === 'In' || req['operator'] === 'NotIn') && asArr(req['values']).length !== 1) {
      causes.push(
        field.required(
          child(p, 'values'),
          "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
        ),
      );
    }
  }
  return causes;
}

function validatePodAffinityTerm(term: Obj, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const tk = asStr(term['topologyKey']) ?? '';
  if (tk === '') causes.push(field.required(child(path, 'topologyKey'), 'can not be empty'));
  else causes.push(...namesErrors(tk, child(path, 'topologyKey'), isQualifiedName));
  causes.push(...validateLabelSelector(term['labelSelector'], child(path, 'labelSelector')));
  causes.push(...validateLabelSelector(term['namespaceSelector'], child(path, 'namespaceSelector')));
  asArr(term['namespaces']).forEach((ns, i) => {
    if (typeof ns === 'string')
      causes.push(...namesErrors(ns, index(child(path, 'namespaces'), i), isDNS1123Label));
  });
  return causes;
}

function validateWeight(w: unknown, path: string): StatusCause[] {
  return typeof w === 'number' && (w < 1 || w > 100)
    ? [field.invalid(path, w, 'must be in the range 1-100')]
    : [];
}

function validateAffinity(affinity: unknown, path: string): StatusCause[] {
  const a = asObj(affinity);
  if (a === undefined) return [];
  const causes: StatusCause[] = [];
  const na = asObj(a['nodeAffinity']);
  if (na !== undefined) {
    const np = child(path, 'nodeAffinity');
    const req = asObj(na['requiredDuringSchedulingIgnoredDuringExecution']);
    if (req !== undefined) {
      const rp = child(np, 'requiredDuringSchedulingIgnoredDuringExecution');
      const terms = objItems(req['nodeSelectorTerms']);
      if (terms.length === 0)
        causes.push(
          field.required(child(rp, 'nodeSelectorTerms'), 'must have at least one node selector term'),
        );
      for (const [t, i] of terms)
        causes.push(...validateNodeSelectorTerm(t, index(child(rp, 'nodeSelectorTerms'), i)));
    }
    for (const [pref, i] of objItems(na['preferredDuringSchedulingIgnoredDuringExecution'])) {
      const pp = index(child(np, 'preferredDuringSchedulingIgnoredDuringExecution'), i);
      causes.push(...validateWeight(pref['weight'], child(pp, 'weight')));
      const t = asObj(pref['preference']);
      if (t !== undefined) causes.push(...validateNodeSelectorTerm(t, child(pp, 'preference')));
    }
  }
  for (const which of ['podAffinity', 'podAntiAffinity'] as const) {
    const pa = asObj(a[which]);
    if (pa === undefined) continue;
    const pp = child(path, which);
    for (const [t, i] of objItems(pa['requiredDuringSchedulingIgnoredDuringExecution'])) {
      causes.push(
        ...validatePodAffinityTerm(t, index(child(pp, 'requiredDuringSchedulingIgnoredDuringExecution'), i)),
      );
    }
    for (const [w, i] of objItems(pa['preferredDuringSchedulingIgnoredDuringExecution'])) {
      const wp = index(child(pp, 'preferredDuringSchedulingIgnoredDuringExecution'), i);
      causes.push(...validateWeight(w['weight'], child(wp, 'weight')));
      const t = asObj(w['podAffinityTerm']);
      if (t === undefined) causes.push(field.required(child(wp, 'podAffinityTerm')));
      else causes.push(...validatePodAffinityTerm(t, child(wp, 'podAffinityTerm')));
    }
  }
  return causes;
}

export function validateTolerations(tolerations: unknown, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [t, i] of objItems(tolerations)) {
    const p = index(path, i);
    const k = asStr(t['key']) ?? '';
    if (k !== '') causes.push(...namesErrors(k, child(p, 'key'), isQualifiedName));
    const op = asStr(t['operator']) ?? 'Equal';
    if (k === '' && op !== 'Exists') {
      causes.push(
        field.invalid(
          child(p, 'operator'),
          op,
          'operator must be Exists when `key` is empty, which means "match all values and all keys"',
        ),
      );
    }
    const value = asStr(t['value']) ?? '';
    if (op === 'Exists' && value !== '')
      causes.push(
        field.invalid(child(p, 'operator'), t['operator'], "value must be empty when `operator` is 'Exists'"),
      );
    if (op === 'Equal') causes.push(...namesErrors(value, child(p, 'value'), isValidLabelValue));
    if (
      t['tolerationSeconds'] !== undefined &&
      t['tolerationSeconds'] !== null &&
      t['effect'] !== 'NoExecute'
    ) {
      causes.push(
        field.invalid(
          child(p, 'effect'),
          t['effect'] ?? '',
          "effect must be 'NoExecute' when `tolerationSeconds` is set",
        ),
      );
    }
  }
  return causes;
}

function validateTopologySpread(constraints: unknown, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const seen = new Set<string>();
  for (const [c, i] of objItems(constraints)) {
    const p = index(path, i);
    const skew = asNum(c['maxSkew']);
    if (skew === undefined) causes.push(field.required(child(p, 'maxSkew')));
    else causes.push(...positive(skew, child(p, 'maxSkew'), 'must be greater than zero'));
    const tk = asStr(c['topologyKey']) ?? '';
    if (tk === '') causes.push(field.required(child(p, 'topologyKey'), 'can not be empty'));
    else causes.push(...namesErrors(tk, child(p, 'topologyKey'), isQualifiedName));
    const when = asStr(c['whenUnsatisfiable']) ?? '';
    if (when === '') causes.push(field.required(child(p, 'whenUnsatisfiable')));
    const id = `{${tk}, ${when}}`;
    if (seen.has(id)) causes.push(field.duplicate(p, id));
    seen.add(id);
    const minDomains = asNum(c['minDomains']);
    if (minDomains !== undefined) {
      causes.push(...positive(minDomains, child(p, 'minDomains'), 'must be greater than 0'));
      if (when !== 'DoNotSchedule') {
        causes.push(
          field.invalid(
            child(p, 'minDomains'),
            minDomains,
            `can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ${when}`,
          ),
        );
      }
    }
    causes.push(...validateLabelSelector(c['labelSelector'], child(p, 'labelSelector')));
  }
  return causes;
}

function validateDNSConfig(spec: Obj, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const cfg = asObj(spec['dnsConfig']);
  if (spec['dnsPolicy'] === 'None' && cfg === undefined) {
    causes.push(
      field.required(child(path, 'dnsConfig'), 'must provide `dnsConfig` when `dnsPolicy` is None'),
    );
  }
  if (cfg === undefined) return causes;
  const cp = child(path, 'dnsConfig');
  const ns = asArr(cfg['nameservers']);
  if (spec['dnsPolicy'] === 'None' && ns.length === 0)
    causes.push(
      field.required(
        child(cp, 'nameservers'),
        'must provide at least one DNS nameserver when `dnsPolicy` is None',
      ),
    );
  if (ns.length > 3)
    causes.push(field.invalid(child(cp, 'nameservers'), ns, 'must not have more than 3 nameservers'));
  ns.forEach((n, i) => {
    if (typeof n === 'string' && !isIP(n))
      causes.push(field.invalid(index(child(cp, 'nameservers'), i), n, 'must be valid IP address'));
  });
  const searches = asArr(cfg['searches']);
  if (searches.length > 32)
    causes.push(field.invalid(child(cp, 'searches'), searches, 'must not have more than 32 search paths'));
  searches.forEach((s, i) => {
    if (typeof s === 'string' && s !== '.')
      causes.push(...namesErrors(s.replace(/\.$/, ''), index(child(cp, 'searches'), i), isDNS1123Subdomain));
  });
  for (const [o, i] of objItems(cfg['options'])) {
    if ((asStr(o['name']) ?? '') === '')
      causes.push(field.required(child(index(child(cp, 'options'), i), 'name'), 'must not be empty'));
  }
  return causes;
}

/** Every problem in a PodSpec at `path` (`spec`, `spec.template.spec`). */
export function validatePodSpec(specValue: unknown, path: string): StatusCause[] {
  const spec = asObj(specValue);
  if (spec === undefined) return [field.required(path)];
  const causes: StatusCause[] = [];
  const { causes: volCauses, names: volumes } = validateVolumes(spec['volumes'], child(path, 'volumes'));
  causes.push(...volCauses);

  const ctx: ContainerContext = {
    volumes,
    names: new Set(),
    portNames: new Set(),
    hostPorts: new Set(),
    hostNetwork: spec['hostNetwork'] === true,
  };
  for (const [c, i] of objItems(spec['initContainers'])) {
    causes.push(...validateContainer(c, index(child(path, 'initContainers'), i), ctx, 'init'));
  }
  const containers = objItems(spec['containers']);
  if (containers.length === 0) causes.push(field.required(child(path, 'containers')));
  for (const [c, i] of containers)
    causes.push(...validateContainer(c, index(child(path, 'containers'), i), ctx, 'container'));
  for (const [c, i] of objItems(spec['ephemeralContainers'])) {
    causes.push(...validateContainer(c, index(child(path, 'ephemeralContainers'), i), ctx, 'ephemeral'));
  }

  if (unsetStr(spec['restartPolicy'])) causes.push(field.required(child(path, 'restartPolicy')));
  if (unsetStr(spec['dnsPolicy'])) causes.push(field.required(child(path, 'dnsPolicy')));
  causes.push(...validateDNSConfig(spec, path));
  causes.push(
    ...nonNegative(spec['terminationGracePeriodSeconds'], child(path, 'terminationGracePeriodSeconds')),
  );
  const ads = asNum(spec['activeDeadlineSeconds']);
  if (ads !== undefined) causes.push(...inRange(ads, child(path, 'activeDeadlineSeconds'), 1, 2147483647));
  causes.push(...validateLabels(spec['nodeSelector'], child(path, 'nodeSelector')));
  for (const f of [
    'nodeName',
    'serviceAccountName',
    'serviceAccount',
    'priorityClassName',
    'runtimeClassName',
  ] as const) {
    const v = asStr(spec[f]) ?? '';
    if (v !== '') causes.push(...namesErrors(v, child(path, f), isDNS1123Subdomain));
  }
  for (const f of ['hostname', 'subdomain'] as const) {
    const v = asStr(spec[f]) ?? '';
    if (v !== '') causes.push(...namesErrors(v, child(path, f), isDNS1123Label));
  }
  causes.push(...validateAffinity(spec['affinity'], child(path, 'affinity')));
  causes.push(...validateTolerations(spec['tolerations'], child(path, 'tolerations')));
  causes.push(
    ...validateTopologySpread(spec['topologySpreadConstraints'], child(path, 'topologySpreadConstraints')),
  );
  for (const [h, i] of objItems(spec['hostAliases'])) {
    const p = index(child(path, 'hostAliases'), i);
    const ip = asStr(h['ip']) ?? '';
    if (!isIP(ip)) causes.push(field.invalid(child(p, 'ip'), ip, 'must be valid IP address'));
    asArr(h['hostnames']).forEach((hn, j) => {
      if (typeof hn === 'string')
        causes.push(...namesErrors(hn, index(child(p, 'hostnames'), j), isDNS1123Subdomain));
    });
  }
  for (const [g, i] of objItems(spec['readinessGates'])) {
    const ct = asStr(g['conditionType']) ?? '';
    causes.push(
      ...namesErrors(ct, child(index(child(path, 'readinessGates'), i), 'conditionType'), isQualifiedName),
    );
  }
  for (const [s, i] of objItems(spec['imagePullSecrets'])) {
    if ((asStr(s['name']) ?? '') === '')
      causes.push(field.required(child(index(child(path, 'imagePullSecrets'), i), 'name')));
  }
  const overhead = asObj(spec['overhead']);
  if (overhead !== undefined) {
    for (const [name, q] of Object.entries(overhead))
      causes.push(...validateQuantityValue(q, key(child(path, 'overhead'), name)));
  }
  const sc = asObj(spec['securityContext']);
  if (sc !== undefined) {
    for (const f of ['runAsUser', 'runAsGroup', 'fsGroup'] as const) {
      causes.push(...inRange(sc[f], child(child(path, 'securityContext'), f), 0, 2147483647));
    }
  }
  return causes;
}

/** A pod template (Deployment, ReplicaSet): labels, annotations and the spec. */
export function validatePodTemplateSpec(template: unknown, path: string): StatusCause[] {
  const t = asObj(template);
  if (t === undefined) return [field.required(path)];
  const meta = asObj(t['metadata']) ?? {};
  return [
    ...validateLabels(meta['labels'], child(child(path, 'metadata'), 'labels')),
    ...validateAnnotations(meta['annotations'], child(child(path, 'metadata'), 'annotations')),
    ...validatePodSpec(t['spec'], child(path, 'spec')),
  ];
}

// ---------------------------------------------------------------------------------------------
// Update

export const podUpdateForbiddenMessage =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/** Paths under `path` where a and b differ (for the Forbidden message). */
function diffPaths(a: unknown, b: unknown, path: string, out: string[]): void {
  if (jsonEqual(a, b)) return;
  const ao = asObj(a);
  const bo = asObj(b);
  if (ao !== undefined && bo !== undefined) {
    for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)]))
      diffPaths(ao[k], bo[k], child(path, k), out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((x: unknown, i) => diffPaths(x, b[i], index(path, i), out));
    return;
  }
  out.push(path);
}

function validatePodSpecUpdate(newSpecValue: unknown, oldSpecValue: unknown): StatusCause[] {
  const causes: StatusCause[] = [];
  const newSpec = asObj(newSpecValue) ?? {};
  const oldSpec = asObj(oldSpecValue) ?? {};

  const newAds = asNum(newSpec['activeDeadlineSeconds']);
  const oldAds = asNum(oldSpec['activeDeadlineSeconds']);
  if (newAds === undefined && oldAds !== undefined) {
    causes.push(
      field.invalid(
        'spec.activeDeadlineSeconds',
        null,
        'must not update from a positive integer to nil value',
      ),
    );
  } else if (newAds !== undefined && oldAds !== undefined && newAds > oldAds) {
    causes.push(
      field.invalid('spec.activeDeadlineSeconds', newAds, 'must be less than or equal to previous value'),
    );
  }

  // Tolerations may only be added to (NoExecute tolerationSeconds may be shortened).
  const oldTolerations = asArr(oldSpec['tolerations']);
  const newTolerations = asArr(newSpec['tolerations']);
  const sameExceptSeconds = (a: unknown, b: unknown): boolean => {
    const ao = { ...(asObj(a) ?? {}) };
    const bo = { ...(asObj(b) ?? {}) };
    delete ao['tolerationSeconds'];
    delete bo['tolerationSeconds'];
    return jsonEqual(ao, bo);
  };
  const tolerationsOk = oldTolerations.every((o) =>
    newTolerations.some((n) => jsonEqual(n, o) || sameExceptSeconds(n, o)),
  );
  if (!tolerationsOk)
    causes.push(
      field.forbidden(
        'spec.tolerations',
        'existing toleration can not be modified except its tolerationSeconds',
      ),
    );

  // Everything else must match once the mutable fields are copied over.
  const mutable = jsonClone(newSpec);
  const images = (spec: Obj, list: string): void => {
    const olds = asArr(oldSpec[list]);
    asArr(spec[list]).forEach((c, i) => {
      const co = asObj(c);
      const oo = asObj(olds[i]);
      if (co !== undefined && oo !== undefined) {
        if (oo['image'] === undefined) delete co['image'];
        else co['image'] = oo['image'];
      }
    });
  };
  images(mutable, 'containers');
  images(mutable, 'initContainers');
  for (const f of ['activeDeadlineSeconds', 'tolerations'] as const) {
    if (oldSpec[f] === undefined) delete mutable[f];
    else mutable[f] = oldSpec[f];
  }
  const oldGrace = asNum(oldSpec['terminationGracePeriodSeconds']);
  if (oldGrace !== undefined && oldGrace < 0 && newSpec['terminationGracePeriodSeconds'] === 1) {
    mutable['terminationGracePeriodSeconds'] = oldGrace;
  }
  if (!jsonEqual(mutable, oldSpec)) {
    const changed: string[] = [];
    diffPaths(oldSpec, mutable, 'spec', changed);
    causes.push(field.forbidden('spec', `${podUpdateForbiddenMessage} (changed: ${changed.join(', ')})`));
  }
  return causes;
}

export const podHandler = defineKind({
  apiVersion: 'v1',
  kind: 'Pod',
  defaults: defaultPod,
  validate: (pod) => validatePodSpec(pod.spec, 'spec'),
  validateUpdate: (n, o) => validatePodSpecUpdate(n.spec, o.spec),
});
