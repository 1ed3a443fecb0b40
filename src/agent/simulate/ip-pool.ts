// Pod addresses of one simulated node: the usable addresses of its block, handed out round-robin (as
// host-local IPAM does) so a released address is not reused at once. Pure.
import { intToIp, ipToInt } from './nodes.js';

export class PodIpPool {
  private readonly used = new Set<number>();
  private next: number;

  constructor(
    private readonly first: number,
    private readonly last: number,
  ) {
    this.next = first;
  }

  /** A free address, or undefined when every address is taken. */
  allocate(): string | undefined {
    const size = this.last - this.first + 1;
    for (let tried = 0; tried < size; tried++) {
      const ip = this.next;
      this.next = ip >= this.last ? this.first : ip + 1;
      if (!this.used.has(ip)) {
        this.used.add(ip);
        return intToIp(ip);
      }
    }
    return undefined;
  }

  /** Marks an address already in use (a pod adopted after a restart). False when it is not in this block. */
  claim(ip: string): boolean {
    const n = ipToInt(ip);
    if (n === undefined || n < this.first || n > this.last) return false;
    this.used.add(n);
    return true;
  }

  release(ip: string): void {
    const n = ipToInt(ip);
    if (n !== undefined) this.used.delete(n);
  }

  inUse(): number {
    return this.used.size;
  }
}
