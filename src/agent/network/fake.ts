// FakeNetwork: a PodNetwork for unit tests and simulated nodes. Hands out IPv4 addresses from a CIDR
// (the first host address is the gateway), remembers them per pod; no namespaces are made.

import type { PodNetwork, PodNetworkHooks, PodNetworkRequest, PodNetworkStatus } from './types.js';

export class FakeNetwork implements PodNetwork {
  readonly setUps: string[] = [];
  readonly tearDowns: string[] = [];
  private readonly pods = new Map<string, PodNetworkStatus>();
  private readonly base: number;
  private readonly size: number;
  private failure: string | undefined;

  constructor(cidr = '10.88.0.0/24') {
    const [addr, bitsText] = cidr.split('/');
    const bits = Number(bitsText ?? '24');
    const parts = (addr ?? '').split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255)) || !(bits >= 8 && bits <= 30)) {
      throw new Error(`invalid CIDR "${cidr}"`);
    }
    const n =
      (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
    this.size = 2 ** (32 - bits);
    this.base = n - (n % this.size);
  }

  /** How long setUp takes after the namespace exists (0: at once). */
  delayMs = 0;

  /** setUp fails with this message until called with undefined. */
  failSetUp(message: string | undefined): void {
    this.failure = message;
  }

  async setUp(req: PodNetworkRequest, hooks?: PodNetworkHooks): Promise<PodNetworkStatus> {
    const have = this.pods.get(req.podUid);
    if (have !== undefined) return { ...have, ips: [...have.ips] };
    this.setUps.push(req.podUid);
    hooks?.namespaceReady?.(this.namespacePath(req.podUid));
    // The plugins take a moment, as real ones do: what the caller starts in the namespace overlaps them.
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failure !== undefined) throw new Error(this.failure);
    const used = new Set([...this.pods.values()].map((p) => p.ips[0]));
    for (let i = 2; i < this.size - 1; i++) {
      const ip = toIp(this.base + i);
      if (used.has(ip)) continue;
      const status: PodNetworkStatus = {
        podUid: req.podUid,
        netnsPath: this.namespacePath(req.podUid),
        ips: [ip],
      };
      this.pods.set(req.podUid, status);
      return { ...status, ips: [ip] };
    }
    throw new Error('no IP addresses available in range set');
  }

  namespacePath(podUid: string): string {
    return `/var/run/netns/fake-${podUid}`;
  }

  async tearDown(podUid: string): Promise<void> {
    this.tearDowns.push(podUid);
    this.pods.delete(podUid);
  }

  async status(podUid: string): Promise<PodNetworkStatus | undefined> {
    const s = this.pods.get(podUid);
    return s === undefined ? undefined : { ...s, ips: [...s.ips] };
  }

  async list(): Promise<string[]> {
    return [...this.pods.keys()];
  }

  async destroy(): Promise<void> {
    this.pods.clear();
  }
}

function toIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
