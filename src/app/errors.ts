/**
 * Errors of the platform use cases (accounts, admins, tokens). Messages are written
 * for the person at the CLI or the admin console; `kind` lets the admin API choose a
 * status (invalid → 400, not_found → 404, conflict → 409). SCIM requests use ScimError.
 */
export type AppErrorKind = 'invalid' | 'not_found' | 'conflict';

export class AppError extends Error {
  override name = 'AppError';

  constructor(
    readonly kind: AppErrorKind,
    message: string,
  ) {
    super(message);
  }
}
