// How objects are kept in the store and put on the wire.
//
// The stored value is the object's JSON *without* `metadata.resourceVersion`; the store's modRevision is the
// resourceVersion (as with etcd in Kubernetes). Stored JSON always begins with apiVersion, kind and then
// metadata, so the resourceVersion can be spliced into the text without parsing it (lists of 10,000 objects
// stay cheap).
import type { KeyValue } from '../store/store.js';
import type { KubeObject } from '../api/types.js';

export function encodeStored(obj: KubeObject): string {
  const keys = Object.keys(obj);
  if (keys[0] === 'apiVersion' && keys[1] === 'kind' && keys[2] === 'metadata') {
    // Already in the stored order (the usual case): stringify in place, without the resourceVersion,
    // rather than copying the object and its metadata first.
    const rv = obj.metadata.resourceVersion;
    if (rv === undefined) return JSON.stringify(obj);
    delete obj.metadata.resourceVersion;
    try {
      return JSON.stringify(obj);
    } finally {
      obj.metadata.resourceVersion = rv;
    }
  }
  const { apiVersion, kind, metadata, ...rest } = obj;
  const { resourceVersion: _rv, ...meta } = metadata;
  return JSON.stringify({ apiVersion, kind, metadata: meta, ...rest });
}

const metadataOpen = '"metadata":{';

/** The stored JSON text with `metadata.resourceVersion` set to `revision`. */
export function wireJson(value: string, revision: number): string {
  const at = value.indexOf(metadataOpen);
  if (at < 0) return value;
  const insertAt = at + metadataOpen.length;
  const empty = value[insertAt] === '}';
  return `${value.slice(0, insertAt)}"resourceVersion":"${revision}"${empty ? '' : ','}${value.slice(insertAt)}`;
}

const wireBuffers = new WeakMap<KeyValue, Buffer>();

/**
 * `wireJson` as UTF-8 bytes, kept for as long as the store keeps this very KeyValue (the SQLite store's
 * in-memory index hands out the same object until the key changes), so repeated lists of unchanged objects
 * skip the encoding. Stores that build a new KeyValue per read just pay the encoding each time.
 */
export function wireBuffer(kv: KeyValue): Buffer {
  let buf = wireBuffers.get(kv);
  if (buf === undefined) {
    buf = Buffer.from(wireJson(kv.value, kv.modRevision));
    wireBuffers.set(kv, buf);
  }
  return buf;
}

export function decodeStored(kv: Pick<KeyValue, 'value' | 'modRevision'>): KubeObject {
  const obj = JSON.parse(kv.value) as KubeObject;
  obj.metadata.resourceVersion = String(kv.modRevision);
  return obj;
}

export function decodeAt(value: string, revision: number): KubeObject {
  const obj = JSON.parse(value) as KubeObject;
  obj.metadata.resourceVersion = String(revision);
  return obj;
}
