import { describe, expect, it } from 'vitest';
import {
  ClassIN,
  DnsFormatError,
  RRType,
  decodeMessage,
  emptyFlags,
  encodeForUdp,
  encodeMessage,
  ipv6Bytes,
  udpLimit,
  type DnsMessage,
  type ResourceRecord,
} from './message.js';

function msg(over: Partial<DnsMessage> = {}): DnsMessage {
  return {
    id: 0x1234,
    flags: { ...emptyFlags(), rd: true },
    questions: [{ name: 'web.default.svc.cluster.local', type: RRType.A, class: ClassIN }],
    answers: [],
    authorities: [],
    additionals: [],
    ...over,
  };
}

const rr = (name: string, type: number, data: ResourceRecord['data']): ResourceRecord => ({
  name,
  type,
  class: ClassIN,
  ttl: 5,
  data,
});

describe('DNS messages', () => {
  it('round-trips every record type it knows, flags and sections', () => {
    const m = msg({
      flags: { ...emptyFlags(), qr: true, aa: true, rd: true, ra: true, cd: true, rcode: 3 },
      answers: [
        rr('web.default.svc.cluster.local', RRType.A, { kind: 'a', address: '10.43.0.10' }),
        rr('web.default.svc.cluster.local', RRType.AAAA, { kind: 'aaaa', address: 'fd00::a' }),
        rr('ext.default.svc.cluster.local', RRType.CNAME, { kind: 'name', name: 'example.com' }),
        rr('10.0.43.10.in-addr.arpa', RRType.PTR, { kind: 'name', name: 'web.default.svc.cluster.local' }),
        rr('_http._tcp.web.default.svc.cluster.local', RRType.SRV, {
          kind: 'srv',
          priority: 0,
          weight: 100,
          port: 8080,
          target: 'web.default.svc.cluster.local',
        }),
      ],
      authorities: [
        rr('cluster.local', RRType.SOA, {
          kind: 'soa',
          mname: 'ns.dns.cluster.local',
          rname: 'hostmaster.cluster.local',
          serial: 4_000_000_000,
          refresh: 7200,
          retry: 1800,
          expire: 86400,
          minimum: 5,
        }),
      ],
      additionals: [
        {
          name: '',
          type: RRType.OPT,
          class: 1232,
          ttl: 0,
          data: { kind: 'raw', bytes: new Uint8Array([0, 10, 0, 0]) },
        },
      ],
    });
    expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  it('compresses repeated suffixes and decodes pointers', () => {
    const names = ['a.web.default.svc.cluster.local', 'b.web.default.svc.cluster.local'];
    const m = msg({ answers: names.map((n) => rr(n, RRType.A, { kind: 'a', address: '10.42.0.5' })) });
    const bytes = encodeMessage(m);
    // The second answer's owner is 'b' plus a pointer: far shorter than spelling the name out again.
    const spelled = 12 + 2 * 33 + 4 + 2 * (33 + 14);
    expect(bytes.length).toBeLessThan(spelled - 50);
    expect(decodeMessage(bytes).answers.map((a) => a.name)).toEqual(names);
  });

  it('reads a hand-made packet with a pointer into the question', () => {
    // id 1, QR+RD+RA, 1 question, 1 answer: example.com A → pointer to offset 12.
    const bytes = Uint8Array.from([
      0,
      1,
      0x81,
      0x80,
      0,
      1,
      0,
      1,
      0,
      0,
      0,
      0,
      7,
      ...Buffer.from('example'),
      3,
      ...Buffer.from('com'),
      0,
      0,
      1,
      0,
      1,
      0xc0,
      12,
      0,
      1,
      0,
      1,
      0,
      0,
      0,
      60,
      0,
      4,
      93,
      184,
      216,
      34,
    ]);
    const m = decodeMessage(bytes);
    expect(m.questions).toEqual([{ name: 'example.com', type: 1, class: 1 }]);
    expect(m.answers[0]).toMatchObject({ name: 'example.com', ttl: 60, data: { address: '93.184.216.34' } });
  });

  it.each([
    ['empty', []],
    ['short header', [0, 1, 0, 0]],
    ['question count past the end', [0, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0]],
    ['label past the end', [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 20, 97, 98]],
    ['pointer loop (points at itself)', [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]],
    ['forward pointer', [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 20, 0, 1, 0, 1]],
    ['reserved label type', [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 1, 0, 1]],
    [
      'A record of 3 bytes',
      [0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 5, 0, 3, 1, 2, 3],
    ],
    ['rdlength past the end', [0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 16, 0, 1, 0, 0, 0, 5, 0, 200, 1]],
  ])('rejects a malformed packet (%s) with DnsFormatError', (_name, bytes) => {
    expect(() => decodeMessage(Uint8Array.from(bytes))).toThrow(DnsFormatError);
  });

  it('rejects names longer than 255 octets', () => {
    const label = [63, ...new Array<number>(63).fill(97)];
    const bytes = Uint8Array.from([
      0,
      1,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      ...label,
      ...label,
      ...label,
      ...label,
      0,
      0,
      1,
      0,
      1,
    ]);
    expect(() => decodeMessage(bytes)).toThrow(/255/);
  });

  it('truncates over 512 bytes on UDP without EDNS, and honours the EDNS size', () => {
    const answers = Array.from({ length: 40 }, (_, i) =>
      rr(`host-${i}.web.default.svc.cluster.local`, RRType.A, { kind: 'a', address: `10.42.0.${i + 2}` }),
    );
    const big = msg({ flags: { ...emptyFlags(), qr: true }, answers });
    expect(encodeMessage(big).length).toBeGreaterThan(512);
    const plain = decodeMessage(encodeForUdp(big, udpLimit(msg())));
    expect(plain.flags.tc).toBe(true);
    expect(plain.answers).toEqual([]);
    expect(plain.questions).toHaveLength(1);
    const opt: ResourceRecord = {
      name: '',
      type: RRType.OPT,
      class: 4096,
      ttl: 0,
      data: { kind: 'raw', bytes: new Uint8Array() },
    };
    const edns = decodeMessage(encodeForUdp(big, udpLimit(msg({ additionals: [opt] }))));
    expect(edns.flags.tc).toBe(false);
    expect(edns.answers).toHaveLength(40);
  });

  it.each([
    ['::1', '00000000000000000000000000000001'],
    ['fd00::a', 'fd00000000000000000000000000000a'],
    ['2001:db8:0:0:1:0:0:1', '20010db8000000000001000000000001'],
    ['::ffff:10.1.2.3', '00000000000000000000ffff0a010203'],
  ])('parses IPv6 %s', (text, hex) => {
    expect(Buffer.from(ipv6Bytes(text) ?? []).toString('hex')).toBe(hex);
  });

  it.each(['1::2::3', 'fd00::g', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9'])('rejects IPv6 %s', (text) => {
    expect(ipv6Bytes(text)).toBeUndefined();
  });
});
