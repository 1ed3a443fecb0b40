// The kernel side of the proxy: `nft -f -`, `nft -t list table`, `conntrack -D`, and the sysctls the
// datapath needs. Behind the ProxyHost port so the applier's logic is tested without root.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { processRunner } from '../spawn/helper.js';
import type { ConntrackFlush } from './ruleset.js';

export interface ProxyHost {
  /** Runs one nft script as one transaction; rejects with nft's message on failure (nothing applied). */
  nft(script: string): Promise<void>;
  /**
   * The declarations of the table's chains, sets and maps, as `nft list` prints them (rules and elements
   * may be left out: only the names are read); undefined when the table does not exist or is empty.
   */
  listTable(table: string): Promise<string | undefined>;
  /** Deletes the matching UDP conntrack entries; false when the conntrack tool is missing. */
  conntrackDelete(f: ConntrackFlush): Promise<boolean>;
  /** ip_forward, route_localnet (NodePorts on 127.0.0.1), bridge netfilter; returns what it changed. */
  prepareKernel(): Promise<string[]>;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(
  file: string,
  args: string[],
  input?: string,
  timeoutMs = 30_000,
): Promise<CommandResult> {
  const r = await processRunner().run(file, args, { input: input ?? '', timeoutMs });
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The first lines of nft's error output (it repeats the whole script context for every error). */
function nftError(stderr: string): string {
  return stderr.split('\n').slice(0, 6).join('\n').trim();
}

const sysctls: Array<{ file: string; why: string }> = [
  { file: '/proc/sys/net/ipv4/ip_forward', why: 'pod and Service traffic is routed' },
  // Locally generated connections to 127.0.0.1:<nodePort> leave through the pod bridge after DNAT with a
  // loopback source; the kernel drops those unless route_localnet is on (the ruleset guards 127/8 input).
  { file: '/proc/sys/net/ipv4/conf/all/route_localnet', why: 'NodePorts answer on 127.0.0.1' },
  // Replies from a pod on the same bridge must pass conntrack to be un-DNAT'ed back to the Service IP.
  { file: '/proc/sys/net/bridge/bridge-nf-call-iptables', why: 'bridged replies pass conntrack' },
];

export class KernelProxyHost implements ProxyHost {
  private conntrackMissing = false;

  async nft(script: string): Promise<void> {
    const r = await run('nft', ['-f', '-'], script);
    if (r.code !== 0) throw new Error(`nft -f failed (exit ${r.code}): ${nftError(r.stderr)}`);
  }

  async listTable(table: string): Promise<string | undefined> {
    // `list chains` / `sets` / `maps` print declarations only: `nft -t list table` would print every
    // rule (with its inline maps), about 0.7 s for 1,000 Services. They cover every table of the
    // family, so only ours is kept.
    const r = await run('nft', ['-t', '-f', '-'], 'list chains ip\nlist sets ip\nlist maps ip\n');
    if (r.code !== 0) throw new Error(`listing nft table ip ${table} failed: ${nftError(r.stderr)}`);
    const out: string[] = [];
    let inside = false;
    for (const line of r.stdout.split('\n')) {
      if (!inside) inside = line === `table ip ${table} {`;
      else if (line === '}') inside = false;
      else out.push(line);
    }
    return out.length === 0 ? undefined : `table ip ${table} {\n${out.join('\n')}\n}\n`;
  }

  async conntrackDelete(f: ConntrackFlush): Promise<boolean> {
    if (this.conntrackMissing) return false;
    const args = ['-D', '-p', 'udp'];
    if (f.origDst !== undefined) args.push('--orig-dst', f.origDst);
    if (f.origPortDst !== undefined) args.push('--orig-port-dst', String(f.origPortDst));
    if (f.replySrc !== undefined) args.push('--reply-src', f.replySrc);
    try {
      const r = await run('conntrack', args);
      // Exit 1 with "0 flow entries have been deleted" is the normal nothing-to-do case.
      if (r.code !== 0 && !/0 flow entries/.test(r.stderr))
        throw new Error(`conntrack ${args.join(' ')}: ${r.stderr.trim()}`);
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') {
        this.conntrackMissing = true;
        return false;
      }
      throw err;
    }
  }

  async prepareKernel(): Promise<string[]> {
    const changed: string[] = [];
    if (!existsSync('/proc/sys/net/bridge')) await run('modprobe', ['br_netfilter']).catch(() => undefined);
    for (const s of sysctls) {
      if (!existsSync(s.file)) continue;
      if ((await readFile(s.file, 'utf8')).trim() === '1') continue;
      await writeFile(s.file, '1\n');
      changed.push(`${s.file.replace('/proc/sys/', '').replaceAll('/', '.')}=1 (${s.why})`);
    }
    return changed;
  }
}

/** Removes the table; no error when it does not exist. */
export async function removeNftTable(table: string): Promise<void> {
  const r = await run('nft', ['-f', '-'], `table ip ${table} {}\ndelete table ip ${table}\n`);
  if (r.code !== 0) throw new Error(`removing nft table ip ${table} failed: ${nftError(r.stderr)}`);
}
