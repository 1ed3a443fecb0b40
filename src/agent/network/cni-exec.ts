// The CNI protocol (spec 1.0): run one plugin binary with the CNI_* environment and the network
// configuration on stdin; a result (ADD) or nothing (DEL, CHECK) on stdout; on failure a non-zero exit and
// an error object `{ cniVersion, code, msg, details }` on stdout.

import { processRunner, type NativeOp, type RunOutcome } from '../spawn/helper.js';
import { join } from 'node:path';
import { PodNetworkError } from './errors.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

export interface CniInvocation {
  command: CniCommand;
  containerId: string;
  /** Path of the network namespace; '' for a DEL whose namespace is gone (the spec allows it). */
  netns: string;
  ifName: string;
  /** `K=V;K=V` (CNI_ARGS). */
  args?: string;
}

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

export interface CniIpConfig {
  /** `a.b.c.d/n` */
  address: string;
  gateway?: string;
  interface?: number;
}

/** The success result of ADD (the parts Flotilla reads; everything else is kept as it came). */
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
  [key: string]: unknown;
}

/** The error object a plugin prints on failure. */
export interface CniErrorObject {
  code: number;
  msg: string;
  details?: string;
}

export interface CniExecOptions {
  binDir: string;
  timeoutMs?: number;
}

/** Runs the plugin `config.type` from `binDir`. Resolves with the parsed stdout (undefined when empty). */
export async function execCniPlugin(
  config: Record<string, unknown> & { type: string },
  invocation: CniInvocation,
  opts: CniExecOptions,
): Promise<CniResult | undefined> {
  const binary = join(opts.binDir, config.type);
  if (!/^[A-Za-z0-9_.-]+$/.test(config.type)) {
    throw new PodNetworkError('InvalidConfig', `CNI plugin type "${config.type}" is not a plain binary name`);
  }
  const env: NodeJS.ProcessEnv = {
    CNI_COMMAND: invocation.command,
    CNI_CONTAINERID: invocation.containerId,
    CNI_NETNS: invocation.netns,
    CNI_IFNAME: invocation.ifName,
    CNI_PATH: opts.binDir,
    // Plugins run iptables, ip and friends through PATH.
    PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  };
  if (invocation.args !== undefined && invocation.args !== '') env['CNI_ARGS'] = invocation.args;

  const { code, stdout, stderr } = await run(binary, env, JSON.stringify(config), opts.timeoutMs ?? 60_000);
  const text = stdout.trim();
  if (code === 0) {
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as CniResult;
    } catch (err) {
      throw new PodNetworkError(
        'PluginFailed',
        `CNI ${config.type} ${invocation.command} printed invalid JSON: ${text}`,
        {
          cause: err,
        },
      );
    }
  }
  const error = parseCniError(text);
  const what = `CNI ${config.type} ${invocation.command} failed`;
  if (error !== undefined) {
    const details = error.details !== undefined && error.details !== '' ? ` (${error.details})` : '';
    throw new PodNetworkError('PluginFailed', `${what}: ${error.msg}${details}`, {
      cniCode: error.code,
      // 11 = "try again later" in the spec; everything else may also clear up, so retry is the default.
      transient: error.code !== 1 && error.code !== 7,
    });
  }
  const output = `${stderr}${stdout}`.trim();
  throw new PodNetworkError(
    'PluginFailed',
    `${what} (exit ${code}): ${output === '' ? 'no output' : output}`,
  );
}

export function parseCniError(text: string): CniErrorObject | undefined {
  if (text === '') return undefined;
  try {
    const value = JSON.parse(text) as Partial<CniErrorObject>;
    if (typeof value.code === 'number' && typeof value.msg === 'string') {
      return {
        code: value.code,
        msg: value.msg,
        ...(typeof value.details === 'string' ? { details: value.details } : {}),
      };
    }
  } catch {
    // Not JSON: the caller reports the raw output.
  }
  return undefined;
}

/** The versions a plugin speaks (`CNI_COMMAND=VERSION`). */
export async function cniPluginVersions(type: string, opts: CniExecOptions): Promise<string[]> {
  const result = (await execCniPlugin(
    { cniVersion: '1.0.0', type },
    { command: 'VERSION', containerId: '', netns: '', ifName: '' },
    opts,
  )) as { supportedVersions?: unknown } | undefined;
  const versions = result?.supportedVersions;
  return Array.isArray(versions) ? versions.filter((v): v is string => typeof v === 'string') : [];
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  file: string,
  env: NodeJS.ProcessEnv,
  input: string,
  timeoutMs: number,
): Promise<RunResult> {
  try {
    const r = await processRunner().run(file, [], { env, input, timeoutMs });
    return {
      code: r.code ?? (r.signal === null ? 1 : 128),
      stdout: r.stdout,
      stderr: r.signal === null ? r.stderr : `${r.stderr}killed by ${r.signal}`,
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new PodNetworkError('PluginFailed', `cannot run ${file}: ${message}`, { cause: err });
  }
}

/** Runs an ordinary command (ip, iptables-save, iptables-restore). */
export function runCommand(
  file: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return runResult(file, processRunner().run(file, args, { input: opts.input ?? '', timeoutMs }));
}

/** A step the spawn helper does by system call where it can (helper.ts), e.g. a namespace's lo up. */
export function runNative(step: NativeOp, opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return runResult(step.op, processRunner().native(step, { timeoutMs: opts.timeoutMs ?? 30_000 }));
}

async function runResult(what: string, outcome: Promise<RunOutcome>): Promise<RunResult> {
  try {
    const r = await outcome;
    return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new PodNetworkError('CommandFailed', `cannot run ${what}: ${message}`, { cause: err });
  }
}
