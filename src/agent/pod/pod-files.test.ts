import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import type { PodContext } from './container-spec.js';
import { isContainerConfigError } from './env.js';
import { parseResolvConf, podDnsConfig, podHostname, resolvConfContent, writePodFiles } from './pod-files.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'podfiles-'));
  writeFileSync(
    join(dir, 'host-resolv.conf'),
    'nameserver 192.168.1.1\nsearch corp.example lab.example\noptions edns0\n',
  );
  writeFileSync(join(dir, 'host-hosts'), '127.0.0.1 localhost\n192.168.1.20 nodehost\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function ctx(spec: Record<string, unknown> = {}, extra: Partial<PodContext> = {}): PodContext {
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'shop', uid: 'u1' },
    spec: { containers: [], ...spec },
  };
  return {
    pod,
    nodeName: 'node-a',
    hostIP: '10.0.0.5',
    podIPs: ['10.244.1.7'],
    podDir: join(dir, 'pod'),
    cgroupParent: 'flotilla/podu1',
    hostResolvConfPath: join(dir, 'host-resolv.conf'),
    hostHostsPath: join(dir, 'host-hosts'),
    hostHostname: 'nodehost',
    ...extra,
  };
}

const cluster = {
  nameservers: ['10.96.0.10'],
  searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
  options: ['ndots:5'],
};
const host = parseResolvConf('nameserver 192.168.1.1\nsearch corp.example lab.example\noptions edns0\n');

describe('hostname', () => {
  it('is spec.hostname, else the pod name cut to 63 characters without a trailing dash or dot', () => {
    expect(podHostname(ctx({ hostname: 'api' })).hostname).toBe('api');
    const long = `${'a'.repeat(62)}-bcd`;
    const c = ctx();
    c.pod.metadata.name = long;
    expect(podHostname(c).hostname).toBe('a'.repeat(62));
    expect(podHostname(ctx({ hostNetwork: true })).hostname).toBe('nodehost');
  });

  it('uses the FQDN with setHostnameAsFQDN and refuses an invalid spec.hostname', () => {
    expect(podHostname(ctx({ hostname: 'db-0', subdomain: 'db', setHostnameAsFQDN: true })).hostname).toBe(
      'db-0.db.shop.svc.cluster.local',
    );
    let err: unknown;
    try {
      podHostname(ctx({ hostname: 'Bad_Name' }));
    } catch (e) {
      err = e;
    }
    expect(isContainerConfigError(err)).toBe(true);
  });
});

describe('/etc/hosts', () => {
  it('has localhost lines, the pod IP with FQDN and hostname, and hostAliases', async () => {
    const files = await writePodFiles(
      ctx({
        hostname: 'db-0',
        subdomain: 'db',
        hostAliases: [{ ip: '10.1.1.1', hostnames: ['foo.local', 'bar.local'] }],
      }),
    );
    expect(readFileSync(files.hostsFile, 'utf8')).toBe(
      '# Kubernetes-managed hosts file.\n' +
        '127.0.0.1\tlocalhost\n' +
        '::1\tlocalhost ip6-localhost ip6-loopback\n' +
        'fe00::0\tip6-localnet\n' +
        'fe00::0\tip6-mcastprefix\n' +
        'fe00::1\tip6-allnodes\n' +
        'fe00::2\tip6-allrouters\n' +
        '10.244.1.7\tdb-0.db.shop.svc.cluster.local\tdb-0\n' +
        '\n# Entries added by HostAliases.\n' +
        '10.1.1.1\tfoo.local\tbar.local\n',
    );
    expect(readFileSync(files.hostnameFile, 'utf8')).toBe('db-0\n');
  });

  it('has no pod line before the network is up, and is rewritten in place (same inode) later', async () => {
    const c = ctx({}, { podIPs: [] });
    const first = await writePodFiles(c);
    const before = readFileSync(first.hostsFile, 'utf8');
    expect(before).not.toContain('web-1');
    const ino = statSync(first.hostsFile).ino;
    c.podIPs = ['10.244.1.9'];
    const again = await writePodFiles(c);
    expect(readFileSync(again.hostsFile, 'utf8')).toContain('10.244.1.9\tweb-1\n');
    expect(statSync(again.hostsFile).ino).toBe(ino);
  });

  it("is the node's hosts file (plus aliases) for hostNetwork pods", async () => {
    const files = await writePodFiles(
      ctx({ hostNetwork: true, hostAliases: [{ ip: '1.2.3.4', hostnames: ['x'] }] }),
    );
    expect(readFileSync(files.hostsFile, 'utf8')).toBe(
      '# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.168.1.20 nodehost\n' +
        '\n# Entries added by HostAliases.\n1.2.3.4\tx\n',
    );
    expect(readFileSync(files.hostnameFile, 'utf8')).toBe('nodehost\n');
  });
});

describe('resolv.conf', () => {
  it('ClusterFirst: cluster DNS with the host searches appended', () => {
    const cfg = podDnsConfig(ctx({}, { clusterDns: cluster }), host);
    expect(resolvConfContent(cfg)).toBe(
      'search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n' +
        'nameserver 10.96.0.10\noptions ndots:5\n',
    );
  });

  it("ClusterFirst with the cluster domain: the pod's namespace search entry first", () => {
    const agentWide = {
      nameservers: ['10.42.0.1'],
      searches: ['svc.cluster.local', 'cluster.local'],
      options: ['ndots:5'],
      clusterDomain: 'cluster.local',
    };
    expect(resolvConfContent(podDnsConfig(ctx({}, { clusterDns: agentWide }), host))).toBe(
      'search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n' +
        'nameserver 10.42.0.1\noptions ndots:5\n',
    );
  });

  it("ClusterFirst without cluster DNS, Default, and ClusterFirst on the host network use the host's", () => {
    const hostText = 'search corp.example lab.example\nnameserver 192.168.1.1\noptions edns0\n';
    expect(resolvConfContent(podDnsConfig(ctx(), host))).toBe(hostText);
    expect(
      resolvConfContent(podDnsConfig(ctx({ dnsPolicy: 'Default' }, { clusterDns: cluster }), host)),
    ).toBe(hostText);
    expect(resolvConfContent(podDnsConfig(ctx({ hostNetwork: true }, { clusterDns: cluster }), host))).toBe(
      hostText,
    );
    expect(
      podDnsConfig(
        ctx({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }, { clusterDns: cluster }),
        host,
      ).nameservers,
    ).toEqual(['10.96.0.10']);
  });

  it('None: only dnsConfig; dnsConfig merges into the others with options overriding by name', async () => {
    const none = podDnsConfig(
      ctx({
        dnsPolicy: 'None',
        dnsConfig: {
          nameservers: ['1.1.1.1'],
          searches: ['a.example'],
          options: [{ name: 'ndots', value: '2' }],
        },
      }),
      host,
    );
    expect(resolvConfContent(none)).toBe('search a.example\nnameserver 1.1.1.1\noptions ndots:2\n');
    const merged = podDnsConfig(
      ctx(
        {
          dnsConfig: {
            nameservers: ['10.96.0.10', '8.8.8.8'],
            searches: ['extra.example'],
            options: [{ name: 'ndots', value: '1' }, { name: 'single-request' }],
          },
        },
        { clusterDns: cluster },
      ),
      host,
    );
    expect(merged.nameservers).toEqual(['10.96.0.10', '8.8.8.8']);
    expect(merged.searches.at(-1)).toBe('extra.example');
    expect(merged.options).toEqual(['ndots:1', 'single-request']);
    const files = await writePodFiles(ctx({ dnsPolicy: 'None', dnsConfig: { nameservers: ['9.9.9.9'] } }));
    expect(readFileSync(files.resolvConfFile, 'utf8')).toBe('nameserver 9.9.9.9\n');
  });

  it('keeps at most 3 nameservers and 6 search domains', () => {
    const cfg = podDnsConfig(
      ctx({
        dnsPolicy: 'None',
        dnsConfig: {
          nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4'],
          searches: ['a', 'b', 'c', 'd', 'e', 'f', 'g'],
        },
      }),
      host,
    );
    expect(cfg.nameservers).toEqual(['1.1.1.1', '2.2.2.2', '3.3.3.3']);
    expect(cfg.searches).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });
});
