import nodemailer from 'nodemailer';
import type { GuardOutcome } from './failure.js';
import type { JobHealth, SyncStateStore } from './state.js';

/**
 * The e-mails an admin gets from the engine, as Entra sends them: one when a job goes
 * into quarantine, another when the reason changes, and one when a cycle stages deletes.
 * SMTP comes from ROSTER_SMTP_URL (smtp://user:pass@host:port, smtps:// for TLS), the
 * sender from ROSTER_NOTIFY_FROM; the recipients are the job's `notify.email`.
 */
export interface Mail {
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
}

export interface Notifier {
  send(mail: Mail): Promise<void>;
}

export function smtpNotifier(
  url = process.env['ROSTER_SMTP_URL'],
  from = process.env['ROSTER_NOTIFY_FROM'] ?? 'roster@localhost',
): Notifier | undefined {
  if (url === undefined || url === '') return undefined;
  const transport = nodemailer.createTransport(url);
  return {
    async send(mail) {
      await transport.sendMail({ from, to: [...mail.to], subject: mail.subject, text: mail.text });
    },
  };
}

interface JobLike {
  readonly id: string;
  readonly notify?: { readonly email?: readonly string[] };
}

/** Mails what changed in the job's health and remembers it; a failed send is retried next cycle. */
export async function notifyHealth(
  state: SyncStateStore,
  job: JobLike,
  outcome: Pick<GuardOutcome, 'health'>,
  notifier?: Notifier,
): Promise<string[]> {
  const to = job.notify?.email ?? [];
  const { health } = outcome;
  const notified = { ...health.notified };
  const sent: string[] = [];
  const mailer = to.length > 0 ? (notifier ?? smtpNotifier()) : undefined;
  const send = async (mail: Omit<Mail, 'to'>): Promise<boolean> => {
    if (mailer === undefined) return false;
    try {
      await mailer.send({ ...mail, to });
      sent.push(mail.subject);
      return true;
    } catch {
      return false;
    }
  };
  const q = health.quarantine;
  if (q !== null && notified.quarantine !== q.code) {
    const changed = notified.quarantine !== undefined;
    const ok = await send({
      subject: changed
        ? `Roster sync job ${job.id}: quarantine reason changed to ${q.code}`
        : `Roster sync job ${job.id} is in quarantine (${q.code})`,
      text: [
        `The provisioning job ${job.id} is in quarantine since ${q.since}.`,
        `Reason: ${q.code} (Entra: ${q.reason})`,
        `Detail: ${q.detail}`,
        '',
        `What to do: ${q.fix.replaceAll('JOB', job.id)}`,
        '',
        'While in quarantine the job runs one cycle a day; a clean cycle lifts the quarantine.',
      ].join('\n'),
    });
    if (ok) notified.quarantine = q.code;
  } else if (q === null) delete notified.quarantine;
  const staged = health.staged;
  if (staged !== null && notified.staged === undefined) {
    const ok = await send({
      subject: `Roster sync job ${job.id}: ${staged.disables + staged.deletes} deletes staged`,
      text: [
        `A cycle of the provisioning job ${job.id} would disable ${staged.disables} and delete ${staged.deletes} objects,`,
        `more than its deletion threshold (${staged.threshold}). Nothing was disabled or deleted; the job is paused.`,
        '',
        `Review them: bin/roster sync log --job ${job.id} --action stagedDelete`,
        `If they are right, allow them: bin/roster sync allow-deletes --job ${job.id}`,
        '(admin API: POST /sync/jobs/ID/allow-deletes). If the source emptied by mistake,',
        'fix the source and restart the job instead.',
      ].join('\n'),
    });
    if (ok) notified.staged = staged.cycleId;
  } else if (staged === null) delete notified.staged;
  if (JSON.stringify(notified) !== JSON.stringify(health.notified)) {
    const next: JobHealth = { ...health, notified };
    await state.setHealth(job.id, next);
  }
  return sent;
}
