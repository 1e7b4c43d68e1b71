import { DomainError, type ErrorCode } from '../core/errors.js';

/**
 * Errors of the platform use cases (accounts, admins, tokens): the one DomainError
 * (src/core/errors.ts) under the name and constructor these use cases have always had.
 * Messages are written for the person at the CLI or the admin console. Without a code,
 * the kind picks the catalogue's generic one (invalid → `invalid_request` 400,
 * not_found → `not_found` 404, conflict → `conflict` 409); a code names the rule.
 */
export type AppErrorKind = 'invalid' | 'not_found' | 'conflict';

const GENERIC: Record<AppErrorKind, ErrorCode> = {
  invalid: 'invalid_request',
  not_found: 'not_found',
  conflict: 'conflict',
};

export class AppError extends DomainError {
  constructor(kind: AppErrorKind, message: string, code: ErrorCode = GENERIC[kind]) {
    super(code, message);
    this.name = 'AppError';
  }
}
