// Errors raised by RuncRuntime. Recognised by `code`, never by `instanceof` or message text.

export type RuntimeErrorCode =
  /** No container with that id under this runtime's root. */
  | 'NotFound'
  /** A container with that id already exists. */
  | 'AlreadyExists'
  /** The spec cannot be run: bad user, runAsNonRoot with uid 0, privileged not allowed, bad id. */
  | 'InvalidSpec'
  /** runc or conmon refused or failed (the message carries runc's own words). */
  | 'RuntimeFailed'
  /** The container is not in a state that allows the operation (e.g. exec in an exited container). */
  | 'InvalidState'
  /** The create was called off by its caller (`CreateOptions.after` rejected); nothing was left behind. */
  | 'Cancelled';

export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  readonly transient: boolean;

  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RuntimeError';
    this.code = code;
    this.transient = options?.transient ?? false;
  }
}

export function isRuntimeError(err: unknown): err is RuntimeError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'RuntimeError';
}
