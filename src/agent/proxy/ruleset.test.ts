import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import {
  buildRuleset,
  newRulesetCache,
  parseTableNames,
  planUpdate,
  renderRuleset,
  renderUpdate,
  staleConntrack,
  type Ruleset,
  type RulesetInput,
} from './ruleset.js';
import { slice, svc } from './testing.js';

const node = { nodeName: 'node-a', nodeIPs: ['127.0.0.1'], bridge: 'fl0', podCidr: '10.200.1.0/24' };

function input(
  services: KubeObject[],
  slices: KubeObject[],
  balance: 'random' | 'round-robin' = 'random',
): RulesetInput {
  return { services, slices, node, options: { table: 'flotilla', balance } };
}

function chain(text: string, name: string): string {
  const start = text.indexOf(`\tchain ${name} {`);
  if (start < 0) return '';
  return text.slice(start, text.indexOf('\t}', start));
}

const three = slice('web', [
  { ip: '10.200.1.2' },
  { ip: '10.200.1.3' },
  { ip: '10.200.2.4', node: 'node-b' },
]);

describe('renderRuleset', () => {
  const cases: Array<{
    name: string;
    services: KubeObject[];
    slices: KubeObject[];
    balance?: 'random' | 'round-robin';
    has: string[];
    lacks?: string[];
    targets: string[];
  }> = [
    {
      name: 'spreads a ClusterIP over 3 ready endpoints at random',
      services: [svc('web')],
      slices: [three],
      has: [
        '10.96.0.10 . tcp . 80 : goto svc-default/web/tcp/http',
        // DNAT straight from the Service chain: no chain per endpoint without affinity
        'chain svc-default/web/tcp/http {\n\t\tmeta l4proto tcp dnat ip to numgen random mod 3 map { 0 : 10.200.1.2 . 8080, 1 : 10.200.1.3 . 8080, 2 : 10.200.2.4 . 8080 }\n\t}',
        // hairpin: a pod reaching itself is masqueraded
        'set hairpin-endpoints {\n\t\ttype ipv4_addr . ipv4_addr\n\t\telements = { 10.200.1.2 . 10.200.1.2, 10.200.1.3 . 10.200.1.3, 10.200.2.4 . 10.200.2.4 }',
        'chain masquerading {\n\t\tct status dnat ip saddr . ip daddr @hairpin-endpoints jump mark-for-masquerade',
      ],
      lacks: [
        'no-endpoint-services {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n\t\telements',
      ],
      targets: ['10.200.1.2', '10.200.1.3', '10.200.2.4'],
    },
    {
      name: 'round-robin uses numgen inc',
      services: [svc('web')],
      slices: [three],
      balance: 'round-robin',
      has: ['dnat ip to numgen inc mod 3 map'],
      targets: ['10.200.1.2', '10.200.1.3', '10.200.2.4'],
    },
    {
      name: 'not-ready and terminating endpoints get nothing while a ready one exists',
      services: [svc('web')],
      slices: [
        slice('web', [
          { ip: '10.200.1.2', ready: false, serving: false },
          { ip: '10.200.1.3' },
          { ip: '10.200.1.4', ready: false, serving: true, terminating: true },
        ]),
      ],
      has: ['chain svc-default/web/tcp/http {\n\t\tmeta l4proto tcp dnat to 10.200.1.3:8080\n\t}'],
      lacks: ['10.200.1.2', '10.200.1.4'],
      targets: ['10.200.1.3'],
    },
    {
      name: 'falls back to serving terminating endpoints when none is ready',
      services: [svc('web')],
      slices: [
        slice('web', [
          { ip: '10.200.1.2', ready: false, serving: true, terminating: true },
          { ip: '10.200.1.3', ready: false, serving: false, terminating: true },
        ]),
      ],
      has: ['svc-default/web/tcp/http {\n\t\tmeta l4proto tcp dnat to 10.200.1.2:8080'],
      lacks: ['10.200.1.3'],
      targets: ['10.200.1.2'],
    },
    {
      name: 'rejects when there is no endpoint at all',
      services: [svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })],
      slices: [],
      has: [
        '10.96.0.10 . tcp . 80 : goto reject-chain',
        'tcp . 30080 : goto reject-chain',
        'reject with tcp reset',
      ],
      lacks: ['chain svc-'],
      targets: [],
    },
    {
      name: 'NodePort: masquerade, then the service chain',
      services: [svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })],
      slices: [three],
      has: [
        'tcp . 30080 : goto ext-default/web/tcp/http',
        'chain ext-default/web/tcp/http {\n\t\tjump mark-for-masquerade\n\t\tgoto svc-default/web/tcp/http',
        'fib daddr type local meta l4proto . th dport vmap @service-nodeports',
      ],
      targets: ['10.200.1.2', '10.200.1.3', '10.200.2.4'],
    },
    {
      name: 'externalTrafficPolicy Local: only local endpoints, client address kept',
      services: [
        svc('web', {
          type: 'NodePort',
          externalLocal: true,
          ports: [{ name: 'http', port: 80, nodePort: 30080 }],
        }),
      ],
      slices: [three],
      has: [
        'chain ext-default/web/tcp/http {\n\t\tfib saddr type local jump mark-for-masquerade\n\t\tmeta l4proto tcp dnat ip to numgen random mod 2 map { 0 : 10.200.1.2 . 8080, 1 : 10.200.1.3 . 8080 }',
      ],
      targets: ['10.200.1.2', '10.200.1.3', '10.200.2.4'],
    },
    {
      name: 'externalTrafficPolicy Local without a local endpoint drops NodePort traffic',
      services: [
        svc('web', {
          type: 'NodePort',
          externalLocal: true,
          ports: [{ name: 'http', port: 80, nodePort: 30080 }],
        }),
      ],
      slices: [slice('web', [{ ip: '10.200.2.4', node: 'node-b' }])],
      has: ['tcp . 30080 : drop', '10.96.0.10 . tcp . 80 : goto svc-default/web/tcp/http'],
      lacks: ['chain ext-'],
      targets: ['10.200.2.4'],
    },
    {
      name: 'ClientIP affinity: a timed set per endpoint, looked up before the spread',
      services: [svc('web', { affinitySeconds: 60 })],
      slices: [slice('web', [{ ip: '10.200.1.2' }, { ip: '10.200.1.3' }])],
      has: [
        'set aff60-default/web/tcp/http__10.200.1.2/8080 {\n\t\ttype ipv4_addr; flags dynamic,timeout; timeout 60s;',
        'ip saddr @aff60-default/web/tcp/http__10.200.1.3/8080 goto ep-default/web/tcp/http__10.200.1.3/8080\n\t\tnumgen random mod 2',
        'chain ep-default/web/tcp/http__10.200.1.2/8080 {\n\t\tupdate @aff60-default/web/tcp/http__10.200.1.2/8080 { ip saddr }\n\t\tmeta l4proto tcp dnat to 10.200.1.2:8080',
        'numgen random mod 2 vmap { 0 : goto ep-default/web/tcp/http__10.200.1.2/8080, 1 : goto ep-default/web/tcp/http__10.200.1.3/8080 }',
      ],
      targets: ['10.200.1.2', '10.200.1.3'],
    },
    {
      name: 'headless and ExternalName Services get no rules',
      services: [svc('db', { clusterIP: 'None' }), svc('ext', { type: 'ExternalName', clusterIP: '' })],
      slices: [slice('db', [{ ip: '10.200.1.2' }])],
      lacks: ['svc-default', 'ep-default', 'reject-chain\n\t}\n\tmap'],
      has: ['chain services {'],
      targets: [],
    },
    {
      name: 'UDP like TCP, ports matched by name and protocol',
      services: [
        svc('dns', {
          ports: [
            { name: 'dns', port: 53, protocol: 'UDP' },
            { name: 'dns-tcp', port: 53, protocol: 'TCP' },
          ],
        }),
      ],
      slices: [
        slice('dns', [{ ip: '10.200.1.5' }], {
          ports: [
            { name: 'dns', port: 5353, protocol: 'UDP' },
            { name: 'dns-tcp', port: 5354, protocol: 'TCP' },
          ],
        }),
      ],
      has: [
        '10.96.0.10 . udp . 53 : goto svc-default/dns/udp/dns',
        '10.96.0.10 . tcp . 53 : goto svc-default/dns/tcp/dns-tcp',
        'meta l4proto udp dnat to 10.200.1.5:5353',
        'meta l4proto tcp dnat to 10.200.1.5:5354',
      ],
      targets: ['10.200.1.5'],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const inp = input(c.services, c.slices, c.balance);
      const text = renderRuleset(inp);
      for (const h of c.has) expect(text).toContain(h);
      for (const l of c.lacks ?? []) expect(text).not.toContain(l);
      expect(buildRuleset(inp).targets).toEqual(new Set(c.targets));
    });
  }

  it('starts by replacing the whole table in one script', () => {
    const text = renderRuleset(input([], []));
    expect(text.startsWith('table ip flotilla {}\ndelete table ip flotilla\ntable ip flotilla {\n')).toBe(
      true,
    );
    expect(chain(text, 'nat-output')).toContain('type nat hook output priority -100; policy accept;');
  });

  it('refuses, after NAT, what is still addressed into the Service ranges (IPv4 ranges only; none without ranges)', () => {
    const inp = input([svc('web')], [three]);
    const guarded = renderRuleset({
      ...inp,
      options: { ...inp.options, serviceCidrs: ['10.96.0.0/16', 'fd00:96::/108', '10.97.0.0/24'] },
    });
    for (const name of ['unallocated-output', 'unallocated-forward']) {
      const c = chain(guarded, name);
      expect(c).toContain(`type filter hook ${name.split('-')[1]} priority 0; policy accept;`);
      expect(c).toContain('ip daddr { 10.96.0.0/16, 10.97.0.0/24 } jump reject-chain');
      expect(c).not.toContain('fd00');
    }
    expect(chain(renderRuleset(inp), 'unallocated-output')).not.toContain('reject');
  });

  it('is deterministic: the same objects in any order give the same text', () => {
    const services = [
      svc('web'),
      svc('api', { clusterIP: '10.96.0.11' }),
      svc('db', { ns: 'data', clusterIP: '10.96.0.12' }),
    ];
    const slices = [
      three,
      slice('api', [{ ip: '10.200.1.9' }, { ip: '10.200.1.8' }]),
      slice('db', [{ ip: '10.200.1.7' }], { ns: 'data' }),
    ];
    const a = renderRuleset(input(services, slices));
    const b = renderRuleset(input([...services].reverse(), [...slices].reverse()));
    expect(b).toBe(a);
    expect(a.indexOf('10.200.1.8 . 8080')).toBeLessThan(a.indexOf('10.200.1.9 . 8080'));
  });
});

describe('renderUpdate', () => {
  it('rewrites only what changed and keeps affinity sets of endpoints that stayed', () => {
    const prev = buildRuleset(
      input(
        [svc('web', { affinitySeconds: 60 }), svc('api', { clusterIP: '10.96.0.11' })],
        [three, slice('api', [{ ip: '10.200.1.9' }])],
      ),
    );
    const next = buildRuleset(
      input(
        [svc('web', { affinitySeconds: 60 }), svc('api', { clusterIP: '10.96.0.11' })],
        [slice('web', [{ ip: '10.200.1.2' }, { ip: '10.200.1.3' }]), slice('api', [{ ip: '10.200.1.9' }])],
      ),
    );
    const text = renderUpdate(prev, next);
    expect(text).toContain('flush chain ip flotilla svc-default/web/tcp/http');
    expect(text).toContain('delete chain ip flotilla ep-default/web/tcp/http__10.200.2.4/8080');
    expect(text).toContain('delete set ip flotilla aff60-default/web/tcp/http__10.200.2.4/8080');
    expect(text).not.toContain('aff60-default/web/tcp/http__10.200.1.2/8080 {');
    expect(text).not.toContain('svc-default/api');
    // The chain that goes away is flushed before it is deleted, after the chains that pointed at it changed.
    expect(text.indexOf('add rule ip flotilla svc-default/web/tcp/http')).toBeLessThan(
      text.indexOf('delete chain ip flotilla ep-default/web/tcp/http__10.200.2.4/8080'),
    );
    expect(renderUpdate(next, next)).toBe('');
  });

  it('an endpoint change rewrites one Service chain, rebuilds only that Service, and matches a full comparison', () => {
    const services = Array.from({ length: 50 }, (_, i) => svc(`s${i}`, { clusterIP: `10.96.1.${i}` }));
    const slices = services.map((_, i) => slice(`s${i}`, [{ ip: `10.200.${i}.2` }, { ip: `10.200.${i}.3` }]));
    const cache = newRulesetCache();
    const prev = buildRuleset(input(services, slices), cache);
    expect(cache.rebuilt).toBe(50);
    const changed = [...slices];
    changed[7] = slice('s7', [{ ip: '10.200.7.2' }, { ip: '10.200.7.9' }]);
    const next = buildRuleset(input(services, changed), cache);
    expect(cache.rebuilt).toBe(1);
    const text = renderUpdate(prev, next);
    expect(text).toBe(
      [
        'flush chain ip flotilla svc-default/s7/tcp/http',
        'add rule ip flotilla svc-default/s7/tcp/http meta l4proto tcp dnat ip to numgen random mod 2 map { 0 : 10.200.7.2 . 8080, 1 : 10.200.7.9 . 8080 }',
        // the pair (and the counters) of the endpoint that went stay until the next full rewrite: nothing
        // DNATs to it any more
        'add element ip flotilla hairpin-endpoints { 10.200.7.9 . 10.200.7.9 }',
        'add element ip flotilla traffic-endpoint-connections { 10.200.7.9 . 8080 }',
        'add element ip flotilla traffic-endpoint-requests { 10.200.7.9 . 8080 }',
        '',
      ].join('\n'),
    );
    // Comparing only the changed Services gives what comparing everything gives (bar the deferred pair).
    const strip = ({ fragments: _f, ...rs }: Ruleset): Ruleset => rs;
    expect(renderUpdate(strip(prev), strip(next))).toBe(text);
    expect(next.targets.has('10.200.7.3')).toBe(false);
    // A Service removed: its chain goes, its map element goes first.
    const fewer = buildRuleset(input(services.slice(1), changed.slice(1)), cache);
    const removal = renderUpdate(next, fewer);
    expect(removal).toContain('delete element ip flotilla service-ips { 10.96.1.0 . tcp . 80 }');
    expect(removal.indexOf('delete element')).toBeLessThan(
      removal.indexOf('delete chain ip flotilla svc-default/s0/tcp/http'),
    );
    expect(renderUpdate(strip(next), strip(fewer))).toBe(removal);
  });

  it('planUpdate inserts a lone dnat above the old one, piles at most 8, and cleans up on request', () => {
    const ep = (n: number): KubeObject => slice('web', [{ ip: `10.200.1.${n}` }, { ip: '10.200.1.200' }]);
    let prev = buildRuleset(input([svc('web')], [ep(2)]));
    let shadowed = new Map<string, number>();
    for (let n = 3; n <= 11; n++) {
      const next = buildRuleset(input([svc('web')], [ep(n)]));
      const plan = planUpdate(prev, next, shadowed, false);
      if (n <= 10) {
        expect(plan.script).toMatch(
          /^insert rule ip flotilla svc-default\/web\/tcp\/http meta l4proto tcp dnat ip to numgen/,
        );
        expect(plan.script).not.toContain('flush');
      } else {
        expect(plan.script).toContain('flush chain ip flotilla svc-default/web/tcp/http'); // 8 piled up: flushed
      }
      expect(shadowed.size).toBe(n === 3 ? 0 : 1); // the caller's map is not changed
      shadowed = plan.shadowed;
      prev = next;
    }
    expect(shadowed.size).toBe(0);
    const next = buildRuleset(input([svc('web')], [ep(12)]));
    const one = planUpdate(prev, next, shadowed, false);
    expect(one.shadowed.get('svc-default/web/tcp/http')).toBe(1);
    const clean = planUpdate(next, next, one.shadowed, true);
    expect(clean.script).toMatch(/^flush chain ip flotilla svc-default\/web\/tcp\/http\nadd rule /);
    expect(clean.shadowed.size).toBe(0);
    // A chain that is not a lone dnat (ClientIP affinity) is rewritten as before.
    const a = buildRuleset(input([svc('web', { affinitySeconds: 60 })], [ep(2)]));
    const b = buildRuleset(input([svc('web', { affinitySeconds: 60 })], [ep(3)]));
    expect(planUpdate(a, b, new Map(), false).script).toContain(
      'flush chain ip flotilla svc-default/web/tcp/http',
    );
  });

  it('a full rewrite empties the hairpin set and refills it (stale pairs go)', () => {
    const next = buildRuleset(input([svc('web')], [three]));
    const text = renderUpdate(undefined, next, { chains: [], sets: ['hairpin-endpoints'], maps: [] });
    expect(text).toContain(
      'add set ip flotilla hairpin-endpoints { type ipv4_addr . ipv4_addr; }\nflush set ip flotilla hairpin-endpoints',
    );
    expect(text).toContain(
      'add element ip flotilla hairpin-endpoints { 10.200.1.2 . 10.200.1.2, 10.200.1.3 . 10.200.1.3, 10.200.2.4 . 10.200.2.4 }',
    );
    expect(text).not.toContain('delete set');
  });

  it('without a previous ruleset rewrites everything and deletes what the table has beyond it', () => {
    const next = buildRuleset(input([svc('web')], [three]));
    const text = renderUpdate(undefined, next, {
      chains: ['svc-default/old/tcp/80', 'services'],
      sets: ['aff5-x'],
      maps: [],
    });
    expect(text).toContain(
      'add chain ip flotilla nat-prerouting { type nat hook prerouting priority -100; policy accept; }',
    );
    expect(text).toContain('flush map ip flotilla service-ips');
    expect(text).toContain('delete chain ip flotilla svc-default/old/tcp/80');
    expect(text).toContain('delete set ip flotilla aff5-x');
    expect(text).not.toContain('delete chain ip flotilla services');
  });
});

describe('parseTableNames', () => {
  it('reads chain, set and map names from nft -t list output', () => {
    const text =
      'table ip flotilla {\n\tmap service-ips {\n\t\ttype ipv4_addr\n\t}\n\tset aff5-a/b {\n\t}\n\tchain svc-a/b/tcp/80 {\n\t}\n}\n';
    expect(parseTableNames(text)).toEqual({
      chains: ['svc-a/b/tcp/80'],
      sets: ['aff5-a/b'],
      maps: ['service-ips'],
    });
  });
});

describe('staleConntrack', () => {
  it('flushes UDP entries of removed endpoints, and of a UDP port that gains its first endpoint', () => {
    const dns = svc('dns', {
      type: 'NodePort',
      ports: [{ name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }],
    });
    const ports = [{ name: 'dns', port: 5353, protocol: 'UDP' as const }];
    const none = buildRuleset(input([dns], []));
    const two = buildRuleset(
      input([dns], [slice('dns', [{ ip: '10.200.1.2' }, { ip: '10.200.1.3' }], { ports })]),
    );
    const one = buildRuleset(input([dns], [slice('dns', [{ ip: '10.200.1.3' }], { ports })]));
    expect(staleConntrack(none, two)).toEqual([{ origDst: '10.96.0.10' }, { origPortDst: 30053 }]);
    expect(staleConntrack(two, one)).toEqual([
      { origDst: '10.96.0.10', replySrc: '10.200.1.2' },
      { origPortDst: 30053, replySrc: '10.200.1.2' },
    ]);
    expect(staleConntrack(undefined, two)).toEqual([]);
    expect(staleConntrack(two, two)).toEqual([]);
  });
});

describe('scale from zero (activators)', () => {
  const activators = new Map([['default/web/tcp/http', '10.42.0.1:41234']]);
  const withActivators = (slices: KubeObject[]): RulesetInput => ({
    ...input(
      [
        svc('web', {
          clusterIP: '10.43.0.10',
          type: 'NodePort',
          ports: [{ name: 'http', port: 80, nodePort: 30080 }],
        }),
      ],
      slices,
    ),
    options: { table: 'flotilla', balance: 'random', activators },
  });

  it('sends a TCP port without endpoints to the activator instead of refusing it', () => {
    const rs = buildRuleset(withActivators([]));
    expect(rs.chains.get('svc-default/web/tcp/http')?.rules).toEqual([
      'meta l4proto tcp dnat to 10.42.0.1:41234',
    ]);
    expect(rs.maps.get('service-ips')?.elements.get('10.43.0.10 . tcp . 80')).toBe(
      'goto svc-default/web/tcp/http',
    );
    expect(rs.maps.get('service-nodeports')?.elements.get('tcp . 30080')).toBe(
      'goto svc-default/web/tcp/http',
    );
    expect(rs.maps.get('no-endpoint-services')?.elements.size).toBe(0);
  });

  it('goes straight to the endpoints once there are some', () => {
    const rs = buildRuleset(withActivators([slice('web', [{ ip: '10.42.0.7' }])]));
    expect(rs.chains.get('svc-default/web/tcp/http')?.rules).toEqual([
      'meta l4proto tcp dnat to 10.42.0.7:8080',
    ]);
  });

  it('rebuilds cached fragments when the activators change', () => {
    const cache = newRulesetCache();
    const same = withActivators([]);
    buildRuleset({ ...same, options: { table: 'flotilla', balance: 'random' } }, cache);
    const rs = buildRuleset(same, cache);
    expect(cache.rebuilt).toBe(1);
    expect(rs.chains.get('svc-default/web/tcp/http')?.rules[0]).toContain('10.42.0.1:41234');
  });
});
