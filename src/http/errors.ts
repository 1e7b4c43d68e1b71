import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  DomainError,
  codeOf,
  errorBody,
  type ErrorCode,
  type ERRORS,
  type ScimErrorBody,
} from '../core/errors.js';
import { mapDatabaseError } from '../storage/db-errors.js';

/**
 * From anything thrown to what each API surface answers. `toDomainError` is the one
 * mapper: a DomainError (ScimError, AppError, RestError and AccountBusyError are all
 * DomainErrors) stays itself, a database error becomes its catalogue error, Fastify's own
 * errors theirs; anything else is a bug, answered with a 500 that echoes nothing of it.
 * The renderers below only format: status, headers and body come from the error.
 */
export function toDomainError(error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  const mapped = mapDatabaseError(error);
  if (mapped instanceof DomainError) return mapped;
  const e = error as { statusCode?: unknown; code?: unknown; message?: unknown };
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new DomainError(
        'unsupported_media_type',
        'Unsupported Content-Type: send application/json (application/scim+json on SCIM).',
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new DomainError(
        'payload_too_large',
        'The request body is larger than this server accepts; split the change into smaller requests.',
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new DomainError(
        'invalid_syntax',
        'The Content-Length header does not match the body.',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new DomainError('invalid_syntax', 'The request body is empty.');
    default:
      break;
  }
  // Fastify's other client errors (a route schema's validation, a malformed body):
  // their message is written for the client.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new DomainError(
      codeOf(e.statusCode),
      typeof e.message === 'string' && e.message !== '' ? e.message : 'Bad request.',
    );
  }
  return new DomainError(
    'internal_error',
    'Roster could not complete the request because of an internal error; it has been logged. Retrying later may succeed.',
  );
}

export interface RenderedError<Body> {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Body;
}

export interface JsonErrorBody {
  error: { code: ErrorCode; message: string };
}

/** The error's own headers; a 503 always says when to come back. */
function headersOf(error: DomainError): Record<string, string> {
  const headers = { ...error.headers };
  if (error.status === 503 && headers['Retry-After'] === undefined) headers['Retry-After'] = '5';
  return headers;
}

/** SCIM (RFC 7644 §3.12): the Error message, with scimType where the catalogue gives one. */
export function renderScimError(error: DomainError): RenderedError<ScimErrorBody> {
  return {
    status: error.status,
    headers: { ...headersOf(error), 'Content-Type': 'application/scim+json; charset=utf-8' },
    body: errorBody(error),
  };
}

/** The product REST API: `{"error": {"code", "message"}}`, the code from the catalogue. */
export function renderRestError(error: DomainError): RenderedError<JsonErrorBody> {
  return {
    status: error.status,
    headers: headersOf(error),
    body: { error: { code: error.code, message: error.detail } },
  };
}

/** The admin API (and the console's SSO routes): the REST body, never cached. */
export function renderAdminError(error: DomainError): RenderedError<JsonErrorBody> {
  const rest = renderRestError(error);
  return { ...rest, headers: { ...rest.headers, 'Cache-Control': 'no-store' } };
}

export function sendError<Body>(reply: FastifyReply, rendered: RenderedError<Body>): FastifyReply {
  return reply.code(rendered.status).headers(rendered.headers).send(rendered.body);
}

export type Surface = 'scim' | 'rest' | 'admin';

const RENDERERS = {
  scim: renderScimError,
  rest: renderRestError,
  admin: renderAdminError,
} as const satisfies Record<Surface, (error: DomainError) => RenderedError<unknown>>;

/**
 * The error handler of one API surface: map, log a 5xx with its cause (the answer echoes
 * none of it), render. `seen` lets a surface note the error (the SCIM provisioning log).
 */
export function errorHandler(
  surface: Surface,
  answering: string,
  seen?: (request: FastifyRequest, error: DomainError) => void,
) {
  const render: (error: DomainError) => RenderedError<unknown> = RENDERERS[surface];
  return async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const domainError = toDomainError(error);
    if (domainError.status >= 500)
      request.log.error({ err: error }, `unexpected error answering ${answering}`);
    seen?.(request, domainError);
    return sendError(reply, render(domainError));
  };
}

type StatusOf<C extends ErrorCode> = (typeof ERRORS)[C]['status'];

/**
 * A refusal written in an HTTP handler of the REST or admin API: the DomainError of
 * `code`. The status is the catalogue's; it is written at the call site for the reader,
 * and the compiler checks that it is the code's.
 */
export class RestError<C extends ErrorCode = ErrorCode> extends DomainError {
  constructor(status: StatusOf<C>, code: C, message: string) {
    super(code, message);
    this.name = 'RestError';
    void status;
  }
}

/** The codes the REST and admin handlers throw themselves. */
export type RestErrorCode = ErrorCode;
