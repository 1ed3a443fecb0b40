// Objects the benchmarks create: small ConfigMaps (~300 B of data) and realistic Pods (~1 KB stored).

/** ~300 bytes of configuration text, varied per object so nothing compresses or dedupes trivially. */
export function configData(i: number): Record<string, string> {
  const id = i.toString(36).padStart(6, '0');
  return {
    'app.properties': `service.id=${id}\nlog.level=info\nhttp.port=8080\nhttp.timeout=30s\nfeature.flags=checkout,search,recommendations\n`,
    'upstreams.yaml': `upstreams:\n  - name: catalog-${id}\n    url: http://catalog.shop.svc:8080\n    retries: 3\n  - name: payments\n    url: http://payments.shop.svc:8443\n    retries: 1\n`,
  };
}

export function configMapJson(name: string, namespace: string, i: number): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, labels: { app: 'shop', bench: 'control-plane' } },
    data: configData(i),
  });
}

/** A Pod as a Deployment would stamp it out: labels, one container with ports, env, resources, a probe. */
export function podJson(i: number, namespace: string): string {
  const hash = '7d4b9c8f5d';
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `web-${hash}-${i.toString(36).padStart(5, '0')}`,
      namespace,
      labels: { app: 'web', tier: 'frontend', release: 'stable', 'pod-template-hash': hash },
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9102' },
    },
    spec: {
      containers: [
        {
          name: 'web',
          image: 'registry.example.com/shop/web:1.24.3',
          args: ['--config=/etc/web/app.properties', '--listen=:8080'],
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9102, protocol: 'TCP' },
          ],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5 },
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
    },
  });
}
