// Workloads the real-node tests and benchmarks run: a busybox httpd Deployment answering with its pod's
// name on a named port `http` (8080), Ready as soon as it serves, and a Service in front of it.
import type { KubeObject } from '../api/types.js';

/** The shell that serves `/` with the pod's host name (and whatever `setup` adds to /www first). */
export function httpdScript(setup: string[] = []): string {
  return ['mkdir -p /www', 'hostname > /www/index.html', ...setup, 'exec httpd -f -p 8080 -h /www'].join(
    '; ',
  );
}

export interface HttpdOptions {
  replicas?: number;
  /** Pod labels and selector (default `{ app: name }`). */
  labels?: Record<string, string>;
  /** Shell lines run before httpd starts (e.g. a CGI script under /www/cgi-bin). */
  setup?: string[];
  /** The container's `resources`. */
  resources?: Record<string, unknown>;
  annotations?: Record<string, string>;
  /** Extra Deployment spec fields (strategy, ...). */
  spec?: Record<string, unknown>;
  terminationGracePeriodSeconds?: number;
}

export function httpdDeployment(name: string, image: string, o: HttpdOptions = {}): KubeObject {
  const labels = o.labels ?? { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: 'default',
      ...(o.annotations === undefined ? {} : { annotations: o.annotations }),
    },
    spec: {
      replicas: o.replicas ?? 1,
      selector: { matchLabels: labels },
      ...o.spec,
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: o.terminationGracePeriodSeconds ?? 1,
          containers: [
            {
              name: 'web',
              image,
              command: ['sh', '-c', httpdScript(o.setup)],
              ports: [{ name: 'http', containerPort: 8080 }],
              ...(o.resources === undefined ? {} : { resources: o.resources }),
              // A generous probe timeout: on a loaded 2-core machine a 1 s probe can fail on every pod at
              // once, which would empty the Service for reasons that have nothing to do with the test.
              readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1, timeoutSeconds: 5 },
            },
          ],
        },
      },
    },
  };
}

/** A ClusterIP Service on port 80 → the pods' `http` port. */
export function httpService(
  name: string,
  selector: Record<string, string> = { app: name },
  extra: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...extra },
  };
}
