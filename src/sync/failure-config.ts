/**
 * Validation of a job's failure settings (`failures`, `deletionThreshold`, `notify`,
 * `target.maxRequestsPerSecond`, `target.maxAttempts`); errors name the setting.
 */
export function validateFailureSettings(
  job: Record<string, unknown>,
  where: string,
  error: (message: string) => Error,
): void {
  const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  const whole = (v: unknown, min: number) => Number.isSafeInteger(v) && (v as number) >= min;
  const failures = job['failures'];
  if (failures !== undefined) {
    if (typeof failures !== 'object' || failures === null || Array.isArray(failures))
      throw error(`${where}: "failures" must be an object`);
    const f = failures as Record<string, unknown>;
    const hours = f['retryAfterHours'];
    if (
      hours !== undefined &&
      !(
        Array.isArray(hours) &&
        hours.length >= 1 &&
        hours.length <= 20 &&
        hours.every(positive) &&
        hours.every((h, i) => i === 0 || (h as number) > (hours[i - 1] as number))
      )
    )
      throw error(
        `${where}: "failures.retryAfterHours" must be 1 to 20 increasing numbers of hours > 0`,
      );
    for (const key of ['retryEveryHours', 'dropAfterDays'])
      if (f[key] !== undefined && !positive(f[key]))
        throw error(`${where}: "failures.${key}" must be a number > 0`);
    const q = f['quarantine'];
    if (q !== undefined) {
      if (typeof q !== 'object' || q === null || Array.isArray(q))
        throw error(`${where}: "failures.quarantine" must be an object`);
      const r = q as Record<string, unknown>;
      for (const key of ['minFailures', 'failures', 'always'])
        if (r[key] !== undefined && !whole(r[key], 1))
          throw error(`${where}: "failures.quarantine.${key}" must be a whole number ≥ 1`);
      if (r['ratio'] !== undefined && !(positive(r['ratio']) && (r['ratio'] as number) <= 1))
        throw error(`${where}: "failures.quarantine.ratio" must be a share above 0, at most 1`);
    }
  }
  if (job['deletionThreshold'] !== undefined && !whole(job['deletionThreshold'], 0))
    throw error(`${where}: "deletionThreshold" must be a whole number ≥ 0`);
  const notify = job['notify'];
  if (notify !== undefined) {
    const email = (notify as Record<string, unknown> | null)?.['email'];
    if (
      typeof notify !== 'object' ||
      notify === null ||
      (email !== undefined &&
        !(
          Array.isArray(email) &&
          email.length <= 20 &&
          email.every((e) => typeof e === 'string' && /^[^\s@<>,;]+@[^\s@<>,;]+$/.test(e))
        ))
    )
      throw error(`${where}: "notify.email" must be a list of up to 20 e-mail addresses`);
  }
  const target = job['target'] as Record<string, unknown> | undefined;
  if (target?.['maxRequestsPerSecond'] !== undefined && !positive(target['maxRequestsPerSecond']))
    throw error(`${where}: "target.maxRequestsPerSecond" must be a number > 0`);
  if (
    target?.['maxAttempts'] !== undefined &&
    !(whole(target['maxAttempts'], 1) && (target['maxAttempts'] as number) <= 10)
  )
    throw error(`${where}: "target.maxAttempts" must be a whole number from 1 to 10`);
}
