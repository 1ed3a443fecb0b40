// `flotilla exec POD [-c C] [-i] [-t] -- CMD...`: run a command in a container over the WebSocket
// remote-command protocol (v5.channel.k8s.io, v4 accepted), as kubectl ≥ 1.30 does. Exits with the
// command's exit code. With -t the local terminal goes raw and its size follows the window.
import type { Command } from 'commander';
import { Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import WebSocket from 'ws';
import { apiErrorFromResponse, connectionError } from '../../api/client/client.js';
import { findByResource } from '../../api/resources.js';
import { channel, encodeFrame, exitCodeOfStatus } from '../../agent/server/channel.js';
import { CliError, failed, usageError } from '../io.js';
import type { Session } from '../session.js';
import { defaultContainer, podNameArg, streamingTransport } from './logs.js';

export interface ExecCliOptions {
  container?: string;
  stdin?: boolean;
  tty?: boolean;
}

/** Where exec input comes from and where the terminal is: the real process, or a test's captured IO. */
export interface ExecTerminal {
  input: NodeJS.ReadableStream;
  /** Raw mode and window size, when input and output are a terminal. */
  setRaw?: (raw: boolean) => void;
  size?: () => { columns: number; rows: number } | undefined;
  onResize?: (listener: () => void) => () => void;
}

function processTerminal(): ExecTerminal {
  const stdin = process.stdin;
  const t: ExecTerminal = { input: stdin };
  if (stdin.isTTY) t.setRaw = (raw) => stdin.setRawMode(raw);
  if (process.stdout.isTTY) {
    t.size = () => ({ columns: process.stdout.columns, rows: process.stdout.rows });
    t.onResize = (listener) => {
      process.stdout.on('resize', listener);
      return () => process.stdout.off('resize', listener);
    };
  }
  return t;
}

export async function runExec(
  session: Session,
  podArg: string,
  command: string[],
  opts: ExecCliOptions,
  terminal?: ExecTerminal,
): Promise<number> {
  const io = session.io;
  if (command.length === 0)
    throw usageError(
      'you must specify at least one command for the container (flotilla exec POD -- CMD ...)',
    );
  const name = podNameArg(podArg);
  const ns = await session.namespace();
  const client = await session.client();
  const info = findByResource('', 'v1', 'pods');
  if (info === undefined) throw failed('pods are not a known resource');
  const pod = await client.get(info, ns, name);
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  if (phase === 'Succeeded' || phase === 'Failed')
    throw failed(`cannot exec into a container in a completed pod; current phase is ${phase}`);
  const chosen = defaultContainer(pod, opts.container);
  if (chosen.note !== undefined) io.stderr.write(`${chosen.note}\n`);

  // Input: the real stdin when this is the real process, else what the IO gives (tests, embedding).
  const term: ExecTerminal =
    terminal ??
    (io.stdout === process.stdout
      ? processTerminal()
      : { input: Readable.from(opts.stdin === true ? [await io.readStdin()] : []) });
  const tty = opts.tty === true;
  const stdin = opts.stdin === true;
  const q = new URLSearchParams();
  for (const c of command) q.append('command', c);
  q.set('container', chosen.name);
  if (stdin) q.set('stdin', 'true');
  q.set('stdout', 'true');
  if (!tty) q.set('stderr', 'true');
  if (tty) q.set('tty', 'true');

  const config = await session.clientConfig();
  const { tls, headers } = streamingTransport(config);
  const base = config.server.replace(/\/+$/, '').replace(/^http/, 'ws');
  const url = `${base}/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}/exec?${q.toString()}`;
  const ws = new WebSocket(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io'], { ...tls, headers });

  const decoders = new Map<number, TextDecoder>();
  const write = (stream: number, data: Buffer): void => {
    let d = decoders.get(stream);
    if (d === undefined) decoders.set(stream, (d = new TextDecoder('utf-8')));
    const text = d.decode(data, { stream: true });
    if (text === '') return;
    (stream === channel.stderr ? io.stderr : io.stdout).write(text);
  };

  let raw = false;
  const cleanups: (() => void)[] = [];
  try {
    const result = await new Promise<number | { error: string }>((resolve, reject) => {
      let status: number | { error: string } | undefined;
      ws.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          reject(
            apiErrorFromResponse(res.statusCode ?? 500, Buffer.concat(chunks).toString('utf8'), res.headers),
          ),
        );
      });
      ws.on('error', (err) => reject(connectionError(config.server, err)));
      ws.on('open', () => {
        const v5 = ws.protocol === 'v5.channel.k8s.io';
        if (tty && term.setRaw !== undefined) {
          term.setRaw(true);
          raw = true;
        }
        const sendSize = (): void => {
          const size = term.size?.();
          if (size === undefined || ws.readyState !== ws.OPEN) return;
          ws.send(encodeFrame(channel.resize, JSON.stringify({ Width: size.columns, Height: size.rows })));
        };
        if (tty) {
          sendSize();
          const off = term.onResize?.(sendSize);
          if (off !== undefined) cleanups.push(off);
        }
        if (stdin) {
          const onData = (chunk: Buffer | string): void => {
            if (ws.readyState === ws.OPEN)
              ws.send(encodeFrame(channel.stdin, typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
          };
          const onEnd = (): void => {
            // v5 can half-close stdin; v4 cannot, so the command sees EOF only when the session ends.
            if (v5 && ws.readyState === ws.OPEN) ws.send(Buffer.from([channel.close, channel.stdin]));
          };
          term.input.on('data', onData);
          term.input.once('end', onEnd);
          cleanups.push(() => {
            term.input.off('data', onData);
            term.input.off('end', onEnd);
            (term.input as NodeJS.ReadableStream & { pause?: () => void }).pause?.();
          });
        }
        ws.on('message', (data: Buffer) => {
          if (data.length === 0) return;
          const stream = data[0];
          const payload = data.subarray(1);
          if (stream === channel.stdout || stream === channel.stderr) write(stream, payload);
          else if (stream === channel.error) {
            try {
              status = exitCodeOfStatus(JSON.parse(payload.toString('utf8')));
            } catch {
              status = { error: payload.toString('utf8') };
            }
          }
        });
        ws.on('close', () =>
          resolve(status ?? { error: 'the connection closed before the command finished' }),
        );
      });
    });
    if (typeof result !== 'number') throw failed(result.error);
    return result;
  } finally {
    for (const c of cleanups) c();
    if (raw) term.setRaw?.(false);
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
  }
}

export function registerExec(program: Command, session: (cmd: Command) => Session): void {
  program
    .command('exec')
    .description('run a command in a container')
    .argument('<pod>', 'pod name (or pod/NAME)')
    .argument('[command...]', 'the command and its arguments, after --')
    .option('-c, --container <name>', 'container (default: the only or first one)')
    .option('-i, --stdin', 'pass stdin to the command')
    .option('-t, --tty', 'allocate a terminal (use with -i for a shell)')
    .addHelpText(
      'after',
      `
Examples:
  flotilla exec web-7d9f-abcde -- ls /
  flotilla exec -it web-7d9f-abcde -c app -- sh
  echo hi | flotilla exec -i web-7d9f-abcde -- cat`,
    )
    .action(async (pod: string, command: string[], opts: ExecCliOptions, cmd: Command) => {
      const s = session(cmd);
      const code = await runExec(s, pod, command, opts);
      if (code !== 0) {
        s.io.stderr.write(`command terminated with exit code ${code}\n`);
        throw new CliError('Failed', '', { reported: true, exitCode: code });
      }
    });
}
