// The typed API client, kubeconfig loading and informers.
export * from './client.js';
export * from './informer.js';
export * from './kubeconfig.js';
