/**
 * The one error type of Roster's SCIM layer (RFC 7644 §3.12).
 *
 * Everything that rejects a request throws a ScimError; the HTTP layer turns it
 * into an error body. Anything else that escapes is a bug: it is answered with a
 * 500 whose detail never echoes the cause.
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

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export class ScimError extends Error {
  readonly status: number;
  readonly scimType: ScimType | undefined;
  readonly detail: string;
  /** Extra response headers, e.g. Retry-After on 429. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    scimType: ScimType | undefined,
    detail: string,
    headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ScimError';
    this.status = status;
    this.scimType = scimType;
    this.detail = detail;
    this.headers = headers;
  }
}

export interface ScimErrorBody {
  schemas: [typeof ERROR_SCHEMA];
  status: string;
  scimType?: ScimType;
  detail: string;
}

/** RFC 7644 §3.12: `status` is a string in the body. */
export function errorBody(error: ScimError): ScimErrorBody {
  const body: ScimErrorBody = {
    schemas: [ERROR_SCHEMA],
    status: String(error.status),
    detail: error.detail,
  };
  if (error.scimType !== undefined) body.scimType = error.scimType;
  return body;
}

export const badRequest = (scimType: ScimType | undefined, detail: string): ScimError =>
  new ScimError(400, scimType, detail);

export const notFound = (detail: string): ScimError => new ScimError(404, undefined, detail);

export const conflict = (detail: string): ScimError => new ScimError(409, 'uniqueness', detail);

export const preconditionFailed = (detail: string): ScimError =>
  new ScimError(412, undefined, detail);
