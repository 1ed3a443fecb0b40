// Image references as Docker normalises them: `busybox` → `docker.io/library/busybox:latest`,
// `host:port/repo:tag`, `repo@sha256:<hex>` (a digest wins over a tag for pulling).
import { ImageError } from './types.js';

export const defaultRegistry = 'docker.io';

export interface ImageReference {
  /** Registry host[:port] as written (`docker.io` for Docker Hub). */
  registry: string;
  /** Repository path, `library/busybox` on Docker Hub for official images. */
  repository: string;
  tag?: string;
  /** `sha256:<hex>`. */
  digest?: string;
}

const componentRe = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagRe = /^[\w][\w.-]{0,127}$/;
const digestRe = /^sha256:[a-f0-9]{64}$/;
const hostRe =
  /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;

function invalid(ref: string, why: string): ImageError {
  return new ImageError('Invalid', `invalid image reference "${ref}": ${why}`);
}

/** Parses and normalises a reference; throws ImageError('Invalid') naming what is wrong. */
export function parseReference(ref: string): ImageReference {
  const text = ref.trim();
  if (text === '') throw invalid(ref, 'it is empty');
  if (text.length > 4096) throw invalid(ref, 'it is too long');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestRe.test(digest))
      throw invalid(ref, `digest "${digest}" is not sha256:<64 lowercase hex digits>`);
  }
  let registry = defaultRegistry;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
      if (!hostRe.test(first)) throw invalid(ref, `registry host "${first}" is not a valid host[:port]`);
      registry = first;
      rest = rest.slice(slash + 1);
    } else if (first !== first.toLowerCase()) {
      throw invalid(ref, 'repository names must be lowercase');
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = defaultRegistry;
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagRe.test(tag)) throw invalid(ref, `tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  if (rest === '') throw invalid(ref, 'the repository name is empty');
  const parts = rest.split('/');
  for (const part of parts) {
    if (!componentRe.test(part)) {
      throw invalid(
        ref,
        part !== part.toLowerCase()
          ? 'repository names must be lowercase'
          : `repository path component "${part}" may only hold lowercase letters, digits and separators (. _ __ -)`,
      );
    }
  }
  if (registry === defaultRegistry && parts.length === 1) rest = `library/${rest}`;
  if (tag === undefined && digest === undefined) tag = 'latest';
  const out: ImageReference = { registry, repository: rest };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** `registry/repository` */
export function repositoryName(r: ImageReference): string {
  return `${r.registry}/${r.repository}`;
}

/** The full normalised form: `docker.io/library/busybox:latest`, `host/repo@sha256:...`, or both. */
export function formatReference(r: ImageReference): string {
  return `${repositoryName(r)}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

export function normaliseReference(ref: string): string {
  return formatReference(parseReference(ref));
}

/** The tag reference (`name:tag`) a pull records, or undefined for a pull by digest only. */
export function tagReference(r: ImageReference): string | undefined {
  return r.tag === undefined ? undefined : `${repositoryName(r)}:${r.tag}`;
}

export function isDigest(s: string): boolean {
  return digestRe.test(s);
}
