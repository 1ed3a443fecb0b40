import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../testkit/clock.js';
import { trafficSets } from './ruleset.js';
import { slice, svc } from './testing.js';
import {
  attributeRates,
  counterRates,
  parseCounterSet,
  TrafficMeter,
  type CounterReading,
} from './traffic.js';

const S = trafficSets;

function reading(at: number, sets: Record<string, Record<string, number>>): CounterReading {
  return {
    at,
    sets: new Map(Object.entries(sets).map(([k, v]) => [k, new Map(Object.entries(v))])),
  };
}

describe('parseCounterSet', () => {
  it('reads ip:port → packets from nft -j list set output', () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        {
          set: {
            name: S.serviceConnections,
            elem: [
              { elem: { val: { concat: ['10.43.0.10', 80] }, counter: { packets: 3, bytes: 180 } } },
              { elem: { val: { concat: ['10.43.0.11', 53] }, counter: { packets: 0, bytes: 0 } } },
            ],
          },
        },
      ],
    });
    expect([...parseCounterSet(json)]).toEqual([
      ['10.43.0.10:80', 3],
      ['10.43.0.11:53', 0],
    ]);
  });

  it('gives nothing for an empty set or text that is not JSON', () => {
    expect(parseCounterSet(JSON.stringify({ nftables: [{ set: { name: 'x' } }] })).size).toBe(0);
    expect(parseCounterSet('Error: No such file or directory').size).toBe(0);
  });
});

describe('counterRates', () => {
  it('is the difference over the seconds between readings; a counter that went back counts from zero', () => {
    const a = reading(0, { [S.serviceConnections]: { 'v:80': 100, 'w:80': 50 } });
    const b = reading(10_000, { [S.serviceConnections]: { 'v:80': 150, 'w:80': 20, 'new:80': 5 } });
    expect(Object.fromEntries(counterRates(a, b).get(S.serviceConnections) ?? [])).toEqual({
      'v:80': 5,
      'w:80': 2, // re-created by a resync: 20 since then
      'new:80': 0.5,
    });
  });

  it('is empty when no time passed', () => {
    const a = reading(5, { [S.serviceConnections]: { 'v:80': 1 } });
    expect(counterRates(a, a).size).toBe(0);
  });
});

describe('attributeRates', () => {
  const services = [
    svc('web', {
      clusterIP: '10.43.0.10',
      ports: [
        { name: 'http', port: 80 },
        { name: 'alt', port: 8080 },
      ],
    }),
    svc('idle', { clusterIP: '10.43.0.11' }),
    svc('headless', { clusterIP: 'None' }),
  ];
  const slices = [
    slice('web', [
      { ip: '10.42.0.5', pod: 'web-a' },
      { ip: '10.42.0.6', pod: 'web-b' },
    ]),
    // A second Service selecting web-a: its endpoint counts once.
    slice('idle', [{ ip: '10.42.0.5', pod: 'web-a' }], { name: 'idle-abc' }),
  ];

  it('sums a Service over its ports and a Pod over its endpoints; what saw nothing reads 0', () => {
    const rates = new Map([
      [
        S.serviceConnections,
        new Map([
          ['10.43.0.10:80', 4],
          ['10.43.0.10:8080', 1],
        ]),
      ],
      [S.serviceRequests, new Map([['10.43.0.10:80', 12]])],
      [
        S.endpointConnections,
        new Map([
          ['10.42.0.5:8080', 3],
          ['10.42.0.6:8080', 2],
        ]),
      ],
      [
        S.endpointRequests,
        new Map([
          ['10.42.0.5:8080', 9],
          ['10.42.0.6:8080', 3],
        ]),
      ],
    ]);
    const out = attributeRates(rates, services, slices);
    expect(out.services).toEqual([
      { namespace: 'default', name: 'idle', connectionsPerSecond: 0, requestsPerSecond: 0 },
      { namespace: 'default', name: 'web', connectionsPerSecond: 5, requestsPerSecond: 12 },
    ]);
    expect(out.pods).toEqual([
      { namespace: 'default', name: 'web-a', connectionsPerSecond: 3, requestsPerSecond: 9 },
      { namespace: 'default', name: 'web-b', connectionsPerSecond: 2, requestsPerSecond: 3 },
    ]);
  });
});

describe('TrafficMeter', () => {
  it('has no figures before two readings, then rates of the last two, every interval', async () => {
    const clock = new VirtualClock();
    let packets = 0;
    const meter = new TrafficMeter({
      table: 't',
      view: { services: () => [svc('web', { clusterIP: '10.43.0.10' })], slices: () => [] },
      intervalMs: 10_000,
      clock,
      read: async () => new Map([[S.serviceRequests, new Map([['10.43.0.10:80', packets]])]]),
    });
    meter.start();
    await clock.advance(0);
    expect(meter.summary()).toBeUndefined();
    packets = 200;
    await clock.advance(10_000);
    expect(meter.summary()).toMatchObject({
      windowSeconds: 10,
      services: [{ name: 'web', requestsPerSecond: 20 }],
    });
    await clock.advance(10_000); // no new requests
    expect(meter.summary()?.services[0]?.requestsPerSecond).toBe(0);
    meter.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});
