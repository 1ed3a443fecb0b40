// A fake upstream DNS resolver on 127.0.0.1 for tests: the cluster DNS forwards outside names to it, so no
// test ever sends a query to the host's resolver. Answers A records from a fixed table (names with or
// without the trailing dot), NODATA for other types of a known name, NXDOMAIN for the rest.
import { createSocket } from 'node:dgram';
import { ClassIN, RCode, RRType, decodeMessage, encodeMessage } from '../agent/dns/message.js';

export interface FakeUpstreamDns {
  port: number;
  /** Every name asked, in order (lower case, no trailing dot). */
  queries: string[];
  stop(): Promise<void>;
}

export async function startFakeUpstreamDns(
  records: Record<string, string> = {},
  opts: { silent?: boolean } = {},
): Promise<FakeUpstreamDns> {
  const table = new Map(Object.entries(records).map(([k, v]) => [k.replace(/\.$/, '').toLowerCase(), v]));
  const sock = createSocket('udp4');
  const queries: string[] = [];
  sock.on('message', (buf, rinfo) => {
    let q;
    try {
      q = decodeMessage(new Uint8Array(buf));
    } catch {
      return;
    }
    const question = q.questions[0];
    if (q.flags.qr || question === undefined) return;
    const name = question.name.toLowerCase();
    queries.push(name);
    if (opts.silent === true) return;
    const ip = table.get(name);
    const res = encodeMessage({
      id: q.id,
      flags: { ...q.flags, qr: true, ra: true, aa: false, rcode: ip === undefined ? RCode.NXDOMAIN : 0 },
      questions: [question],
      answers:
        ip !== undefined && (question.type === RRType.A || question.type === RRType.ANY)
          ? [
              {
                name: question.name,
                type: RRType.A,
                class: ClassIN,
                ttl: 30,
                data: { kind: 'a', address: ip },
              },
            ]
          : [],
      authorities: [],
      additionals: [],
    });
    sock.send(res, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  return {
    port: sock.address().port,
    queries,
    stop: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}
