// The admin kubeconfig written into the data dir at start.
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

export function kubeconfigPath(dataDir: string): string {
  return join(dataDir, 'kubeconfig.yaml');
}

export function renderKubeconfig(server: string, caPem: string | undefined, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'flotilla',
        cluster: {
          server,
          ...(caPem === undefined
            ? {}
            : { 'certificate-authority-data': Buffer.from(caPem).toString('base64') }),
        },
      },
    ],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'flotilla', context: { cluster: 'flotilla', user: 'admin', namespace: 'default' } }],
    'current-context': 'flotilla',
    preferences: {},
  });
}

/** Write atomically (readers never see half a file), owner-only. */
export function writeKubeconfig(
  dataDir: string,
  server: string,
  caPem: string | undefined,
  token: string,
): string {
  const path = kubeconfigPath(dataDir);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, renderKubeconfig(server, caPem, token), { mode: 0o600 });
  renameSync(tmp, path);
  return path;
}
