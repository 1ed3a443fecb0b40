// The iptables (nat table) state the CNI plugins leave behind, and its removal.
//
// bridge with ipMasq adds, per container, `-A POSTROUTING -s <ip> -m comment --comment 'name: "<net>" id:
// "<cid>"' -j CNI-<hash>` and the chain CNI-<hash>; bridge DEL removes them only while the netns still
// exists (it reads the pod's addresses from inside). portmap adds CNI-DN-<hash> chains, jumps from the
// shared CNI-HOSTPORT-DNAT chain (comment 'dnat name: "<net>" id: "<cid>"') and the shared chains
// CNI-HOSTPORT-DNAT/-MASQ/-SETMARK with their jumps from PREROUTING, OUTPUT and POSTROUTING, which it never
// removes. This file finds what belongs to one container or one network and deletes it in one
// `iptables-restore --noflush` transaction (all or nothing, so a concurrent change cannot be half-undone).

import { createHash } from 'node:crypto';
import { runCommand } from './cni-exec.js';
import { PodNetworkError } from './errors.js';

export interface NatRule {
  /** The rule as `iptables-save` prints it, `-A CHAIN ...`. */
  line: string;
  chain: string;
  /** The `--comment` text, unescaped. */
  comment?: string;
  /** The `-j` target. */
  target?: string;
  /** Protocol (`-p`), lower case. */
  protocol?: string;
  /** Destination ports (`--dport` / `--dports`). */
  ports: number[];
}

export interface NatTable {
  chains: Set<string>;
  rules: NatRule[];
}

export const SHARED_HOSTPORT_CHAINS = [
  'CNI-HOSTPORT-DNAT',
  'CNI-HOSTPORT-MASQ',
  'CNI-HOSTPORT-SETMARK',
] as const;

/** Parses the `*nat` section of `iptables-save` output. */
export function parseNatTable(text: string): NatTable {
  const chains = new Set<string>();
  const rules: NatRule[] = [];
  let inNat = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      inNat = line === '*nat';
      continue;
    }
    if (!inNat) continue;
    if (line.startsWith(':')) {
      const name = line.slice(1).split(/\s+/)[0];
      if (name !== undefined && name !== '') chains.add(name);
    } else if (line.startsWith('-A ')) {
      rules.push(parseRule(line));
    }
  }
  return { chains, rules };
}

function parseRule(line: string): NatRule {
  const chain = line.split(/\s+/)[1] ?? '';
  const commentMatch = /--comment "((?:[^"\\]|\\.)*)"/.exec(line) ?? /--comment (\S+)/.exec(line);
  const comment = commentMatch?.[1]?.replace(/\\(.)/g, '$1');
  const target = /(?:^|\s)-j (\S+)/.exec(line)?.[1];
  const protocol = /(?:^|\s)-p (\S+)/.exec(line)?.[1]?.toLowerCase();
  const ports: number[] = [];
  const portsMatch = /--dports? (\S+)/.exec(line);
  if (portsMatch?.[1] !== undefined) {
    for (const item of portsMatch[1].split(',')) {
      const [from, to] = item.split(':').map(Number);
      if (from === undefined || !Number.isInteger(from)) continue;
      const end = to !== undefined && Number.isInteger(to) ? to : from;
      for (let p = from; p <= end && ports.length < 65536; p++) ports.push(p);
    }
  }
  return {
    line,
    chain,
    ports,
    ...(comment === undefined ? {} : { comment }),
    ...(target === undefined ? {} : { target }),
    ...(protocol === undefined ? {} : { protocol }),
  };
}

/** The network/container a rule was added for, from the comment the plugins write. */
export function ruleOwner(rule: NatRule): { network: string; containerId: string } | undefined {
  const match = /(?:^|\s)name: "([^"]*)" id: "([^"]*)"/.exec(rule.comment ?? '');
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  return { network: match[1], containerId: match[2] };
}

/** Chain names the plugins derive from network name + container id (libcni's FormatChainName). */
export function containerChainNames(network: string, containerId: string): string[] {
  const hash = createHash('sha512')
    .update(network + containerId)
    .digest('hex');
  return [`CNI-${hash.slice(0, 24)}`, `CNI-DN-${hash.slice(0, 21)}`];
}

/**
 * The `iptables-restore --noflush` script that removes the rules owned by (network, containerId) — or by any
 * container of the network when containerId is undefined — and the per-container chains they jump to.
 * Returns undefined when there is nothing to remove.
 */
export function removalScript(table: NatTable, network: string, containerId?: string): string | undefined {
  const owned = (r: NatRule): boolean => {
    const owner = ruleOwner(r);
    return (
      owner !== undefined &&
      owner.network === network &&
      (containerId === undefined || owner.containerId === containerId)
    );
  };
  const shared = new Set<string>(SHARED_HOSTPORT_CHAINS);
  const deletes: string[] = [];
  const chains = new Set<string>();
  for (const rule of table.rules) {
    if (!owned(rule)) continue;
    deletes.push(`-D ${rule.line.slice(3)}`);
    if (
      rule.target?.startsWith('CNI-') === true &&
      !shared.has(rule.target) &&
      table.chains.has(rule.target)
    ) {
      chains.add(rule.target);
    }
  }
  if (containerId !== undefined) {
    for (const name of containerChainNames(network, containerId))
      if (table.chains.has(name)) chains.add(name);
  }
  // A chain to delete must not be referenced by a rule we keep (it would belong to someone else).
  for (const rule of table.rules) {
    if (!owned(rule) && rule.target !== undefined && chains.has(rule.target) && !chains.has(rule.chain)) {
      chains.delete(rule.target);
    }
  }
  if (deletes.length === 0 && chains.size === 0) return undefined;
  const lines = ['*nat', ...deletes];
  for (const chain of chains) lines.push(`-F ${chain}`);
  for (const chain of chains) lines.push(`-X ${chain}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/**
 * The script that removes portmap's shared chains when no network uses them any more (CNI-HOSTPORT-DNAT
 * holds no rule). CNI-HOSTPORT-DNAT is deleted without a flush: if another network adds a mapping
 * meanwhile, the delete fails and the whole transaction is dropped.
 */
export function sharedChainsRemovalScript(table: NatTable): string | undefined {
  if (!table.chains.has('CNI-HOSTPORT-DNAT')) return undefined;
  if (table.rules.some((r) => r.chain === 'CNI-HOSTPORT-DNAT')) return undefined;
  const shared = new Set<string>(SHARED_HOSTPORT_CHAINS);
  const lines = ['*nat'];
  for (const rule of table.rules) {
    if (!shared.has(rule.chain) && rule.target !== undefined && shared.has(rule.target)) {
      lines.push(`-D ${rule.line.slice(3)}`);
    }
  }
  for (const chain of ['CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK']) {
    if (table.chains.has(chain)) lines.push(`-F ${chain}`, `-X ${chain}`);
  }
  lines.push('-X CNI-HOSTPORT-DNAT', 'COMMIT', '');
  return lines.join('\n');
}

export async function readNatTable(): Promise<NatTable> {
  const result = await runCommand('iptables-save', ['-t', 'nat']);
  if (result.code !== 0) {
    throw new PodNetworkError(
      'CommandFailed',
      `iptables-save -t nat exited ${result.code}: ${result.stderr.trim()}`,
    );
  }
  return parseNatTable(result.stdout);
}

export async function applyRestore(script: string): Promise<void> {
  const result = await runCommand('iptables-restore', ['--noflush'], { input: script });
  if (result.code !== 0) {
    throw new PodNetworkError(
      'CommandFailed',
      `iptables-restore exited ${result.code}: ${result.stderr.trim()}`,
    );
  }
}

/** Removes every nat rule and chain the plugins left for one container (or the whole network). */
export async function sweepNatRules(network: string, containerId?: string): Promise<boolean> {
  const script = removalScript(await readNatTable(), network, containerId);
  if (script === undefined) return false;
  await applyRestore(script);
  return true;
}

/** Removes portmap's shared chains if nothing uses them. Best effort: a concurrent user wins. */
export async function removeUnusedSharedChains(): Promise<boolean> {
  const script = sharedChainsRemovalScript(await readNatTable());
  if (script === undefined) return false;
  try {
    await applyRestore(script);
    return true;
  } catch {
    return false;
  }
}
