// Errors raised by the controller machinery. Recognised by `code`, never by `instanceof` or message text.

export type MachineryErrorCode =
  /** A wait (`Clock.sleep`) was cancelled through its AbortSignal. */
  | 'Aborted'
  /** A queue key or object key is malformed. */
  | 'InvalidKey'
  /** `Controller.start()` was called twice, or after `stop()`. */
  | 'AlreadyStarted'
  /** Informer caches are not synced yet; the caller should retry later. */
  | 'NotSynced'
  /** Several actions of one reconcile pass failed; `cause` holds the individual errors. */
  | 'ActionsFailed';

export class MachineryError extends Error {
  readonly code: MachineryErrorCode;
  readonly transient: boolean;

  constructor(code: MachineryErrorCode, message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MachineryError';
    this.code = code;
    this.transient = options?.transient ?? (code === 'NotSynced' || code === 'ActionsFailed');
  }
}

export function isMachineryError(err: unknown): err is MachineryError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'MachineryError';
}

/** A short human description of any thrown value, for logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown; reason?: unknown }).reason ?? (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
