// The Kubernetes `Status` error shape, used on the wire and in process.
// Errors are recognised by `reason` (a closed union), never by `instanceof` or message text.

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'Invalid'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout';

export const statusCodes: Record<StatusReason, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  AlreadyExists: 409,
  Conflict: 409,
  Gone: 410,
  Expired: 410,
  RequestEntityTooLarge: 413,
  UnsupportedMediaType: 415,
  Invalid: 422,
  TooManyRequests: 429,
  InternalError: 500,
  ServiceUnavailable: 503,
  Timeout: 504,
};

export type CauseType =
  | 'FieldValueNotFound'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueTypeInvalid'
  | 'FieldImmutable'
  | 'UnexpectedServerResponse'
  | 'FieldManagerConflict';

export interface StatusCause {
  reason: CauseType;
  message: string;
  field: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never> | { resourceVersion?: string };
  status: 'Success' | 'Failure';
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

/** The one error type the API layers throw. `transient` says whether a retry may succeed. */
export class ApiError extends Error {
  readonly reason: StatusReason;
  readonly code: number;
  readonly details: StatusDetails | undefined;
  readonly transient: boolean;

  constructor(reason: StatusReason, message: string, details?: StatusDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiError';
    this.reason = reason;
    this.code = statusCodes[reason];
    this.details = details;
    this.transient =
      reason === 'Conflict' ||
      reason === 'TooManyRequests' ||
      reason === 'ServiceUnavailable' ||
      reason === 'Timeout';
  }

  toStatus(): Status {
    const status: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details !== undefined) status.details = this.details;
    return status;
  }
}

export function isApiError(err: unknown): err is ApiError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'ApiError';
}

/** `deployments.apps` / `pods`: the resource name kubectl prints in messages. */
function qualified(resource: string, group: string): string {
  return group === '' ? resource : `${resource}.${group}`;
}

export const errors = {
  notFound(resource: string, group: string, name: string): ApiError {
    return new ApiError('NotFound', `${qualified(resource, group)} "${name}" not found`, {
      name,
      group,
      kind: resource,
    });
  },
  alreadyExists(resource: string, group: string, name: string): ApiError {
    return new ApiError('AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, {
      name,
      group,
      kind: resource,
    });
  },
  conflict(resource: string, group: string, name: string, why?: string): ApiError {
    return new ApiError(
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": ${
        why ?? 'the object has been modified; please apply your changes to the latest version and try again'
      }`,
      { name, group, kind: resource },
    );
  },
  /** 422 listing every invalid field. `kind` is the Kind (e.g. `Deployment`). */
  invalid(kind: string, group: string, name: string, causes: StatusCause[]): ApiError {
    const list = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
    return new ApiError(
      'Invalid',
      `${kind}${group === '' ? '' : `.${group}`} "${name}" is invalid: [${list}]`,
      {
        name,
        group,
        kind,
        causes,
      },
    );
  },
  badRequest(message: string): ApiError {
    return new ApiError('BadRequest', message);
  },
  expired(message = 'too old resource version'): ApiError {
    return new ApiError('Expired', message);
  },
  methodNotAllowed(message: string): ApiError {
    return new ApiError('MethodNotAllowed', message);
  },
  unsupportedMediaType(contentType: string, supported: string[]): ApiError {
    return new ApiError(
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${supported.join(', ')} (got ${JSON.stringify(contentType)})`,
    );
  },
  tooLarge(limit: number): ApiError {
    return new ApiError('RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);
  },
  unauthorized(): ApiError {
    return new ApiError('Unauthorized', 'Unauthorized');
  },
  forbidden(message: string): ApiError {
    return new ApiError('Forbidden', message);
  },
  internal(message: string, cause?: unknown): ApiError {
    return new ApiError('InternalError', `Internal error occurred: ${message}`, undefined, { cause });
  },
  unavailable(message: string): ApiError {
    return new ApiError('ServiceUnavailable', message);
  },
};

/** Field-path helpers for validation causes. */
export function cause(reason: CauseType, field: string, message: string): StatusCause {
  return { reason, field, message };
}
