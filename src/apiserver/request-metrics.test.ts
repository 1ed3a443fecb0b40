import { describe, expect, it } from 'vitest';
import { requestMetricInfo } from './request-metrics.js';

describe('request metric labels', () => {
  const cases: {
    method: string;
    url: string;
    contentType?: string;
    want: [verb: string, group: string, resource: string, subresource: string];
    longRunning?: boolean;
  }[] = [
    { method: 'GET', url: '/api/v1/pods', want: ['LIST', '', 'pods', ''] },
    { method: 'GET', url: '/api/v1/namespaces/default/pods', want: ['LIST', '', 'pods', ''] },
    { method: 'GET', url: '/api/v1/namespaces/default/pods/web', want: ['GET', '', 'pods', ''] },
    { method: 'GET', url: '/api/v1/pods?watch=true', want: ['WATCH', '', 'pods', ''], longRunning: true },
    {
      method: 'GET',
      url: '/api/v1/watch/namespaces/d/pods/web',
      want: ['WATCH', '', 'pods', ''],
      longRunning: true,
    },
    {
      method: 'POST',
      url: '/apis/apps/v1/namespaces/d/deployments',
      want: ['POST', 'apps', 'deployments', ''],
    },
    {
      method: 'PUT',
      url: '/apis/apps/v1/namespaces/d/deployments/x/status',
      want: ['PUT', 'apps', 'deployments', 'status'],
    },
    {
      method: 'PATCH',
      url: '/apis/apps/v1/namespaces/d/deployments/x/scale',
      want: ['PATCH', 'apps', 'deployments', 'scale'],
    },
    {
      method: 'PATCH',
      url: '/api/v1/namespaces/d/configmaps/x',
      contentType: 'application/apply-patch+yaml; charset=utf-8',
      want: ['APPLY', '', 'configmaps', ''],
    },
    {
      method: 'DELETE',
      url: '/api/v1/namespaces/d/configmaps',
      want: ['DELETECOLLECTION', '', 'configmaps', ''],
    },
    { method: 'DELETE', url: '/api/v1/namespaces/d/configmaps/x', want: ['DELETE', '', 'configmaps', ''] },
    {
      method: 'GET',
      url: '/api/v1/namespaces/d/pods/web/log',
      want: ['GET', '', 'pods', 'log'],
      longRunning: true,
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/d/pods/web/exec',
      want: ['CONNECT', '', 'pods', 'exec'],
      longRunning: true,
    },
    {
      method: 'GET',
      url: '/api/v1/nodes/n1/proxy/metrics',
      want: ['CONNECT', '', 'nodes', 'proxy'],
      longRunning: true,
    },
    {
      method: 'GET',
      url: '/apis/metrics.k8s.io/v1beta1/nodes',
      want: ['LIST', 'metrics.k8s.io', 'nodes', ''],
    },
    {
      method: 'GET',
      url: '/apis/metrics.k8s.io/v1beta1/namespaces/d/pods/web',
      want: ['GET', 'metrics.k8s.io', 'pods', ''],
    },
    // Non-resource and unknown paths: no resource, so arbitrary URLs add no series.
    { method: 'GET', url: '/metrics', want: ['GET', '', '', ''] },
    { method: 'GET', url: '/healthz', want: ['GET', '', '', ''] },
    { method: 'GET', url: '/api/v1/nosuchthings', want: ['GET', '', '', ''] },
    { method: 'GET', url: '/apis/metrics.k8s.io/v1beta1/whatever', want: ['GET', '', '', ''] },
    { method: 'GET', url: '/api/v1/pods/%zz', want: ['GET', '', '', ''] },
    { method: 'BREW', url: '/api/v1/pods', want: ['OTHER', '', 'pods', ''] },
  ];
  it.each(cases)('$method $url', ({ method, url, contentType, want, longRunning }) => {
    const u = new URL(`http://x${url}`);
    const info = requestMetricInfo(method, u.pathname, u.searchParams, contentType);
    const [verb, group, resource, subresource] = want;
    expect(info.labels).toEqual({ verb, group, resource, subresource });
    expect(info.longRunning).toBe(longRunning === true);
    expect(info.mutating).toBe(!['GET', 'HEAD', 'OPTIONS'].includes(method));
  });
});
