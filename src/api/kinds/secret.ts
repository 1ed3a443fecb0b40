// v1 Secret: type defaults to Opaque, stringData folds into data (as upstream's conversion does),
// per-type required keys, size limit, immutability.

import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import { asObj, asStr, byteLength, ensureObj, unsetStr } from '../validation/access.js';
import { field, key } from '../validation/field.js';
import { base64DecodedLength, maxDataSize, validateDataKeys, validateImmutableData } from './configmap.js';
import { defineKind } from './handler.js';

/** UTF-8 text → standard base64, without node:buffer. */
export function encodeBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Standard base64 → UTF-8 text (invalid UTF-8 is replaced). */
export function decodeBase64(b64: string): string {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

function defaultSecret(secret: KubeObject): void {
  if (unsetStr(secret['type'])) secret['type'] = 'Opaque';
  const stringData = asObj(secret['stringData']);
  if (stringData !== undefined) {
    const data = ensureObj(secret, 'data');
    for (const [k, v] of Object.entries(stringData)) if (typeof v === 'string') data[k] = encodeBase64(v);
    delete secret['stringData'];
  }
}

const requiredKeys: Record<string, readonly string[]> = {
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
};

function validateSecret(secret: KubeObject): StatusCause[] {
  const causes = validateDataKeys(secret['data'], 'data');
  causes.push(...validateDataKeys(secret['stringData'], 'stringData'));
  const data = asObj(secret['data']) ?? {};
  let total = 0;
  for (const [k, v] of Object.entries(data))
    total += byteLength(k) + (typeof v === 'string' ? base64DecodedLength(v) : 0);
  if (total > maxDataSize) causes.push(field.tooLong('data', maxDataSize));
  const type = asStr(secret['type']) ?? '';
  for (const k of requiredKeys[type] ?? []) if (!(k in data)) causes.push(field.required(key('data', k)));
  if (type === 'kubernetes.io/basic-auth' && !('username' in data) && !('password' in data)) {
    causes.push(field.required(key('data', 'username')), field.required(key('data', 'password')));
  }
  if (type === 'kubernetes.io/service-account-token') {
    const name = asObj(secret.metadata.annotations)?.['kubernetes.io/service-account.name'];
    if (typeof name !== 'string' || name === '') {
      causes.push(field.required(key('metadata.annotations', 'kubernetes.io/service-account.name')));
    }
  }
  return causes;
}

function validateSecretUpdate(n: KubeObject, o: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  if ((o['type'] ?? '') !== (n['type'] ?? '')) causes.push(field.immutable('type', n['type'] ?? ''));
  causes.push(...validateImmutableData(n, o, ['data']));
  return causes;
}

export const secretHandler = defineKind({
  apiVersion: 'v1',
  kind: 'Secret',
  defaults: defaultSecret,
  validate: validateSecret,
  validateUpdate: validateSecretUpdate,
});
