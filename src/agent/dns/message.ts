// DNS wire format (RFC 1035, SRV RFC 2782, EDNS0 RFC 6891): decode and encode of whole messages. Pure: bytes
// in, bytes out; the server (server.ts) does the sockets. Names are decoded with compression pointers and
// encoded with compression too (SRV answers of a headless Service repeat the same suffix many times).

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

export const RCode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

export const ClassIN = 1;

export type RData =
  | { kind: 'a'; address: string }
  | { kind: 'aaaa'; address: string }
  /** CNAME, PTR, NS: one domain name. */
  | { kind: 'name'; name: string }
  | { kind: 'srv'; priority: number; weight: number; port: number; target: string }
  | {
      kind: 'soa';
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    }
  /** Any other type (OPT, TXT, ...): kept as bytes, passed through unchanged. */
  | { kind: 'raw'; bytes: Uint8Array };

export interface ResourceRecord {
  /** Without the trailing dot; '' is the root. */
  name: string;
  type: number;
  /** For OPT: the requestor's UDP payload size. */
  class: number;
  /** For OPT: extended rcode, version and flags. */
  ttl: number;
  data: RData;
}

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface DnsFlags {
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  rcode: number;
}

export interface DnsMessage {
  id: number;
  flags: DnsFlags;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

/** A packet that is not a well-formed DNS message (answer FORMERR when the header was readable). */
export class DnsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsFormatError';
  }
}

export function emptyFlags(): DnsFlags {
  return { qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, ad: false, cd: false, rcode: 0 };
}

// ---- decode ----------------------------------------------------------------------------------------------

class Reader {
  private pos = 0;
  private readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  get offset(): number {
    return this.pos;
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new DnsFormatError('message ends early');
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
  seek(p: number): void {
    this.pos = p;
  }

  /** A possibly compressed name. Pointers must point backwards, so a loop cannot be built. */
  name(): string {
    const labels: string[] = [];
    let length = 1;
    let pos = this.pos;
    let jumped = false;
    let end = -1;
    for (;;) {
      if (pos >= this.buf.length) throw new DnsFormatError('name runs past the message');
      const len = this.buf[pos] ?? 0;
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new DnsFormatError('truncated compression pointer');
        const target = ((len & 0x3f) << 8) | (this.buf[pos + 1] ?? 0);
        if (target >= pos) throw new DnsFormatError('compression pointer does not point backwards');
        if (!jumped) end = pos + 2;
        jumped = true;
        pos = target;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new DnsFormatError('unsupported label type');
      if (len === 0) {
        if (!jumped) end = pos + 1;
        break;
      }
      if (pos + 1 + len > this.buf.length) throw new DnsFormatError('label runs past the message');
      length += len + 1;
      if (length > 255) throw new DnsFormatError('name longer than 255 octets');
      let label = '';
      for (let i = pos + 1; i <= pos + len; i++) label += String.fromCharCode(this.buf[i] ?? 0);
      labels.push(label);
      pos += len + 1;
    }
    this.pos = end;
    return labels.join('.');
  }
}

function ipv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

function ipv6(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)).toString(16));
  // Shorten the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function record(r: Reader): ResourceRecord {
  const name = r.name();
  const type = r.u16();
  const klass = r.u16();
  const ttl = r.u32();
  const rdlength = r.u16();
  r.need(rdlength);
  const start = r.offset;
  const end = start + rdlength;
  let data: RData;
  switch (type) {
    case RRType.A:
      if (rdlength !== 4) throw new DnsFormatError('A record is not 4 octets');
      data = { kind: 'a', address: ipv4(r.bytes(4)) };
      break;
    case RRType.AAAA:
      if (rdlength !== 16) throw new DnsFormatError('AAAA record is not 16 octets');
      data = { kind: 'aaaa', address: ipv6(r.bytes(16)) };
      break;
    case RRType.CNAME:
    case RRType.PTR:
    case RRType.NS:
      data = { kind: 'name', name: r.name() };
      break;
    case RRType.SRV:
      data = { kind: 'srv', priority: r.u16(), weight: r.u16(), port: r.u16(), target: r.name() };
      break;
    case RRType.SOA:
      data = {
        kind: 'soa',
        mname: r.name(),
        rname: r.name(),
        serial: r.u32(),
        refresh: r.u32(),
        retry: r.u32(),
        expire: r.u32(),
        minimum: r.u32(),
      };
      break;
    default:
      data = { kind: 'raw', bytes: r.bytes(rdlength) };
  }
  if (r.offset !== end) throw new DnsFormatError(`record data of type ${type} does not match its length`);
  return { name, type, class: klass, ttl, data };
}

/** The 12-byte header only (enough to answer FORMERR to a message whose body is broken). */
export function decodeHeader(buf: Uint8Array): { id: number; flags: DnsFlags } | undefined {
  if (buf.length < 12) return undefined;
  const r = new Reader(buf);
  return { id: r.u16(), flags: flagsFrom(r.u16()) };
}

function flagsFrom(f: number): DnsFlags {
  return {
    qr: (f & 0x8000) !== 0,
    opcode: (f >> 11) & 0xf,
    aa: (f & 0x0400) !== 0,
    tc: (f & 0x0200) !== 0,
    rd: (f & 0x0100) !== 0,
    ra: (f & 0x0080) !== 0,
    ad: (f & 0x0020) !== 0,
    cd: (f & 0x0010) !== 0,
    rcode: f & 0xf,
  };
}

/** Decodes a whole message; throws DnsFormatError on anything malformed (never reads out of bounds). */
export function decodeMessage(buf: Uint8Array): DnsMessage {
  const r = new Reader(buf);
  if (buf.length < 12) throw new DnsFormatError('shorter than a DNS header');
  const id = r.u16();
  const flags = flagsFrom(r.u16());
  const counts = [r.u16(), r.u16(), r.u16(), r.u16()] as const;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) questions.push({ name: r.name(), type: r.u16(), class: r.u16() });
  const sections: ResourceRecord[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    const n = counts[s + 1] ?? 0;
    for (let i = 0; i < n; i++) sections[s]?.push(record(r));
  }
  return {
    id,
    flags,
    questions,
    answers: sections[0] ?? [],
    authorities: sections[1] ?? [],
    additionals: sections[2] ?? [],
  };
}

// ---- encode ----------------------------------------------------------------------------------------------

class Writer {
  private buf = new Uint8Array(512);
  private len = 0;
  /** Lower-cased name suffix → offset of its first encoding (compression targets, < 0x4000). */
  private readonly names = new Map<string, number>();

  private grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  get offset(): number {
    return this.len;
  }
  u8(v: number): void {
    this.grow(1);
    this.buf[this.len++] = v & 0xff;
  }
  u16(v: number): void {
    this.u8(v >> 8);
    this.u8(v);
  }
  u32(v: number): void {
    this.u16(Math.floor(v / 65536) & 0xffff);
    this.u16(v & 0xffff);
  }
  bytes(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  setU16(at: number, v: number): void {
    this.buf[at] = (v >> 8) & 0xff;
    this.buf[at + 1] = v & 0xff;
  }
  name(name: string, compress = true): void {
    const labels = name === '' || name === '.' ? [] : name.replace(/\.$/, '').split('.');
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      const at = compress ? this.names.get(suffix) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.len < 0x4000) this.names.set(suffix, this.len);
      const label = labels[i] ?? '';
      if (label.length === 0 || label.length > 63) throw new DnsFormatError(`bad label in name "${name}"`);
      this.u8(label.length);
      for (let j = 0; j < label.length; j++) this.u8(label.charCodeAt(j));
    }
    this.u8(0);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function parseIpv4Bytes(address: string): Uint8Array {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new DnsFormatError(`bad IPv4 address "${address}"`);
  return Uint8Array.from(parts);
}

/** 16 bytes of an IPv6 address (with `::` and an embedded IPv4 tail); undefined when it is not one. */
export function ipv6Bytes(address: string): Uint8Array | undefined {
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4 !== null) {
    const o = v4.slice(1, 5).map(Number);
    if (o.some((x) => x > 255)) return undefined;
    const hex = (a: number, b: number): string => ((a << 8) | b).toString(16);
    text = `${text.slice(0, v4.index)}${hex(o[0] ?? 0, o[1] ?? 0)}:${hex(o[2] ?? 0, o[3] ?? 0)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0] ?? '');
  const rest = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (head === undefined || rest === undefined) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    if (head.length + rest.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  } else {
    if (head.length !== 8) return undefined;
    groups = head;
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

function writeRecord(w: Writer, rr: ResourceRecord): void {
  w.name(rr.name);
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl);
  const lengthAt = w.offset;
  w.u16(0);
  const start = w.offset;
  const d = rr.data;
  switch (d.kind) {
    case 'a':
      w.bytes(parseIpv4Bytes(d.address));
      break;
    case 'aaaa': {
      const b = ipv6Bytes(d.address);
      if (b === undefined) throw new DnsFormatError(`bad IPv6 address "${d.address}"`);
      w.bytes(b);
      break;
    }
    case 'name':
      w.name(d.name);
      break;
    case 'srv':
      w.u16(d.priority);
      w.u16(d.weight);
      w.u16(d.port);
      // RFC 2782: the SRV target is not compressed.
      w.name(d.target, false);
      break;
    case 'soa':
      w.name(d.mname);
      w.name(d.rname);
      w.u32(d.serial);
      w.u32(d.refresh);
      w.u32(d.retry);
      w.u32(d.expire);
      w.u32(d.minimum);
      break;
    case 'raw':
      w.bytes(d.bytes);
      break;
  }
  w.setU16(lengthAt, w.offset - start);
}

export function encodeMessage(m: DnsMessage): Uint8Array {
  const w = new Writer();
  const f = m.flags;
  w.u16(m.id);
  w.u16(
    (f.qr ? 0x8000 : 0) |
      ((f.opcode & 0xf) << 11) |
      (f.aa ? 0x0400 : 0) |
      (f.tc ? 0x0200 : 0) |
      (f.rd ? 0x0100 : 0) |
      (f.ra ? 0x0080 : 0) |
      (f.ad ? 0x0020 : 0) |
      (f.cd ? 0x0010 : 0) |
      (f.rcode & 0xf),
  );
  w.u16(m.questions.length);
  w.u16(m.answers.length);
  w.u16(m.authorities.length);
  w.u16(m.additionals.length);
  for (const q of m.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rr of [...m.answers, ...m.authorities, ...m.additionals]) writeRecord(w, rr);
  return w.done();
}

/** The UDP payload size the client accepts: its EDNS0 OPT size (at least 512), or 512 without EDNS. */
export function udpLimit(query: DnsMessage): number {
  const opt = query.additionals.find((r) => r.type === RRType.OPT);
  if (opt === undefined) return 512;
  return Math.min(Math.max(opt.class, 512), 4096);
}

/**
 * Encodes for UDP: when the message does not fit `limit`, the answer, authority and non-OPT additional
 * records are dropped and TC is set, so the client asks again over TCP.
 */
export function encodeForUdp(m: DnsMessage, limit: number): Uint8Array {
  const full = encodeMessage(m);
  if (full.length <= limit) return full;
  return encodeMessage({
    ...m,
    flags: { ...m.flags, tc: true },
    answers: [],
    authorities: [],
    additionals: m.additionals.filter((r) => r.type === RRType.OPT),
  });
}
