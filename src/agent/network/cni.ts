// CniPodNetwork: the PodNetwork port over the standard CNI plugins (Debian containernetworking-plugins).
//
// Per pod: a named network namespace (`ip netns add <prefix><uid[0:12]>`), `lo` set up in it (by the spawn
// helper with a system call, as containerd does natively, not by the loopback plugin), then the chain
//   bridge + host-local IPAM (veth into the node bridge, an address from the pod CIDR,
//   default route via the bridge's .1, masquerade to outside the CIDR)  →  portmap (hostPort DNAT; only for
//   pods with hostPorts)
// each plugin run directly with the CNI protocol; the final result is saved per pod so DEL and CHECK get it
// as prevResult after an agent restart. See docs/design/agent-network.md.

import { access, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { bridgeMacFor, parseIpv4Cidr, type Ipv4Cidr } from './cidr.js';
import {
  cniPluginVersions,
  execCniPlugin,
  runCommand,
  runNative,
  type CniCommand,
  type CniResult,
} from './cni-exec.js';
import { PodNetworkError, isPodNetworkError } from './errors.js';
import {
  claimsFromNatTable,
  describePort,
  findHostPortProblem,
  probeHostPort,
  type HostPortClaim,
} from './host-ports.js';
import { readNatTable, removeUnusedSharedChains, ruleOwner, sweepNatRules } from './iptables.js';
import { PodStateStore, type PodNetworkRecord } from './state-store.js';
import type { PodNetwork, PodNetworkHooks, PodNetworkRequest, PodNetworkStatus } from './types.js';

export interface CniPodNetworkOptions {
  /** Network and bridge name (a Linux interface name: at most 15 characters). Default 'flotilla0'. */
  name?: string;
  /** The node's pod range, e.g. '10.42.0.0/24'; the bridge (and pods' gateway) takes the first address. */
  podCidr: string;
  /** Per-pod results and the host-local IPAM dataDir live here (e.g. `<data-dir>/agent/network`). */
  stateDir: string;
  /** Where the plugin binaries are. Default '/usr/lib/cni'. */
  cniBinDir?: string;
  /** Network namespace names are `<prefix><first 12 characters of the pod uid>`. Default 'flotilla-'. */
  netnsPrefix?: string;
  /** MTU of the bridge and the pod veths (default: the kernel's, 1500). */
  mtu?: number;
  /** Run CNI CHECK when setUp finds a pod already set up (default true); a failed check rebuilds it. */
  verifyExisting?: boolean;
  /** One line per event (setUp, tearDown, rebuilds, rollback problems). */
  log?: (line: string) => void;
}

type PluginType = 'loopback' | 'bridge' | 'portmap';

const NETNS_DIR = '/var/run/netns';
const POD_IFNAME = 'eth0';
/** The `id` in the comment of the node-wide masquerade rule (a pod's id is its uid). */
const MASQUERADE_ID = 'node-masquerade';
/** CNI versions Flotilla speaks, best first; the chain uses the best one every plugin supports. */
const PREFERRED_CNI_VERSIONS = ['1.0.0', '0.4.0'];

export class CniPodNetwork implements PodNetwork {
  readonly name: string;
  readonly cidr: Ipv4Cidr;
  private readonly stateDir: string;
  private readonly binDir: string;
  private readonly prefix: string;
  private readonly mtu: number | undefined;
  private readonly verifyExisting: boolean;
  private readonly logLine: (line: string) => void;
  private readonly store: PodStateStore;
  private readonly podLocks = new Map<string, Promise<unknown>>();
  /** Serialises the hostPort check and the ADD that claims the ports. */
  private hostPortLock: Promise<unknown> = Promise.resolve();
  private version: Promise<string> | undefined;
  /** The namespace dir has been seen to be a shared mount point (it stays one). */
  private netnsDirShared = false;
  private forwardingOn = false;
  private masquerade: Promise<void> | undefined;

  constructor(options: CniPodNetworkOptions) {
    this.name = options.name ?? 'flotilla0';
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(this.name)) {
      throw new PodNetworkError(
        'InvalidConfig',
        `network name "${this.name}" must be 1 to 15 letters, digits, '_', '.' or '-' (it names the bridge)`,
      );
    }
    this.cidr = parseIpv4Cidr(options.podCidr);
    this.stateDir = options.stateDir;
    this.binDir = options.cniBinDir ?? '/usr/lib/cni';
    this.prefix = options.netnsPrefix ?? 'flotilla-';
    if (!/^[A-Za-z0-9_.-]*$/.test(this.prefix)) {
      throw new PodNetworkError(
        'InvalidConfig',
        `netnsPrefix "${this.prefix}" may hold only letters, digits, '_', '.', '-'`,
      );
    }
    if (
      options.mtu !== undefined &&
      !(Number.isInteger(options.mtu) && options.mtu >= 576 && options.mtu <= 65535)
    ) {
      throw new PodNetworkError('InvalidConfig', `mtu ${options.mtu} is not from 576 to 65535`);
    }
    this.mtu = options.mtu;
    this.verifyExisting = options.verifyExisting ?? true;
    this.logLine = options.log ?? (() => undefined);
    this.store = new PodStateStore(this.stateDir);
  }

  /** The host-local IPAM directory (host-local adds the network name below its dataDir). */
  get ipamDir(): string {
    return join(this.stateDir, 'ipam', this.name);
  }

  netnsNameFor(podUid: string): string {
    return `${this.prefix}${podUid.slice(0, 12)}`;
  }

  namespacePath(podUid: string): string {
    return join(NETNS_DIR, this.netnsNameFor(podUid));
  }

  async setUp(req: PodNetworkRequest, hooks?: PodNetworkHooks): Promise<PodNetworkStatus> {
    checkPodUid(req.podUid);
    return this.withPodLock(req.podUid, () => this.setUpLocked(req, hooks));
  }

  async tearDown(podUid: string): Promise<void> {
    if (podUid === '' || podUid.includes('/') || podUid.includes('\0')) return;
    await this.withPodLock(podUid, () => this.tearDownLocked(podUid));
  }

  async status(podUid: string): Promise<PodNetworkStatus | undefined> {
    if (podUid === '' || podUid.includes('/')) return undefined;
    const record = await this.store.read(podUid);
    if (record?.phase !== 'ready' || !(await exists(record.netnsPath))) return undefined;
    return statusOf(record);
  }

  async list(): Promise<string[]> {
    const uids = new Set<string>();
    const known = new Set<string>();
    for (const uid of await this.store.list()) {
      const record = await this.store.read(uid);
      if (record === undefined) continue;
      uids.add(uid);
      known.add(record.netnsName);
    }
    // A namespace without a record (the record was removed by hand): reported by the uid prefix in its name,
    // which tearDown() accepts.
    for (const ns of await this.ourNetnsNames()) {
      if (!known.has(ns)) uids.add(ns.slice(this.prefix.length));
    }
    return [...uids].sort();
  }

  async destroy(): Promise<void> {
    const failures: string[] = [];
    for (const uid of await this.list()) {
      try {
        await this.tearDown(uid);
      } catch (err) {
        failures.push(`pod ${uid}: ${describe(err)}`);
      }
    }
    const link = await runCommand('ip', ['link', 'delete', this.name, 'type', 'bridge']);
    if (link.code !== 0 && !/cannot find device|does not exist/i.test(link.stderr)) {
      failures.push(`ip link delete ${this.name}: ${link.stderr.trim()}`);
    }
    try {
      this.masquerade = undefined;
      await sweepNatRules(this.name);
      await removeUnusedSharedChains();
      // portmap's DEL also runs ip6tables, which (iptables-nft) creates an `ip6 nat` table even for IPv4-only
      // pods; an empty one is ours to remove.
      const ip6 = await runCommand('nft', ['list', 'table', 'ip6', 'nat']);
      if (ip6.code === 0 && !/\bchain\b/.test(ip6.stdout))
        await runCommand('nft', ['delete', 'table', 'ip6', 'nat']);
    } catch (err) {
      failures.push(describe(err));
    }
    if (failures.length > 0) {
      throw new PodNetworkError(
        'TeardownFailed',
        `network ${this.name} not fully removed: ${failures.join('; ')}`,
      );
    }
    await rm(this.stateDir, { recursive: true, force: true });
    this.log('pod network removed', { network: this.name });
  }

  /**
   * Creates the bridge with its gateway address (the first address of the pod CIDR) and sets it up, as the
   * CNI bridge plugin would on the first pod, so agent services (cluster DNS) can listen on it before any
   * pod runs. Idempotent; the bridge plugin accepts the bridge and address as they are. Returns the address.
   * The bridge's MAC is pinned (see `bridgeMacFor`): the bridge plugin pins it only when it adds the
   * address itself, and a floating MAC stalls pod-to-node replies for seconds whenever a pod goes.
   */
  async ensureBridge(): Promise<string> {
    await this.ensureMasquerade();
    const add = await runCommand('ip', [
      'link',
      'add',
      'name',
      this.name,
      'type',
      'bridge',
      ...(this.mtu === undefined ? [] : ['mtu', String(this.mtu)]),
    ]);
    if (add.code !== 0 && !/exists/i.test(add.stderr))
      throw new PodNetworkError('CommandFailed', `ip link add ${this.name}: ${add.stderr.trim()}`);
    const address = `${this.cidr.gateway}/${this.cidr.prefixLength}`;
    const addr = await runCommand('ip', ['addr', 'add', address, 'dev', this.name]);
    if (addr.code !== 0 && !/exists|already assigned/i.test(addr.stderr))
      throw new PodNetworkError(
        'CommandFailed',
        `ip addr add ${address} dev ${this.name}: ${addr.stderr.trim()}`,
      );
    const mac = bridgeMacFor(this.cidr.gateway);
    const up = await runCommand('ip', ['link', 'set', 'dev', this.name, 'address', mac, 'up']);
    if (up.code !== 0)
      throw new PodNetworkError(
        'CommandFailed',
        `ip link set ${this.name} address ${mac} up: ${up.stderr.trim()}`,
      );
    return this.cidr.gateway;
  }

  // ---- setUp -------------------------------------------------------------------------------------------

  private async setUpLocked(req: PodNetworkRequest, hooks?: PodNetworkHooks): Promise<PodNetworkStatus> {
    const existing = await this.store.read(req.podUid);
    if (existing?.phase === 'ready' && (await exists(existing.netnsPath))) {
      if (!this.verifyExisting) return statusOf(existing);
      try {
        await this.checkChain(existing);
        return statusOf(existing);
      } catch (err) {
        this.log('pod network failed CNI CHECK; rebuilding it', {
          podUid: req.podUid,
          error: describe(err),
        });
      }
    }
    if (existing !== undefined || (await exists(join(NETNS_DIR, this.netnsNameFor(req.podUid))))) {
      // Leftovers of an interrupted setUp, a failed check or a namespace that vanished: start clean.
      await this.tearDownLocked(req.podUid);
    }
    await this.ensureForwarding();
    await this.ensureMasquerade();
    const cniVersion = await this.cniVersion();
    if (req.hostPorts.length === 0) return this.create(req, cniVersion, hooks);
    return this.withHostPortLock(async () => {
      await this.checkHostPorts(req);
      return this.create(req, cniVersion, hooks);
    });
  }

  private async create(
    req: PodNetworkRequest,
    cniVersion: string,
    hooks: PodNetworkHooks | undefined,
  ): Promise<PodNetworkStatus> {
    const netnsName = this.netnsNameFor(req.podUid);
    const plugins: PluginType[] = req.hostPorts.length > 0 ? ['bridge', 'portmap'] : ['bridge'];
    let record: PodNetworkRecord = {
      version: 1,
      podUid: req.podUid,
      podName: req.podName,
      podNamespace: req.podNamespace,
      containerId: req.podUid,
      netnsName,
      netnsPath: join(NETNS_DIR, netnsName),
      ifName: POD_IFNAME,
      network: this.name,
      cniVersion,
      hostPorts: req.hostPorts.map((m) => ({ ...m })),
      nodeMasquerade: true,
      plugins,
      phase: 'creating',
      ips: [],
      createdAt: new Date().toISOString(),
    };
    const attempted: PluginType[] = [];
    let result: CniResult | undefined;
    try {
      // The record and the namespace at once: a crash between them leaves a namespace whose name carries
      // our prefix and the pod uid, which list() reports and tearDown() removes like any other.
      const [, add] = await Promise.all([this.store.write(record), this.addNetns(record.netnsPath)]);
      if (add.code !== 0) {
        throw new PodNetworkError('CommandFailed', `ip netns add ${netnsName}: ${add.stderr.trim()}`);
      }
      hooks?.namespaceReady?.(record.netnsPath);
      // lo goes up beside bridge (which creates eth0); the rest of the chain runs in order on bridge's
      // result. Both settle before a failure is thrown, so the rollback never races a step still running.
      attempted.push('bridge');
      const [lo, bridged] = await Promise.allSettled([
        this.loopbackUp(record),
        this.invoke('bridge', 'ADD', record, undefined),
      ]);
      if (bridged.status === 'rejected') throw bridged.reason;
      result = bridged.value;
      if (lo.status === 'rejected') throw lo.reason;
      for (const plugin of plugins.slice(1)) {
        attempted.push(plugin);
        const out = await this.invoke(plugin, 'ADD', record, result);
        if (out !== undefined) result = out;
      }
      if (result === undefined)
        throw new PodNetworkError('PluginFailed', 'CNI bridge ADD returned no result');
      const ips = ipsOf(result);
      if (ips.length === 0)
        throw new PodNetworkError('PluginFailed', 'CNI bridge ADD returned no IP address');
      record = { ...record, phase: 'ready', result, ips };
      await this.store.write(record);
      this.log('pod network set up', { podUid: req.podUid, netns: netnsName, ips });
      return statusOf(record);
    } catch (err) {
      await this.undo(record, attempted, result);
      throw err;
    }
  }

  /** Rolls back a failed ADD: DEL of every plugin attempted (reverse order), the rules, the netns, the record. */
  private async undo(
    record: PodNetworkRecord,
    attempted: PluginType[],
    result: CniResult | undefined,
  ): Promise<void> {
    try {
      await this.release({ ...record, plugins: attempted, ...(result === undefined ? {} : { result }) });
      await this.store.remove(record.podUid);
    } catch (err) {
      // Keep the record: tearDown (or the next setUp) finishes the job.
      this.log('rollback of a failed pod network setUp left something behind', {
        podUid: record.podUid,
        error: describe(err),
      });
    }
  }

  private async checkHostPorts(req: PodNetworkRequest): Promise<void> {
    const claims: HostPortClaim[] = [];
    const ours = new Set<string>();
    for (const uid of await this.store.list()) {
      if (uid === req.podUid) continue;
      const other = await this.store.read(uid);
      if (other === undefined) continue;
      ours.add(other.containerId);
      for (const m of other.hostPorts) {
        claims.push({
          hostPort: m.hostPort,
          protocol: m.protocol,
          ...(m.hostIP === undefined ? {} : { hostIP: m.hostIP }),
          holder: `pod ${other.podNamespace}/${other.podName}`,
        });
      }
    }
    const table = await readNatTable();
    claims.push(
      ...claimsFromNatTable(
        table,
        (network, id) => network === this.name && (ours.has(id) || id === req.podUid),
      ),
    );
    let problem = findHostPortProblem(req.hostPorts, claims);
    for (const m of req.hostPorts) {
      if (problem !== undefined) break;
      problem = await probeHostPort(m);
    }
    if (problem !== undefined) {
      throw new PodNetworkError(
        problem.kind === 'conflict' ? 'HostPortConflict' : 'InvalidConfig',
        problem.message,
        {
          transient: problem.kind === 'conflict',
        },
      );
    }
  }

  // ---- tearDown ----------------------------------------------------------------------------------------

  private async tearDownLocked(podUid: string): Promise<void> {
    let record = await this.store.read(podUid);
    const netnsName = record?.netnsName ?? this.netnsNameFor(podUid);
    const netnsPath = join(NETNS_DIR, netnsName);
    const netnsExists = await exists(netnsPath);
    let containerId = record?.containerId;
    if (containerId === undefined) {
      // No record: the pod is unknown, or only its namespace or IPAM reservation is left. A namespace that
      // belongs to a recorded pod (a uid prefix of a live pod) is not this call's to remove.
      if (await this.recordedNetns(netnsName)) return;
      containerId = (await this.ipamOwner(podUid)) ?? (netnsExists ? podUid : undefined);
      if (containerId === undefined) return;
    }
    if (record === undefined) {
      record = {
        version: 1,
        podUid,
        podName: '',
        podNamespace: '',
        containerId,
        netnsName,
        netnsPath,
        ifName: POD_IFNAME,
        network: this.name,
        cniVersion: await this.cniVersion(),
        hostPorts: [],
        plugins: ['bridge', 'portmap'],
        phase: 'creating',
        ips: [],
        createdAt: new Date().toISOString(),
      };
    }
    await this.release(record);
    await this.store.remove(podUid);
    this.log('pod network torn down', { podUid, netns: netnsName });
  }

  /**
   * Undoes everything `record` stands for: DEL of its plugins (reverse order), the nat rules of its container,
   * the netns. Throws TeardownFailed (leaving the record for a retry) when something could not be removed.
   */
  private async release(record: PodNetworkRecord): Promise<void> {
    const { podUid, netnsName, containerId } = record;
    const netnsPath = join(NETNS_DIR, netnsName);
    const netnsExists = await exists(netnsPath);
    const problems: string[] = [];
    // DEL runs while the namespace still exists: bridge reads the pod's addresses from inside it to remove
    // its masquerade rules. With the namespace gone the spec lets CNI_NETNS be empty; the sweep below then
    // removes the rules bridge could not find.
    const del = { ...record, netnsPath: netnsExists ? record.netnsPath : '' };
    const failed: PluginType[] = [];
    const firstErrors: string[] = [];
    for (const plugin of [...record.plugins].reverse()) {
      try {
        await this.invoke(plugin, 'DEL', del, record.result);
      } catch (err) {
        // E.g. bridge DEL fails when someone flushed its masquerade chain: finish the rest, then retry below.
        failed.push(plugin);
        firstErrors.push(describe(err));
      }
    }
    // Per-pod nat rules exist only for host ports (portmap) or from bridge's own masquerade (old records).
    if (record.nodeMasquerade !== true || record.plugins.includes('portmap') || failed.length > 0) {
      try {
        await sweepNatRules(this.name, containerId);
      } catch (err) {
        problems.push(describe(err));
      }
    }
    if (netnsExists) {
      // Deleting the namespace also destroys the pod's end of the veth pair, and with it the host end.
      const out = await runNative({ op: 'netns-delete', netnsPath });
      if (out.code !== 0 && (await exists(netnsPath)))
        problems.push(`ip netns delete ${netnsName}: ${out.stderr.trim()}`);
    }
    if (failed.length > 0) {
      this.log('CNI DEL failed; retrying without the namespace', { podUid, errors: firstErrors });
      // Without a namespace, DEL only releases what is left (bridge: the IPAM reservation).
      for (const plugin of failed) {
        try {
          await this.invoke(plugin, 'DEL', { ...record, netnsPath: '' }, record.result);
        } catch (err) {
          problems.push(describe(err));
        }
      }
    }
    if (problems.length > 0) {
      throw new PodNetworkError('TeardownFailed', `pod ${podUid} network teardown: ${problems.join('; ')}`);
    }
  }

  private async recordedNetns(netnsName: string): Promise<boolean> {
    for (const uid of await this.store.list()) {
      if ((await this.store.read(uid))?.netnsName === netnsName) return true;
    }
    return false;
  }

  /**
   * The container id holding an IPAM reservation: `podUid` itself, or, for the 12-character uid prefix
   * list() reports for a namespace without a record, the full id starting with it.
   */
  private async ipamOwner(podUid: string): Promise<string | undefined> {
    let names: string[];
    try {
      names = await readdir(this.ipamDir);
    } catch {
      return undefined;
    }
    for (const file of names) {
      if (file === 'lock' || file.startsWith('last_reserved_ip')) continue;
      try {
        const id = (await readFile(join(this.ipamDir, file), 'utf8')).split(/\r?\n/)[0]?.trim();
        if (id === podUid || (podUid.length === 12 && id?.startsWith(podUid) === true)) return id;
      } catch {
        // Released meanwhile.
      }
    }
    return undefined;
  }

  // ---- CNI ---------------------------------------------------------------------------------------------

  /**
   * CNI CHECK of the chain. portmap 1.1.1's CHECK always fails for a pod without IPv6 (it looks for an ip6tables
   * chain it never created: containernetworking/plugins#819), so its rules are verified here instead.
   */
  private async checkChain(record: PodNetworkRecord): Promise<void> {
    // Records from before the native lo-up list the loopback plugin, whose CHECK looks at lo.
    if (!record.plugins.includes('loopback')) await this.loopbackUp(record);
    for (const plugin of record.plugins) {
      if (plugin === 'portmap') await this.checkHostPortRules(record);
      else await this.invoke(plugin, 'CHECK', record, record.result);
    }
  }

  private async checkHostPortRules(record: PodNetworkRecord): Promise<void> {
    const table = await readNatTable();
    const mine = table.rules.filter((r) => {
      const owner = r.chain === 'CNI-HOSTPORT-DNAT' ? ruleOwner(r) : undefined;
      return owner?.network === this.name && owner.containerId === record.containerId;
    });
    for (const m of record.hostPorts) {
      const protocol = m.protocol.toLowerCase();
      if (!mine.some((r) => r.protocol === protocol && r.ports.includes(m.hostPort))) {
        throw new PodNetworkError('PluginFailed', `portmap rule for ${describePort(m)} is missing`);
      }
    }
  }

  /**
   * `ip netns add`, done by the spawn helper once the namespace dir is a shared mount point. ip makes it
   * one on its first run (so namespaces bound there show in mount namespaces made later, e.g. containers'),
   * so the first pod on a fresh host goes through ip.
   */
  private async addNetns(netnsPath: string): Promise<{ code: number; stderr: string }> {
    this.netnsDirShared ||= await isSharedMountPoint(NETNS_DIR);
    if (this.netnsDirShared) return runNative({ op: 'netns-add', netnsPath });
    return runCommand('ip', ['netns', 'add', basename(netnsPath)]);
  }

  /** `lo` up in the pod's namespace (what the loopback plugin did; its DEL only set it down again). */
  private async loopbackUp(record: PodNetworkRecord): Promise<void> {
    const r = await runNative({ op: 'lo-up', netnsPath: record.netnsPath });
    if (r.code !== 0)
      throw new PodNetworkError('CommandFailed', `lo up in ${record.netnsName}: ${r.stderr.trim()}`);
  }

  private async invoke(
    plugin: PluginType,
    command: CniCommand,
    record: PodNetworkRecord,
    prevResult: CniResult | undefined,
  ): Promise<CniResult | undefined> {
    const config = this.pluginConfig(
      plugin,
      record,
      command === 'ADD' && plugin === 'bridge' ? undefined : prevResult,
    );
    return execCniPlugin(
      config,
      {
        command,
        containerId: record.containerId,
        netns: record.netnsPath,
        ifName: plugin === 'loopback' ? 'lo' : record.ifName,
        args: cniArgs(record),
      },
      { binDir: this.binDir },
    );
  }

  private pluginConfig(
    plugin: PluginType,
    record: PodNetworkRecord,
    prevResult: CniResult | undefined,
  ): Record<string, unknown> & { type: string } {
    const base = { cniVersion: record.cniVersion, name: this.name, type: plugin };
    // loopback's own result is never a prevResult: it describes lo, not the pod's address.
    const prev = prevResult === undefined || plugin === 'loopback' ? {} : { prevResult };
    switch (plugin) {
      case 'loopback':
        return base;
      case 'bridge':
        return {
          ...base,
          bridge: this.name,
          isGateway: true,
          // One node-wide rule (ensureMasquerade) instead of a chain per pod: with iptables-nft every
          // per-pod rule change re-reads the whole nat table, which made 100 pod starts spend more CPU in
          // iptables than in runc. Records from before keep their per-pod rules until DEL removes them.
          ipMasq: record.nodeMasquerade !== true,
          hairpinMode: true,
          ...(this.mtu === undefined ? {} : { mtu: this.mtu }),
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: this.cidr.subnet, gateway: this.cidr.gateway }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: join(this.stateDir, 'ipam'),
          },
          ...prev,
        };
      case 'portmap':
        return {
          ...base,
          capabilities: { portMappings: true },
          snat: true,
          runtimeConfig: {
            portMappings: record.hostPorts.map((m) => ({
              hostPort: m.hostPort,
              containerPort: m.containerPort,
              protocol: m.protocol.toLowerCase(),
              ...(m.hostIP === undefined || m.hostIP === '' ? {} : { hostIP: m.hostIP }),
            })),
          },
          ...prev,
        };
    }
  }

  /** The best CNI version every plugin of the chain (and host-local) supports; checked once. */
  private cniVersion(): Promise<string> {
    this.version ??= (async () => {
      const lists = await Promise.all(
        ['bridge', 'host-local', 'portmap'].map((t) => cniPluginVersions(t, { binDir: this.binDir })),
      );
      const chosen = PREFERRED_CNI_VERSIONS.find((v) => lists.every((l) => l.includes(v)));
      if (chosen === undefined) {
        throw new PodNetworkError(
          'InvalidConfig',
          `the CNI plugins in ${this.binDir} support none of ${PREFERRED_CNI_VERSIONS.join(', ')}`,
        );
      }
      return chosen;
    })();
    this.version.catch(() => (this.version = undefined));
    return this.version;
  }

  /**
   * The one masquerade rule for the whole pod range: traffic from a pod to anything outside the range
   * leaves with the node's address (what bridge's ipMasq did per pod). Tagged with a comment in the
   * plugins' form (`name: "<network>" id: "..."`), so `destroy()` sweeps it with the network's rules.
   */
  ensureMasquerade(): Promise<void> {
    return (this.masquerade ??= (async () => {
      const subnet = this.cidr.subnet;
      const rule = [
        'POSTROUTING',
        '-s',
        subnet,
        '!',
        '-d',
        subnet,
        '-m',
        'comment',
        '--comment',
        `name: "${this.name}" id: "${MASQUERADE_ID}"`,
        '-j',
        'MASQUERADE',
      ];
      const check = await runCommand('iptables', ['-w', '-t', 'nat', '-C', ...rule]);
      if (check.code === 0) return;
      const add = await runCommand('iptables', ['-w', '-t', 'nat', '-A', ...rule]);
      if (add.code !== 0)
        throw new PodNetworkError(
          'CommandFailed',
          `iptables -t nat -A POSTROUTING (masquerade for ${subnet}): ${add.stderr.trim()}`,
        );
    })().catch((err: unknown) => {
      this.masquerade = undefined;
      throw err;
    }));
  }

  private async ensureForwarding(): Promise<void> {
    if (this.forwardingOn) return;
    const file = '/proc/sys/net/ipv4/ip_forward';
    if ((await readFile(file, 'utf8')).trim() !== '1') {
      await writeFile(file, '1\n');
      this.log('enabled net.ipv4.ip_forward for pod traffic');
    }
    this.forwardingOn = true;
  }

  private log(message: string, fields: Record<string, unknown> = {}): void {
    const parts = Object.entries(fields).map(
      ([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`,
    );
    this.logLine([`network ${this.name}: ${message}`, ...parts].join(' '));
  }

  private async ourNetnsNames(): Promise<string[]> {
    try {
      return (await readdir(NETNS_DIR)).filter(
        (n) => n.startsWith(this.prefix) && n.length > this.prefix.length,
      );
    } catch {
      return [];
    }
  }

  // ---- locks -------------------------------------------------------------------------------------------

  private withPodLock<T>(podUid: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.podLocks.get(podUid) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.podLocks.set(podUid, settled);
    void settled.then(() => {
      if (this.podLocks.get(podUid) === settled) this.podLocks.delete(podUid);
    });
    return next;
  }

  private withHostPortLock<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.hostPortLock.then(fn, fn);
    this.hostPortLock = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
}

function checkPodUid(podUid: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(podUid)) {
    throw new PodNetworkError('InvalidConfig', `pod uid "${podUid}" is not usable as a CNI container id`);
  }
}

function statusOf(record: PodNetworkRecord): PodNetworkStatus {
  return { podUid: record.podUid, netnsPath: record.netnsPath, ips: [...record.ips] };
}

function ipsOf(result: CniResult): string[] {
  const ips = (result.ips ?? []).map((ip) => ip.address.split('/')[0] ?? '').filter((ip) => ip !== '');
  // IPv4 first, as the port promises.
  return [...ips.filter((ip) => !ip.includes(':')), ...ips.filter((ip) => ip.includes(':'))];
}

function cniArgs(record: PodNetworkRecord): string {
  const args: [string, string][] = [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', record.podNamespace],
    ['K8S_POD_NAME', record.podName],
    ['K8S_POD_INFRA_CONTAINER_ID', record.containerId],
    ['K8S_POD_UID', record.podUid],
  ];
  return args
    .filter(([, v]) => v !== '' && !/[;=]/.test(v))
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
}

/** Whether `dir` (symlinks resolved) is a mount point with shared propagation, from /proc/self/mountinfo. */
async function isSharedMountPoint(dir: string): Promise<boolean> {
  try {
    const real = await realpath(dir);
    const info = await readFile('/proc/self/mountinfo', 'utf8');
    // "<id> <parent> <major:minor> <root> <mount point> <options> <optional fields...> - <fs> ..."
    return info.split('\n').some((line) => {
      const f = line.split(' ');
      return f[4] === real && f.slice(6, f.indexOf('-')).some((o) => o.startsWith('shared:'));
    });
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  if (path === '') return false;
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function describe(err: unknown): string {
  if (isPodNetworkError(err)) return err.message;
  return err instanceof Error ? err.message : String(err);
}
