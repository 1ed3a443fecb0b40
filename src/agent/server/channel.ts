// The Kubernetes remote-command channel protocol over WebSocket (what kubectl exec and client-node speak).
//
// Every binary message is one byte naming the stream, then the payload:
//   0 stdin (client → server)   1 stdout   2 stderr   3 error/status (one JSON metav1.Status, v4+)
//   4 resize (client → server, JSON {"Width":W,"Height":H})   255 close (v5: [255, stream] half-closes it)
// Pure: no I/O here, so the framing is unit-tested alone.

export const channel = {
  stdin: 0,
  stdout: 1,
  stderr: 2,
  error: 3,
  resize: 4,
  close: 255,
} as const;

/** Subprotocols we speak, most preferred first. v1–v3 differ only in what the error channel carries. */
export const execProtocols = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
] as const;

export type ExecProtocol = (typeof execProtocols)[number];

/** The protocol to answer with: ours in our order of preference, among those the client offered. */
export function negotiateProtocol(offered: Iterable<string>): ExecProtocol | undefined {
  const set = new Set([...offered].map((p) => p.trim()));
  return execProtocols.find((p) => set.has(p));
}

/** The first version (v4) whose error channel carries a JSON Status with the exit code. */
export function statusIsJson(protocol: ExecProtocol): boolean {
  return protocol === 'v5.channel.k8s.io' || protocol === 'v4.channel.k8s.io';
}

export function encodeFrame(stream: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  const out = Buffer.allocUnsafe(body.length + 1);
  out[0] = stream;
  body.copy(out, 1);
  return out;
}

export type ClientFrame =
  | { kind: 'stdin'; data: Buffer }
  | { kind: 'resize'; width: number; height: number }
  | { kind: 'close'; stream: number }
  | { kind: 'ignored'; stream: number }
  | { kind: 'invalid'; reason: string };

/** Decode one message a client sent. */
export function decodeClientFrame(message: Buffer): ClientFrame {
  if (message.length === 0) return { kind: 'invalid', reason: 'empty message' };
  const stream = message[0] ?? 0;
  const data = message.subarray(1);
  switch (stream) {
    case channel.stdin:
      return { kind: 'stdin', data };
    case channel.resize: {
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.toString('utf8'));
      } catch {
        return { kind: 'invalid', reason: 'resize message is not JSON' };
      }
      const o = parsed as { Width?: unknown; Height?: unknown };
      if (typeof o !== 'object' || o === null || typeof o.Width !== 'number' || typeof o.Height !== 'number')
        return { kind: 'invalid', reason: 'resize message needs numeric Width and Height' };
      return { kind: 'resize', width: o.Width, height: o.Height };
    }
    case channel.close:
      if (data.length < 1) return { kind: 'invalid', reason: 'close message names no stream' };
      return { kind: 'close', stream: data[0] ?? 0 };
    default:
      return { kind: 'ignored', stream };
  }
}

export interface ExitStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes: { reason: string; message: string }[] };
}

/** The Status sent on channel 3 when the command ended with `exitCode`. */
export function exitStatus(exitCode: number): ExitStatus {
  if (exitCode === 0) return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' };
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** The Status sent on channel 3 when the command could not run at all. */
export function failureStatus(message: string, code = 500): ExitStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: 'InternalError',
    code,
  };
}

/**
 * The error-channel payload for a protocol: the JSON Status for v4/v5; for v1–v3 a plain message,
 * and nothing at all on success.
 */
export function errorPayload(protocol: ExecProtocol, status: ExitStatus): string | undefined {
  if (statusIsJson(protocol)) return JSON.stringify(status);
  return status.status === 'Success' ? undefined : (status.message ?? 'error');
}

/** The exit code a client reads from a channel-3 Status (what kubectl does with it). */
export function exitCodeOfStatus(status: unknown): number | { error: string } {
  if (typeof status !== 'object' || status === null) return { error: 'malformed status' };
  const s = status as ExitStatus;
  if (s.status === 'Success') return 0;
  if (s.reason === 'NonZeroExitCode') {
    const cause = s.details?.causes.find((c) => c.reason === 'ExitCode');
    const code = cause === undefined ? NaN : Number.parseInt(cause.message, 10);
    if (Number.isInteger(code)) return code;
  }
  return { error: s.message ?? 'unknown error' };
}
