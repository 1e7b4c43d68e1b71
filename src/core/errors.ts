/**
 * Roster's one error family: every refusal, whoever throws it (core, app, storage, http),
 * is a DomainError carrying a stable code from the catalogue below. The catalogue gives
 * each code its kind, its HTTP status and, where RFC 7644 §3.12 defines one, its SCIM
 * `scimType`; each API surface renders any DomainError in its own format
 * (src/http/errors.ts). Anything else that escapes is a bug: it is answered with a 500
 * whose detail never echoes the cause.
 *
 * `ScimError` is the same class under its older name, with the SCIM-shaped constructor
 * `new ScimError(status, scimType, detail)` kept: it finds the catalogue code of that
 * status and scimType.
 */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

/** What went wrong, in the words a caller branches on; the status follows from it. */
export type ErrorKind =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'timeout'
  | 'conflict'
  | 'precondition_failed'
  | 'too_large'
  | 'unsupported'
  | 'misdirected'
  | 'too_many'
  | 'internal'
  | 'unavailable';

export interface ErrorDefinition {
  readonly kind: ErrorKind;
  readonly status: number;
  /** RFC 7644 §3.12 table 9, where one applies. */
  readonly scimType?: ScimType;
  /** What the code means, for the docs and for a detail-less error. */
  readonly description: string;
}

/**
 * The catalogue, in the manner of Fastify's errors.js: one entry per stable code. Codes
 * never change meaning once published; clients of the REST and admin APIs branch on them.
 * The generic entry of each status (and of each scimType) comes first: it is the one a
 * status and scimType alone resolve to.
 */
export const ERRORS = {
  // Generic, one per status.
  invalid_request: {
    kind: 'invalid',
    status: 400,
    description: 'A parameter or body field is not valid.',
  },
  unauthorized: {
    kind: 'unauthorized',
    status: 401,
    description: 'No credentials, or credentials that are not valid here.',
  },
  forbidden: { kind: 'forbidden', status: 403, description: 'The caller may not do this.' },
  not_found: { kind: 'not_found', status: 404, description: 'No such resource or route.' },
  timeout: {
    kind: 'timeout',
    status: 408,
    description: 'The request did not arrive in time.',
  },
  conflict: {
    kind: 'conflict',
    status: 409,
    description: 'The request conflicts with the current state (a job running, say).',
  },
  precondition_failed: {
    kind: 'precondition_failed',
    status: 412,
    description: 'If-Match names another version of the resource (RFC 7644 §3.14).',
  },
  payload_too_large: {
    kind: 'too_large',
    status: 413,
    description: 'The request body is larger than the server accepts.',
  },
  unsupported_media_type: {
    kind: 'unsupported',
    status: 415,
    description: 'The Content-Type is not one this API reads.',
  },
  wrong_region: {
    kind: 'misdirected',
    status: 421,
    description: "The account lives in another region: use its own region's URL.",
  },
  rate_limited: {
    kind: 'too_many',
    status: 429,
    description: 'Too many requests with this token or client; see Retry-After.',
  },
  headers_too_large: {
    kind: 'too_large',
    status: 431,
    description: 'The request headers are larger than 16 KB.',
  },
  internal_error: {
    kind: 'internal',
    status: 500,
    description: 'A bug; it is logged, the answer echoes nothing of it.',
  },
  unavailable: {
    kind: 'unavailable',
    status: 503,
    description: 'The server cannot answer now; retry after Retry-After.',
  },

  // RFC 7644 §3.12 scimTypes.
  invalid_filter: {
    kind: 'invalid',
    status: 400,
    scimType: 'invalidFilter',
    description: 'The filter is not valid SCIM filter syntax or names an unknown attribute.',
  },
  too_many_results: {
    kind: 'invalid',
    status: 400,
    scimType: 'tooMany',
    description: 'The request would touch more than the server is willing to (filter, PATCH).',
  },
  not_unique: {
    kind: 'conflict',
    status: 409,
    scimType: 'uniqueness',
    description: 'A unique value is already taken in this account.',
  },
  immutable_attribute: {
    kind: 'invalid',
    status: 400,
    scimType: 'mutability',
    description: 'The request changes a read-only or immutable attribute.',
  },
  invalid_syntax: {
    kind: 'invalid',
    status: 400,
    scimType: 'invalidSyntax',
    description: 'The body is not valid JSON or not the message the endpoint expects.',
  },
  invalid_path: {
    kind: 'invalid',
    status: 400,
    scimType: 'invalidPath',
    description: 'A PATCH path or attribute path is not valid.',
  },
  no_target: {
    kind: 'invalid',
    status: 400,
    scimType: 'noTarget',
    description: 'A PATCH path with a filter matched nothing.',
  },
  invalid_value: {
    kind: 'invalid',
    status: 400,
    scimType: 'invalidValue',
    description: 'A value has the wrong type or form, or a required one is missing.',
  },
  invalid_version: {
    kind: 'invalid',
    status: 400,
    scimType: 'invalidVers',
    description: 'The SCIM protocol version is not supported.',
  },
  sensitive_in_url: {
    kind: 'invalid',
    status: 400,
    scimType: 'sensitive',
    description: 'Personal data in the URL; use POST /.search.',
  },

  // Rules of the domain.
  user_name_taken: {
    kind: 'conflict',
    status: 409,
    scimType: 'uniqueness',
    description: 'Another user of the account has this userName (case-insensitively).',
  },
  team_name_taken: {
    kind: 'conflict',
    status: 409,
    scimType: 'uniqueness',
    description: 'Another team of the account has this displayName (case-insensitively).',
  },
  admin_email_taken: {
    kind: 'conflict',
    status: 409,
    scimType: 'uniqueness',
    description: 'The account already has an admin with this e-mail.',
  },
  last_admin: {
    kind: 'conflict',
    status: 409,
    description: 'The last active admin of an account cannot be deactivated.',
  },
  seats_exhausted: {
    kind: 'forbidden',
    status: 403,
    description: "The account's seat limit of active users is reached.",
  },
  missing_reference: {
    kind: 'conflict',
    status: 409,
    description: 'A row refers to one that no longer exists (deleted meanwhile).',
  },
  account_busy: {
    kind: 'unavailable',
    status: 503,
    description: 'The account already has its share of requests in progress.',
  },
  database_timeout: {
    kind: 'unavailable',
    status: 503,
    description: 'The database took too long and the statement was cancelled.',
  },
  database_contention: {
    kind: 'unavailable',
    status: 503,
    description: 'Concurrent writes kept colliding (deadlock, serialisation, busy).',
  },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

/** The catalogue code of a status and scimType: the first entry that has both, else the status's. */
export function codeOf(status: number, scimType?: ScimType): ErrorCode {
  const entries = Object.entries(ERRORS) as [ErrorCode, ErrorDefinition][];
  const exact = entries.find(([, d]) => d.status === status && d.scimType === scimType);
  if (exact !== undefined) return exact[0];
  const byStatus = entries.find(([, d]) => d.status === status && d.scimType === undefined);
  if (byStatus !== undefined) return byStatus[0];
  return status >= 500 ? 'internal_error' : 'invalid_request';
}

export interface DomainErrorOptions {
  /** Extra response headers, e.g. Retry-After on 429 and 503. */
  readonly headers?: Record<string, string> | undefined;
  readonly cause?: unknown;
}

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly status: number;
  readonly scimType: ScimType | undefined;
  /** Written for the person reading it (the IdP admin, the CLI user, the console). */
  readonly detail: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, detail?: string, options?: DomainErrorOptions);
  /** The SCIM-shaped form: the code is the catalogue's for this status and scimType. */
  constructor(
    status: number,
    scimType: ScimType | undefined,
    detail: string,
    headers?: Record<string, string>,
  );
  constructor(
    first: ErrorCode | number,
    second?: string | ScimType,
    third?: string | DomainErrorOptions,
    fourth?: Record<string, string>,
  ) {
    let code: ErrorCode;
    let detail: string;
    let options: DomainErrorOptions;
    if (typeof first === 'number') {
      code = codeOf(first, second as ScimType | undefined);
      detail = third as string;
      options = { headers: fourth };
    } else {
      code = first;
      detail = (second as string | undefined) ?? ERRORS[first].description;
      options = (third as DomainErrorOptions | undefined) ?? {};
    }
    super(detail, options.cause !== undefined ? { cause: options.cause } : undefined);
    const definition: ErrorDefinition = ERRORS[code];
    this.name = 'DomainError';
    this.code = code;
    this.kind = definition.kind;
    this.status = definition.status;
    this.scimType = definition.scimType;
    this.detail = detail;
    this.headers = options.headers ?? {};
  }
}

/** The older name of DomainError, kept for its SCIM-shaped constructor. */
export { DomainError as ScimError };

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export interface ScimErrorBody {
  schemas: [typeof ERROR_SCHEMA];
  status: string;
  scimType?: ScimType;
  detail: string;
}

/** RFC 7644 §3.12: `status` is a string in the body. */
export function errorBody(error: DomainError): ScimErrorBody {
  const body: ScimErrorBody = {
    schemas: [ERROR_SCHEMA],
    status: String(error.status),
    detail: error.detail,
  };
  if (error.scimType !== undefined) body.scimType = error.scimType;
  return body;
}

export const badRequest = (scimType: ScimType | undefined, detail: string): DomainError =>
  new DomainError(400, scimType, detail);

export const notFound = (detail: string): DomainError => new DomainError('not_found', detail);

export const conflict = (detail: string): DomainError => new DomainError('not_unique', detail);

export const preconditionFailed = (detail: string): DomainError =>
  new DomainError('precondition_failed', detail);
