// The image service: see types.ts for the port and docs/images.md for the store layout.
export * from './types.js';
export { parseDockerConfigJson, credentialFor, normaliseRegistryHost } from './credentials.js';
export { parseReference, normaliseReference, formatReference, type ImageReference } from './reference.js';
export { LocalImageService, chainIds, type LocalImageServiceOptions } from './store.js';
