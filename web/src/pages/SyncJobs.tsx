import { useEffect, useId, useState, type ReactNode } from 'react';
import { api, errorText, must } from '../api/client';
import {
  ConfirmDialog,
  ErrorLine,
  formatDate,
  Loading,
  PageTitle,
  TableWrap,
  useLoad,
} from '../components';
import { Link, navigate } from '../router';
import { accountPath } from '../App';

/**
 * Provisioning jobs (the sync engine, docs/engine.md): the list with each job's state, and
 * a job's page with run / restart, live progress, the last cycle's statistics, the
 * quarantine and staged-deletes banners, the impact preview, provision on demand and the
 * job's per-object provisioning log.
 */

type JobView = NonNullable<Awaited<ReturnType<typeof loadJob>>>;

interface Quarantine {
  code: string;
  reason: string;
  detail: string;
  fix: string;
  since: string;
}
interface Staged {
  disables: number;
  deletes: number;
  threshold: number;
  at: string;
}
type Counts = Partial<Record<string, number>>;
interface CycleSummary {
  kind?: string;
  status?: string;
  inScope?: { users: number; groups: number };
  users?: Counts;
  groups?: Counts;
  managers?: { set: number; cleared: number };
  memberships?: { added: number; removed: number };
  failures?: number;
  failed?: { objectType: string; sourceId: string; action: string; error: string }[];
  durationMs?: number;
  requests?: number;
  retries?: number;
  throttled?: number;
  escrow?: { deferred: number; waiting: number; dropped: number };
  staged?: number;
  error?: string;
}
interface Modified {
  name: string;
  old?: unknown;
  new?: unknown;
}
interface PreviewObject {
  objectType: string;
  sourceId: string;
  action: string;
  targetId: string | null;
  modified: Modified[];
  steps: { step: string; detail: string }[];
  requests: { method: string; path: string; body?: unknown; when?: string }[];
}
interface Preview {
  kind: string;
  headline: string;
  inScope: { users: number; groups: number };
  counts: {
    users: Counts;
    groups: Counts;
    managers: number;
    memberships: { added: number; removed: number };
    failures: number;
    deferred: number;
    stagedDeletes: number;
  };
  objects: PreviewObject[];
  truncated: boolean;
}
interface OnDemand {
  sourceId: string;
  objectType: string;
  durationMs: number;
  steps: { step: string; status: string; detail: string; data?: unknown }[];
}

const ACTIONS = ['create', 'update', 'disable', 'delete', 'skip', 'stagedDelete'] as const;
const ACTION_LABEL: Record<string, string> = {
  create: 'Create',
  update: 'Update',
  disable: 'Disable',
  delete: 'Delete',
  skip: 'Skip',
  stagedDelete: 'Staged delete',
  reference: 'Reference',
  matched: 'Matched',
};
const STEP_LABEL: Record<string, string> = {
  testConnection: 'Test connection',
  import: 'Import from the source',
  scope: 'Scope evaluation',
  match: 'Matching',
  action: 'Action',
  reference: 'Reference',
  escrow: 'Escrow',
};

function loadJob(accountId: string, id: string) {
  return must(
    api.GET('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}', {
      params: { path: { accountId, id } },
    }),
  );
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function duration(ms: number | undefined): string {
  if (ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function countsText(summary: CycleSummary | null | undefined): string {
  if (summary === null || summary === undefined) return '—';
  if (summary.error !== undefined) return `failed: ${summary.error}`;
  const parts: string[] = [];
  for (const key of ['create', 'update', 'disable', 'delete'] as const) {
    const n = (summary.users?.[key] ?? 0) + (summary.groups?.[key] ?? 0);
    if (n > 0) parts.push(`${n} ${key === 'update' ? 'updated' : `${key}d`}`);
  }
  if ((summary.failures ?? 0) > 0) parts.push(`${summary.failures} failed`);
  return parts.length === 0 ? 'no changes' : parts.join(', ');
}

/** The job's state in words: what an admin scans the list for. */
function StateBadge(props: { job: JobView }) {
  const { job } = props;
  if (job.running) return <span className="badge run">Running</span>;
  const staged = job.health.stagedDeletes as Staged | null;
  if (job.health.state === 'paused')
    return (
      <span className="badge warn">
        Paused: {(staged?.disables ?? 0) + (staged?.deletes ?? 0)} staged deletes
      </span>
    );
  if (job.health.state === 'quarantined') return <span className="badge off">Quarantined</span>;
  return <span className="badge ok">Healthy</span>;
}

/** Reloads every `ms` while `active`. */
function usePoll(active: boolean, reload: () => void, ms = 1000): void {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(reload, ms);
    return () => clearInterval(timer);
  }, [active, ms]);
}

/**
 * A new job from a JSON or CSV file of the account's source directory into this account's
 * tenant URL (the only target the admin API accepts), with a SCIM token of this account.
 */
function NewJobForm(props: { accountId: string; taken: string[] }) {
  const { accountId } = props;
  const id = useId();
  const account = useLoad(
    () => must(api.GET('/api/v1/admin/accounts/{accountId}/', { params: { path: { accountId } } })),
    [accountId],
  );
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({
    name: '',
    type: 'json' as 'json' | 'csv',
    path: '',
    groups: '',
    token: '',
    dialect: 'entra',
    schedule: '40',
    threshold: '',
  });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [key]: e.target.value });
  if (!open)
    return (
      <p>
        <button type="button" className="primary" onClick={() => setOpen(true)}>
          New job
        </button>
      </p>
    );
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>New job</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const name = form.name.trim();
          if (props.taken.includes(name)) {
            setError(`A job named ${name} exists already; choose another name.`);
            return;
          }
          if (account.data === undefined) return;
          setBusy(true);
          setError(null);
          const threshold = form.threshold.trim();
          must(
            api.PUT('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}', {
              params: { path: { accountId, id: name } },
              body: {
                source:
                  form.type === 'json'
                    ? { type: 'json', path: form.path.trim() }
                    : {
                        type: 'csv',
                        users: form.path.trim(),
                        ...(form.groups.trim() !== '' ? { groups: form.groups.trim() } : {}),
                      },
                target: {
                  url: account.data.tenantUrl,
                  token: form.token.trim(),
                  dialect: form.dialect,
                },
                scheduleMinutes: Number(form.schedule),
                ...(threshold !== '' ? { deletionThreshold: Number(threshold) } : {}),
              },
            }),
          )
            .then(() => navigate(accountPath(accountId, `/sync/jobs/${encodeURIComponent(name)}`)))
            .catch((err: unknown) => setError(errorText(err)))
            .finally(() => setBusy(false));
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-name`}>Job name</label>
          <input
            id={`${id}-name`}
            required
            pattern="[A-Za-z0-9._\-]+"
            aria-describedby={`${id}-name-d`}
            value={form.name}
            onChange={set('name')}
          />
          <p id={`${id}-name-d`} className="hint">
            Letters, digits, dot, underscore and hyphen.
          </p>
        </div>
        <fieldset>
          <legend>Source file</legend>
          <label className="inline">
            <input
              type="radio"
              name={`${id}-type`}
              checked={form.type === 'json'}
              onChange={() => setForm({ ...form, type: 'json' })}
            />{' '}
            JSON
          </label>
          <label className="inline">
            <input
              type="radio"
              name={`${id}-type`}
              checked={form.type === 'csv'}
              onChange={() => setForm({ ...form, type: 'csv' })}
            />{' '}
            CSV
          </label>
          <div className="field">
            <label htmlFor={`${id}-path`}>
              {form.type === 'json' ? 'JSON file' : 'Users CSV file'}
            </label>
            <input
              id={`${id}-path`}
              required
              aria-describedby={`${id}-path-d`}
              value={form.path}
              onChange={set('path')}
            />
            <p id={`${id}-path-d`} className="hint">
              A path inside this account&apos;s source directory on the server, e.g. people.json.
            </p>
          </div>
          {form.type === 'csv' && (
            <div className="field">
              <label htmlFor={`${id}-groups`}>Groups CSV file (optional)</label>
              <input id={`${id}-groups`} value={form.groups} onChange={set('groups')} />
            </div>
          )}
        </fieldset>
        <div className="field">
          <label htmlFor={`${id}-token`}>SCIM token</label>
          <input
            id={`${id}-token`}
            type="password"
            required
            autoComplete="off"
            aria-describedby={`${id}-token-d`}
            value={form.token}
            onChange={set('token')}
          />
          <p id={`${id}-token-d`} className="hint">
            A SCIM token of this account (Settings › Configuration › API Tokens); the job provisions
            into {account.data?.tenantUrl ?? 'this account'}.
          </p>
        </div>
        <div className="field">
          <label htmlFor={`${id}-dialect`}>PATCH dialect</label>
          <select id={`${id}-dialect`} value={form.dialect} onChange={set('dialect')}>
            <option value="entra">entra</option>
            <option value="entra-2020">entra-2020</option>
            <option value="rfc">rfc</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-schedule`}>Minutes between cycles</label>
          <input
            id={`${id}-schedule`}
            type="number"
            min={1}
            required
            value={form.schedule}
            onChange={set('schedule')}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-threshold`}>Deletion threshold (optional)</label>
          <input
            id={`${id}-threshold`}
            type="number"
            min={1}
            aria-describedby={`${id}-threshold-d`}
            value={form.threshold}
            onChange={set('threshold')}
          />
          <p id={`${id}-threshold-d`} className="hint">
            A cycle that would disable or delete more objects pauses until you allow them.
          </p>
        </div>
        <ErrorLine error={error} />
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || account.data === undefined}>
            Create job
          </button>
          <button type="button" onClick={() => setOpen(false)}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}

export function SyncJobsList(props: { accountId: string }) {
  const { accountId } = props;
  const jobs = useLoad(
    () =>
      must(
        api.GET('/api/v1/admin/accounts/{accountId}/sync/jobs', {
          params: { path: { accountId } },
        }),
      ),
    [accountId],
  );
  usePoll(jobs.data?.jobs.some((j) => j.running) ?? false, jobs.reload, 2000);
  return (
    <>
      <PageTitle title="Provisioning jobs" />
      <p className="hint">
        Jobs read users and groups from a file in this account&apos;s source directory and provision
        them into this account. Define them here, with the admin API or with{' '}
        <code>bin/roster sync</code> (docs/engine.md).
      </p>
      <NewJobForm accountId={accountId} taken={jobs.data?.jobs.map((j) => j.id) ?? []} />
      <ErrorLine error={jobs.error} />
      {jobs.data === undefined ? (
        <Loading />
      ) : jobs.data.jobs.length === 0 ? (
        <p className="muted">No provisioning job yet.</p>
      ) : (
        <TableWrap label="Provisioning jobs">
          <table className="stack">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">State</th>
                <th scope="col">Last cycle</th>
                <th scope="col">Next run</th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.jobs.map((job) => {
                const summary = job.lastCycle?.summary as CycleSummary | null | undefined;
                return (
                  <tr key={job.id}>
                    <td data-label="Job">
                      <Link
                        href={accountPath(accountId, `/sync/jobs/${encodeURIComponent(job.id)}`)}
                      >
                        {job.id}
                      </Link>
                      <p className="muted">
                        {job.source.type.toUpperCase()} source, every {job.scheduleMinutes} min
                      </p>
                    </td>
                    <td data-label="State">
                      <StateBadge job={job} />
                      {job.health.escrowed > 0 && (
                        <p className="muted">{job.health.escrowed} objects waiting to retry</p>
                      )}
                    </td>
                    <td data-label="Last cycle">
                      {job.lastCycle === null ? (
                        <span className="muted">Never run</span>
                      ) : (
                        <>
                          <p>{formatDate(job.lastCycle.finishedAt ?? job.lastCycle.startedAt)}</p>
                          <p className="muted">
                            {job.lastCycle.kind}, {job.lastCycle.status}: {countsText(summary)}
                          </p>
                        </>
                      )}
                    </td>
                    <td data-label="Next run">
                      {job.health.state === 'paused' ? (
                        <span className="muted">Waits for allowed deletes</span>
                      ) : (
                        formatDate(job.nextRunAt)
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}

function Progress(props: { job: JobView }) {
  const p = props.job.progress;
  if (!props.job.running) return null;
  const label =
    p === null || p.total === 0
      ? 'Reading the source and planning…'
      : `${p.done} of ${p.total} objects` +
        (p.etaSeconds === null ? '' : `, about ${duration(p.etaSeconds * 1000)} left`);
  return (
    <section className="card" aria-labelledby="progress-h">
      <h2 id="progress-h">Cycle in progress</h2>
      <progress
        aria-labelledby="progress-h"
        aria-describedby="progress-t"
        max={p !== null && p.total > 0 ? p.total : undefined}
        value={p !== null && p.total > 0 ? p.done : undefined}
      />
      <p id="progress-t" role="status">
        {label}
      </p>
    </section>
  );
}

function CountsTable(props: { caption: string; rows: [string, Counts | undefined][] }) {
  const columns = ['create', 'update', 'disable', 'delete', 'skip', 'stagedDelete'].filter((k) =>
    props.rows.some(([, c]) => (c?.[k] ?? 0) > 0),
  );
  if (columns.length === 0) return <p className="muted">No objects changed.</p>;
  return (
    <TableWrap label={props.caption}>
      <table>
        <caption className="visually-hidden">{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col">Object type</th>
            {columns.map((c) => (
              <th key={c} scope="col">
                {ACTION_LABEL[c]}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map(([name, c]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              {columns.map((k) => (
                <td key={k}>{c?.[k] ?? 0}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

function LastCycle(props: { job: JobView }) {
  const last = props.job.lastCycle;
  const s = (last?.summary ?? null) as CycleSummary | null;
  return (
    <section className="card" aria-labelledby="last-h">
      <h2 id="last-h">Last cycle</h2>
      {last === null ? (
        <p className="muted">The job has not run yet.</p>
      ) : (
        <>
          <dl className="attrs">
            <div>
              <dt>Status</dt>
              <dd>
                {last.kind} cycle, {last.status}
              </dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>{formatDate(last.startedAt)}</dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{duration(s?.durationMs)}</dd>
            </div>
            {s?.inScope !== undefined && (
              <div>
                <dt>In scope</dt>
                <dd>
                  {s.inScope.users} users, {s.inScope.groups} groups
                </dd>
              </div>
            )}
            <div>
              <dt>Failures</dt>
              <dd>{s?.failures ?? 0}</dd>
            </div>
            {s?.memberships !== undefined && (
              <div>
                <dt>Memberships</dt>
                <dd>
                  {s.memberships.added} added, {s.memberships.removed} removed
                </dd>
              </div>
            )}
            {s?.requests !== undefined && (
              <div>
                <dt>Requests</dt>
                <dd>
                  {s.requests} ({s.retries ?? 0} retried, {s.throttled ?? 0} throttled)
                </dd>
              </div>
            )}
            {s?.escrow !== undefined && s.escrow.waiting > 0 && (
              <div>
                <dt>Waiting to retry</dt>
                <dd>{s.escrow.waiting}</dd>
              </div>
            )}
          </dl>
          {s?.error !== undefined && <p className="error-detail">Error: {s.error}</p>}
          {s !== null && (
            <CountsTable
              caption="Last cycle counts per action"
              rows={[
                ['Users', s.users],
                ['Groups', s.groups],
              ]}
            />
          )}
          {s?.failed !== undefined && s.failed.length > 0 && (
            <>
              <h3>Failed objects</h3>
              <ul>
                {s.failed.map((f) => (
                  <li key={`${f.objectType}:${f.sourceId}`}>
                    {f.objectType} <code>{f.sourceId}</code> ({f.action}): {f.error}
                  </li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
    </section>
  );
}

function ModifiedTable(props: { modified: Modified[] }) {
  if (props.modified.length === 0) return null;
  return (
    <table className="diff">
      <caption className="visually-hidden">Modified properties</caption>
      <thead>
        <tr>
          <th scope="col">Property</th>
          <th scope="col">Old</th>
          <th scope="col">New</th>
        </tr>
      </thead>
      <tbody>
        {props.modified.map((m) => (
          <tr key={m.name}>
            <th scope="row">{m.name}</th>
            <td className="before">{show(m.old)}</td>
            <td className="after">{show(m.new)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** An impact preview: headline, counts, and each object with its diff and requests. */
function PreviewResult(props: { preview: Preview }) {
  const { preview } = props;
  return (
    <div>
      <p className="health good" role="status">
        Next {preview.kind} cycle: {preview.headline}
      </p>
      <CountsTable
        caption="Planned counts per action"
        rows={[
          ['Users', preview.counts.users],
          ['Groups', preview.counts.groups],
        ]}
      />
      <p className="muted">
        {preview.counts.failures} would fail to map, {preview.counts.deferred} wait in escrow,{' '}
        {preview.counts.stagedDeletes} deletes would be staged.
      </p>
      {preview.objects.length > 0 && (
        <ul className="plain">
          {preview.objects.map((o) => (
            <li key={`${o.objectType}:${o.sourceId}:${o.action}`}>
              <details>
                <summary>
                  {ACTION_LABEL[o.action] ?? o.action} {o.objectType} {o.sourceId}
                </summary>
                <ModifiedTable modified={o.modified} />
                {o.requests.length > 0 && (
                  <pre className="json">
                    {o.requests
                      .map(
                        (r) =>
                          `${r.when !== undefined ? `(${r.when}) ` : ''}${r.method} ${r.path}` +
                          (r.body !== undefined ? `\n${JSON.stringify(r.body, null, 2)}` : ''),
                      )
                      .join('\n\n')}
                  </pre>
                )}
              </details>
            </li>
          ))}
        </ul>
      )}
      {preview.truncated && <p className="muted">Only the first objects are listed.</p>}
    </div>
  );
}

function PreviewPanel(props: { accountId: string; jobId: string; lastCycle: string }) {
  const [preview, setPreview] = useState<Preview | null>(null);
  // A preview describes the cycle after the last one: a new cycle makes it stale.
  useEffect(() => setPreview(null), [props.lastCycle]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      setPreview(
        (await must(
          api.POST('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}/preview', {
            params: { path: { accountId: props.accountId, id: props.jobId } },
          }),
        )) as unknown as Preview,
      );
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="preview-h">
      <h2 id="preview-h">Impact preview</h2>
      <p className="hint">What the next cycle would do, with nothing sent to the target.</p>
      <button type="button" onClick={() => void run()} disabled={busy}>
        Preview impact
      </button>
      <ErrorLine error={error} />
      {preview !== null && <PreviewResult preview={preview} />}
    </section>
  );
}

function OnDemandPanel(props: { accountId: string; jobId: string; onDone: () => void }) {
  const id = useId();
  const [sourceId, setSourceId] = useState('');
  const [objectType, setObjectType] = useState<'user' | 'group'>('user');
  const [result, setResult] = useState<OnDemand | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Provision on demand</h2>
      <form
        className="inline-form"
        aria-labelledby={`${id}-h`}
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          setResult(null);
          must(
            api.POST('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}/provision', {
              params: { path: { accountId: props.accountId, id: props.jobId } },
              body: { sourceId: sourceId.trim(), objectType },
            }),
          )
            .then((r) => {
              setResult(r as unknown as OnDemand);
              props.onDone();
            })
            .catch((err: unknown) => setError(errorText(err)))
            .finally(() => setBusy(false));
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-type`}>Object type</label>
          <select
            id={`${id}-type`}
            value={objectType}
            onChange={(e) => setObjectType(e.target.value as 'user' | 'group')}
          >
            <option value="user">User</option>
            <option value="group">Group</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-src`}>Source ID</label>
          <input
            id={`${id}-src`}
            value={sourceId}
            required
            onChange={(e) => setSourceId(e.target.value)}
          />
        </div>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Provision
          </button>
        </div>
      </form>
      <ErrorLine error={error} />
      {result !== null && (
        <>
          <p role="status">
            {result.objectType} {result.sourceId}: done in {duration(result.durationMs)}
          </p>
          <ol className="history" aria-label="On-demand steps">
            {result.steps.map((s) => (
              <li key={s.step}>
                <strong>{STEP_LABEL[s.step] ?? s.step}</strong>{' '}
                <span className={`badge ${s.status === 'failure' ? 'off' : 'ok'}`}>{s.status}</span>
                <p>{s.detail}</p>
                {s.data !== undefined && (
                  <details>
                    <summary>Details of {STEP_LABEL[s.step] ?? s.step}</summary>
                    <pre className="json">{JSON.stringify(s.data, null, 2)}</pre>
                  </details>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}

interface MappingRow {
  type: 'direct' | 'constant' | 'expression' | 'none';
  target: string;
  source?: string;
  value?: string;
  expression?: string;
  defaultValue?: string;
  apply?: 'always' | 'create';
  matching?: number;
}
interface ExpressionAnswer {
  ok: boolean;
  error?: string;
  column?: number;
  line?: number;
  value?: unknown;
  ignored?: boolean;
}
const MAPPING_TYPES: [MappingRow['type'], string][] = [
  ['direct', 'Direct'],
  ['constant', 'Constant'],
  ['expression', 'Expression'],
  ['none', 'None'],
];

/**
 * One expression, checked with the engine's parser as it is typed (debounced) and, with a
 * preview source id, evaluated on that source user.
 */
function ExpressionField(props: {
  accountId: string;
  jobId: string;
  label: string;
  value: string;
  previewId: string;
  onChange: (value: string) => void;
}) {
  const id = useId();
  const [answer, setAnswer] = useState<ExpressionAnswer | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const { accountId, jobId, value, previewId } = props;
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      must(
        api.POST('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}/expression', {
          params: { path: { accountId, id: jobId } },
          body: {
            expression: value,
            ...(previewId.trim() !== '' ? { sourceId: previewId.trim() } : {}),
          },
        }),
      )
        .then((r) => {
          if (!live) return;
          setAnswer(r as ExpressionAnswer);
          setFailure(null);
        })
        .catch((err: unknown) => {
          if (!live) return;
          setAnswer(null);
          setFailure(errorText(err));
        });
    }, 300);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [accountId, jobId, value, previewId]);
  const bad = answer !== null && !answer.ok;
  return (
    <div className="expression-field">
      <textarea
        aria-label={props.label}
        aria-invalid={bad}
        aria-describedby={`${id}-msg`}
        rows={2}
        value={value}
        onChange={(e) => props.onChange(e.target.value)}
      />
      <div id={`${id}-msg`}>
        {bad && (
          <p className="error" role="alert">
            Column {answer.column}: {answer.error}
          </p>
        )}
        {failure !== null && <p className="error">{failure}</p>}
        {answer?.ok === true && previewId.trim() !== '' && 'value' in answer && (
          <p>
            <output aria-label={`Preview of ${props.label}`}>
              {answer.ignored ? '(not sent: IgnoreFlowIfNullOrEmpty)' : show(answer.value)}
            </output>
          </p>
        )}
      </div>
    </div>
  );
}

/**
 * The Save of an editor: PUT of the job with the change. When the job requires a preview,
 * the button is "Preview and save": it shows the change's impact (counts and per-object
 * diffs) and saves on Confirm, with the preview's id. An edit after the preview hides it.
 */
function useSaveChange(props: {
  accountId: string;
  job: JobView;
  label: string;
  /** The job as PUT takes it, with this editor's change. */
  body: () => Record<string, unknown>;
  onStart: () => void;
  onSaved: () => void;
  onError: (message: string) => void;
}): { button: ReactNode; panel: ReactNode } {
  const { accountId, job } = props;
  const required = job.requirePreview === true;
  const [busy, setBusy] = useState(false);
  const [pending, setPending] = useState<{
    json: string;
    body: Record<string, unknown>;
    preview: Preview & { previewId?: string };
  } | null>(null);
  const current = JSON.stringify(props.body());
  const shown = pending !== null && pending.json === current ? pending : null;
  const put = (body: Record<string, unknown>) =>
    must(
      api.PUT('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}', {
        params: { path: { accountId, id: job.id } },
        body: body as never,
      }),
    )
      .then(() => {
        setPending(null);
        props.onSaved();
      })
      .catch((err: unknown) => props.onError(errorText(err)))
      .finally(() => setBusy(false));
  const button = (
    <button
      type="button"
      className="primary"
      disabled={busy}
      onClick={() => {
        props.onStart();
        setBusy(true);
        const body = props.body();
        if (!required) return void put(body);
        must(
          api.POST('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}/preview', {
            params: { path: { accountId, id: job.id } },
            body: body as never,
          }),
        )
          .then((preview) =>
            setPending({
              json: JSON.stringify(body),
              body,
              preview: preview as unknown as Preview & { previewId?: string },
            }),
          )
          .catch((err: unknown) => props.onError(errorText(err)))
          .finally(() => setBusy(false));
      }}
    >
      {required ? 'Preview and save' : props.label}
    </button>
  );
  const panel =
    shown === null ? null : (
      <div className="change-preview" role="group" aria-label="Impact of this change">
        <h3>Impact of this change</h3>
        <PreviewResult preview={shown.preview} />
        <div className="actions">
          <button
            type="button"
            className="primary"
            disabled={busy}
            onClick={() => {
              props.onStart();
              setBusy(true);
              void put({
                ...shown.body,
                ...(shown.preview.previewId !== undefined
                  ? { previewId: shown.preview.previewId }
                  : {}),
              });
            }}
          >
            Confirm
          </button>
          <button type="button" onClick={() => setPending(null)}>
            Cancel
          </button>
        </div>
      </div>
    );
  return { button, panel };
}

function MappingsEditor(props: {
  accountId: string;
  job: JobView;
  kind: 'user' | 'group';
  /** Kept by the page: reloading the job after a save remounts this editor. */
  notice: string;
  setNotice: (notice: string) => void;
  onSaved: () => void;
}) {
  const id = useId();
  const { accountId, job, kind } = props;
  const stored = job.mappings as { user: MappingRow[]; group: MappingRow[] } | null;
  // A job on the defaults edits from the mappings the engine applies (Entra's defaults).
  const running = stored ?? (job.defaultMappings as { user: MappingRow[]; group: MappingRow[] });
  const [rows, setRows] = useState<MappingRow[]>(() => running[kind]);
  const [previewId, setPreviewId] = useState('');
  const [error, setError] = useState<string | null>(null);
  const { notice, setNotice } = props;
  const title = kind === 'user' ? 'User mappings' : 'Group mappings';
  const save = useSaveChange({
    accountId,
    job,
    label: kind === 'user' ? 'Save mappings' : 'Save group mappings',
    body: () => {
      const edited = rows.map((r): MappingRow => {
        const { source, value, expression, ...rest } = r;
        return {
          ...rest,
          ...(r.type === 'direct' ? { source: source ?? '' } : {}),
          ...(r.type === 'constant' ? { value: value ?? '' } : {}),
          ...(r.type === 'expression' ? { expression: expression ?? '' } : {}),
        };
      });
      return jobBody(job, { mappings: { ...running, [kind]: edited } });
    },
    onStart: () => {
      setError(null);
      setNotice('');
    },
    onSaved: () => {
      setNotice(kind === 'user' ? 'Mappings saved.' : 'Group mappings saved.');
      props.onSaved();
    },
    onError: setError,
  });
  const update = (i: number, change: Partial<MappingRow>) => {
    // A refused save's message is about the rows as they were: an edit clears it.
    setError(null);
    setNotice('');
    setRows((all) => all.map((r, n) => (n === i ? { ...r, ...change } : r)));
  };
  const label = (r: MappingRow, i: number) => r.target || `row ${i + 1}`;
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{title}</h2>
      {stored === null && (
        <p className="muted">
          This job runs Entra&apos;s default mappings (docs/engine.md), shown below. Saving an edit
          makes them the job&apos;s own.
        </p>
      )}
      {kind === 'user' && (
        <div className="field">
          <label htmlFor={`${id}-preview`}>Preview on user</label>
          <input
            id={`${id}-preview`}
            value={previewId}
            placeholder="a source user's id"
            onChange={(e) => setPreviewId(e.target.value)}
          />
        </div>
      )}
      <TableWrap label={`${title} rows`}>
        <table className="mappings">
          <caption>{title}</caption>
          <thead>
            <tr>
              <th scope="col">Target attribute</th>
              <th scope="col">Type</th>
              <th scope="col">Source or expression</th>
              <th scope="col">Apply</th>
              <th scope="col">Matching</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i}>
                <td>
                  <input
                    aria-label={`Target attribute of row ${i + 1}`}
                    value={r.target}
                    onChange={(e) => update(i, { target: e.target.value })}
                  />
                </td>
                <td>
                  <select
                    aria-label={`Type of ${label(r, i)}`}
                    value={r.type}
                    onChange={(e) => update(i, { type: e.target.value as MappingRow['type'] })}
                  >
                    {MAPPING_TYPES.map(([v, l]) => (
                      <option key={v} value={v}>
                        {l}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  {r.type === 'direct' && (
                    <input
                      aria-label={`Source attribute of ${label(r, i)}`}
                      value={r.source ?? ''}
                      onChange={(e) => update(i, { source: e.target.value })}
                    />
                  )}
                  {r.type === 'constant' && (
                    <input
                      aria-label={`Constant of ${label(r, i)}`}
                      value={r.value ?? ''}
                      onChange={(e) => update(i, { value: e.target.value })}
                    />
                  )}
                  {r.type === 'expression' && (
                    <ExpressionField
                      accountId={accountId}
                      jobId={job.id}
                      label={`Expression of ${label(r, i)}`}
                      value={r.expression ?? ''}
                      previewId={previewId}
                      onChange={(expression) => update(i, { expression })}
                    />
                  )}
                  {r.type === 'none' && <span className="muted">nothing flows</span>}
                </td>
                <td>
                  <select
                    aria-label={`Apply ${label(r, i)}`}
                    value={r.apply ?? 'always'}
                    onChange={(e) => update(i, { apply: e.target.value as 'always' | 'create' })}
                  >
                    <option value="always">Always</option>
                    <option value="create">On create only</option>
                  </select>
                </td>
                <td>
                  <input
                    aria-label={`Matching precedence of ${label(r, i)}`}
                    inputMode="numeric"
                    size={3}
                    value={r.matching ?? ''}
                    onChange={(e) => {
                      const n = Number(e.target.value);
                      update(i, {
                        matching:
                          e.target.value.trim() === '' || !Number.isInteger(n) ? undefined : n,
                      });
                    }}
                  />
                </td>
                <td>
                  <button
                    type="button"
                    onClick={() => setRows((all) => all.filter((_, n) => n !== i))}
                  >
                    Remove<span className="visually-hidden"> {label(r, i)}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      <div className="actions">
        <button
          type="button"
          onClick={() => setRows((all) => [...all, { type: 'direct', target: '', source: '' }])}
        >
          Add mapping
        </button>
        {save.button}
      </div>
      {save.panel}
      <ErrorLine error={error} />
      {notice !== '' && <p role="status">{notice}</p>}
    </section>
  );
}

interface ScopeClauseRow {
  attribute: string;
  operator: string;
  value?: string;
}
const SCOPING_OPERATORS = [
  'EQUALS',
  'NOT EQUALS',
  'IS TRUE',
  'IS FALSE',
  'IS NULL',
  'IS NOT NULL',
  'REGEX MATCH',
  'NOT REGEX MATCH',
  'Greater_Than',
  'Greater_Than_OR_EQUALS',
  'Includes',
  'ENDS_WITH',
  'STARTS_WITH',
  'NOT STARTS_WITH',
  '&',
  '!&',
];
const UNARY_OPERATORS = new Set(['IS TRUE', 'IS FALSE', 'IS NULL', 'IS NOT NULL']);

/** The job as PUT takes it, with `change` applied: fields the page does not edit go back as read. */
function jobBody(job: JobView, change: Record<string, unknown>): never {
  const view = job as Record<string, unknown>;
  const body: Record<string, unknown> = {
    source: job.source,
    target: job.target,
    scheduleMinutes: job.scheduleMinutes,
  };
  for (const k of [
    'mappings',
    'scope',
    'deletionThreshold',
    'failures',
    'notify',
    'requirePreview',
  ])
    if (view[k] !== undefined && view[k] !== null) body[k] = view[k];
  return { ...body, ...change } as never;
}

/** User or group scoping filters: clauses ANDed within a filter, filters ORed (Entra's rules). */
function ScopingEditor(props: {
  accountId: string;
  job: JobView;
  kind: 'user' | 'group';
  notice: string;
  setNotice: (notice: string) => void;
  onSaved: () => void;
}) {
  const id = useId();
  const { accountId, job, kind, notice, setNotice } = props;
  const key = kind === 'user' ? 'userFilters' : 'groupFilters';
  const title = kind === 'user' ? 'User scoping' : 'Group scoping';
  const scope = (job.scope ?? {}) as Record<string, unknown>;
  const stored = scope[key];
  const editable =
    stored === undefined || (Array.isArray(stored) && stored.every((f) => Array.isArray(f)));
  const [filters, setFilters] = useState<ScopeClauseRow[][]>(() =>
    editable ? ((stored ?? []) as ScopeClauseRow[][]) : [],
  );
  const [error, setError] = useState<string | null>(null);
  const save = useSaveChange({
    accountId,
    job,
    label: kind === 'user' ? 'Save scoping' : 'Save group scoping',
    body: () => {
      const edited = filters.map((clauses) =>
        clauses.map((cl) =>
          UNARY_OPERATORS.has(cl.operator)
            ? { attribute: cl.attribute, operator: cl.operator }
            : { attribute: cl.attribute, operator: cl.operator, value: cl.value ?? '' },
        ),
      );
      const { [key]: _old, ...rest } = scope;
      return jobBody(job, { scope: edited.length > 0 ? { ...rest, [key]: edited } : rest });
    },
    onStart: () => {
      setError(null);
      setNotice('');
    },
    onSaved: () => {
      setNotice(kind === 'user' ? 'Scoping saved.' : 'Group scoping saved.');
      props.onSaved();
    },
    onError: setError,
  });
  const edit = (next: ScopeClauseRow[][]) => {
    setError(null);
    setNotice('');
    setFilters(next);
  };
  const setClause = (f: number, c: number, change: Partial<ScopeClauseRow>) =>
    edit(
      filters.map((clauses, i) =>
        i !== f ? clauses : clauses.map((cl, j) => (j === c ? { ...cl, ...change } : cl)),
      ),
    );
  if (!editable)
    return (
      <section className="card" aria-labelledby={`${id}-h`}>
        <h2 id={`${id}-h`}>{title}</h2>
        <p className="muted">
          These scoping filters are in Microsoft Graph&apos;s shape: edit them in the job file.
        </p>
      </section>
    );
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{title}</h2>
      <p className="muted">
        A {kind} is in scope when every clause of one filter holds (clauses ANDed, filters ORed). No
        filter: every {kind}.
      </p>
      {filters.map((clauses, f) => (
        <fieldset key={f}>
          <legend>Filter {f + 1}</legend>
          {clauses.map((cl, c) => (
            <div className="inline-form" key={c}>
              <div className="field">
                <label htmlFor={`${id}-${f}-${c}-a`}>Attribute</label>
                <input
                  id={`${id}-${f}-${c}-a`}
                  aria-label={`Attribute of filter ${f + 1} clause ${c + 1}`}
                  value={cl.attribute}
                  onChange={(e) => setClause(f, c, { attribute: e.target.value })}
                />
              </div>
              <div className="field">
                <label htmlFor={`${id}-${f}-${c}-o`}>Operator</label>
                <select
                  id={`${id}-${f}-${c}-o`}
                  aria-label={`Operator of filter ${f + 1} clause ${c + 1}`}
                  value={cl.operator}
                  onChange={(e) => setClause(f, c, { operator: e.target.value })}
                >
                  {SCOPING_OPERATORS.map((o) => (
                    <option key={o} value={o}>
                      {o}
                    </option>
                  ))}
                </select>
              </div>
              {!UNARY_OPERATORS.has(cl.operator) && (
                <div className="field">
                  <label htmlFor={`${id}-${f}-${c}-v`}>Value</label>
                  <input
                    id={`${id}-${f}-${c}-v`}
                    aria-label={`Value of filter ${f + 1} clause ${c + 1}`}
                    value={cl.value ?? ''}
                    onChange={(e) => setClause(f, c, { value: e.target.value })}
                  />
                </div>
              )}
              <button
                type="button"
                onClick={() =>
                  edit(
                    filters
                      .map((cls, i) => (i === f ? cls.filter((_, j) => j !== c) : cls))
                      .filter((cls) => cls.length > 0),
                  )
                }
              >
                Remove clause {c + 1} of filter {f + 1}
              </button>
            </div>
          ))}
          <button
            type="button"
            onClick={() =>
              edit(
                filters.map((cls, i) =>
                  i === f ? [...cls, { attribute: '', operator: 'EQUALS', value: '' }] : cls,
                ),
              )
            }
          >
            Add clause to filter {f + 1}
          </button>
        </fieldset>
      ))}
      <div className="actions">
        <button
          type="button"
          onClick={() => edit([...filters, [{ attribute: '', operator: 'EQUALS', value: '' }]])}
        >
          Add filter
        </button>
        {save.button}
      </div>
      {save.panel}
      <ErrorLine error={error} />
      {notice !== '' && <p role="status">{notice}</p>}
    </section>
  );
}

interface Exchange {
  request: {
    method: string;
    url: string;
    headers: Record<string, string>;
    body: string | null;
    bodyTruncated?: boolean;
  };
  response: {
    status: number;
    headers: Record<string, string>;
    body: string;
    bodyTruncated?: boolean;
  } | null;
  error?: string;
}

/** The raw request to the target and its answer (secrets redacted by the server). */
function ExchangeDetails(props: { exchange: Exchange }) {
  const { request, response, error } = props.exchange;
  const headers = (h: Record<string, string>) =>
    Object.entries(h)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n');
  const requestText = `${request.method} ${request.url}\n${headers(request.headers)}${request.body !== null ? `\n\n${request.body}` : ''}`;
  const responseText =
    response === null
      ? `No answer: ${error ?? 'the request failed'}`
      : `HTTP ${response.status}\n${headers(response.headers)}${response.body !== '' ? `\n\n${response.body}` : ''}`;
  return (
    <div className="exchange">
      <details>
        <summary>Request</summary>
        <pre role="region" aria-label="Raw request" tabIndex={0}>
          {requestText}
        </pre>
        {request.bodyTruncated === true && <p className="muted">The body was cut at 16 KiB.</p>}
      </details>
      <details>
        <summary>Response</summary>
        <pre role="region" aria-label="Raw response" tabIndex={0}>
          {responseText}
        </pre>
        {response?.bodyTruncated === true && <p className="muted">The body was cut at 16 KiB.</p>}
      </details>
    </div>
  );
}

function JobLog(props: { accountId: string; jobId: string; version: string }) {
  const id = useId();
  const [form, setForm] = useState({ action: '', status: '', objectId: '', cycle: '' });
  const [filters, setFilters] = useState(form);
  const [open, setOpen] = useState<number | null>(null);
  const applied = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== ''));
  const exportHref = (format: 'csv' | 'json') =>
    `/api/v1/admin/accounts/${encodeURIComponent(props.accountId)}/sync/jobs/${encodeURIComponent(props.jobId)}/log/export?${new URLSearchParams({ ...applied, format })}`;
  const log = useLoad(
    () =>
      must(
        api.GET('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}/log', {
          params: {
            path: { accountId: props.accountId, id: props.jobId },
            query: {
              limit: 100,
              ...applied,
            },
          },
        }),
      ),
    [props.accountId, props.jobId, JSON.stringify(filters), props.version],
  );
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Provisioning log</h2>
      <form
        className="filters"
        aria-label="Filter the job's log"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters({ ...form, objectId: form.objectId.trim(), cycle: form.cycle.trim() });
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-action`}>Action</label>
          <select
            id={`${id}-action`}
            value={form.action}
            onChange={(e) => setForm({ ...form, action: e.target.value })}
          >
            <option value="">All</option>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {ACTION_LABEL[a]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-status`}>Status</label>
          <select
            id={`${id}-status`}
            value={form.status}
            onChange={(e) => setForm({ ...form, status: e.target.value })}
          >
            <option value="">All</option>
            <option value="success">Success</option>
            <option value="failure">Failure</option>
            <option value="skipped">Skipped</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-object`}>Source or target ID</label>
          <input
            id={`${id}-object`}
            value={form.objectId}
            onChange={(e) => setForm({ ...form, objectId: e.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-cycle`}>Cycle ID</label>
          <input
            id={`${id}-cycle`}
            value={form.cycle}
            onChange={(e) => setForm({ ...form, cycle: e.target.value })}
          />
        </div>
        <div className="actions">
          <button type="submit" className="primary">
            Apply filters
          </button>
          <a className="button" href={exportHref('csv')} download>
            Export CSV
          </a>
          <a className="button" href={exportHref('json')} download>
            Export JSON
          </a>
        </div>
      </form>
      <ErrorLine error={log.error} />
      {log.data === undefined ? (
        <Loading />
      ) : log.data.entries.length === 0 ? (
        <p className="muted">No entries match.</p>
      ) : (
        <TableWrap label="Job log entries">
          <table className="log">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Object</th>
                <th scope="col">Action</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Details</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {log.data.entries.map((e) => {
                const entry = e as typeof e & { nextRetryAt?: string | null; exchange?: Exchange };
                return (
                  <tr key={e.id} className={e.status === 'failure' ? 'failure' : undefined}>
                    <td className="nowrap">{formatDate(e.at)}</td>
                    <td>
                      <p>
                        {e.objectType} <code>{e.sourceId}</code>
                      </p>
                      {open === e.id && (
                        <div className="entry-details">
                          <ol className="history" aria-label={`Steps of ${e.sourceId}`}>
                            {(e.steps as { step: string; detail: string }[]).map((s, i) => (
                              <li key={i}>
                                <strong>{STEP_LABEL[s.step] ?? s.step}</strong>: {s.detail}
                              </li>
                            ))}
                          </ol>
                          <ModifiedTable modified={e.modified as Modified[]} />
                          <p className="muted">
                            Cycle <code>{e.cycleId}</code>, target id {e.targetId ?? '—'}
                            {e.targetStatus !== null && <>, answered {e.targetStatus}</>}, in{' '}
                            {Math.round(e.durationMs)} ms
                          </p>
                          {e.error !== null && (
                            <p className="error-detail">Target error: {e.error}</p>
                          )}
                          {entry.nextRetryAt !== undefined && entry.nextRetryAt !== null && (
                            <p>Next retry: {formatDate(entry.nextRetryAt)}</p>
                          )}
                          {entry.exchange !== undefined && (
                            <ExchangeDetails exchange={entry.exchange} />
                          )}
                        </div>
                      )}
                    </td>
                    <td>{ACTION_LABEL[e.action] ?? e.action}</td>
                    <td>
                      <span
                        className={`badge ${e.status === 'failure' ? 'off' : e.status === 'success' ? 'ok' : 'neutral'}`}
                      >
                        {e.status === 'failure'
                          ? 'Failed'
                          : e.status === 'success'
                            ? 'Succeeded'
                            : 'Skipped'}
                      </span>
                    </td>
                    <td>
                      <button
                        type="button"
                        aria-expanded={open === e.id}
                        aria-label={`Details of ${e.objectType} ${e.sourceId} (${e.action})`}
                        onClick={() => setOpen(open === e.id ? null : e.id)}
                      >
                        Details
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      )}
    </section>
  );
}

/** Schedule, notification addresses, deletion threshold and request rate of a job. */
function JobSettings(props: { accountId: string; job: JobView; onSaved: () => void }) {
  const id = useId();
  const j = props.job;
  const initial = () => ({
    schedule: String(j.scheduleMinutes),
    email: j.notify.email.join(', '),
    threshold: j.deletionThreshold === null ? '' : String(j.deletionThreshold),
    rate: j.target.maxRequestsPerSecond === undefined ? '' : String(j.target.maxRequestsPerSecond),
  });
  const [form, setForm] = useState(initial);
  const [requirePreview, setRequirePreview] = useState(j.requirePreview === true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState('');
  const set = (key: keyof ReturnType<typeof initial>) => (e: { target: { value: string } }) => {
    setNotice('');
    setForm({ ...form, [key]: e.target.value });
  };
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Job settings</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          setNotice('');
          const { maxRequestsPerSecond: _r, ...target } = j.target;
          const rate = form.rate.trim();
          const threshold = form.threshold.trim();
          // The job as GET showed it, with these settings changed: nothing else is lost.
          const body = {
            ...j,
            target: { ...target, ...(rate !== '' ? { maxRequestsPerSecond: Number(rate) } : {}) },
            scheduleMinutes: Number(form.schedule),
            deletionThreshold: threshold === '' ? null : Number(threshold),
            requirePreview,
            notify: {
              email: form.email
                .split(/[,;\s]+/)
                .map((a) => a.trim())
                .filter((a) => a !== ''),
            },
          };
          must(
            api.PUT('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}', {
              params: { path: { accountId: props.accountId, id: j.id } },
              body: body as never,
            }),
          )
            .then(() => {
              setNotice('Settings saved.');
              props.onSaved();
            })
            .catch((err: unknown) => setError(errorText(err)))
            .finally(() => setBusy(false));
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-schedule`}>Minutes between cycles</label>
          <input
            id={`${id}-schedule`}
            type="number"
            required
            min={1}
            max={1440}
            step={1}
            aria-describedby={`${id}-schedule-d`}
            value={form.schedule}
            onChange={set('schedule')}
          />
          <p id={`${id}-schedule-d`} className="hint">
            1 to 1440 (a day).
          </p>
        </div>
        <div className="field">
          <label htmlFor={`${id}-email`}>Notification e-mail</label>
          <input
            id={`${id}-email`}
            aria-describedby={`${id}-email-d`}
            value={form.email}
            onChange={set('email')}
          />
          <p id={`${id}-email-d`} className="hint">
            Addresses mailed on quarantine and staged deletes, separated by commas; empty for none.
          </p>
        </div>
        <div className="field">
          <label htmlFor={`${id}-threshold`}>Deletion threshold</label>
          <input
            id={`${id}-threshold`}
            type="number"
            min={0}
            step={1}
            aria-describedby={`${id}-threshold-d`}
            value={form.threshold}
            onChange={set('threshold')}
          />
          <p id={`${id}-threshold-d`} className="hint">
            A cycle that would disable or delete more objects pauses until you allow them; empty for
            no threshold.
          </p>
        </div>
        <div className="field">
          <label htmlFor={`${id}-rate`}>Maximum requests per second</label>
          <input
            id={`${id}-rate`}
            type="number"
            min={0.1}
            step="any"
            aria-describedby={`${id}-rate-d`}
            value={form.rate}
            onChange={set('rate')}
          />
          <p id={`${id}-rate-d`} className="hint">
            Requests to the target started per second at most; empty for no limit (throttling still
            slows the job down).
          </p>
        </div>
        <div className="field checkbox">
          <input
            id={`${id}-require-preview`}
            type="checkbox"
            aria-describedby={`${id}-require-preview-d`}
            checked={requirePreview}
            onChange={(e) => {
              setNotice('');
              setRequirePreview(e.target.checked);
            }}
          />
          <label htmlFor={`${id}-require-preview`}>Require a preview before saving changes</label>
          <p id={`${id}-require-preview-d`} className="hint">
            A mapping, scoping or source change is saved only after its impact preview is shown and
            confirmed.
          </p>
        </div>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Save settings
          </button>
        </div>
        <p role="status" className="muted">
          {notice}
        </p>
        <ErrorLine error={error} />
      </form>
    </section>
  );
}

/**
 * The notices ("Mappings saved.") of the page's editors, one per editor key. They live on the
 * page because a save reloads the job and remounts the editor, which would drop its own state.
 */
function useEditorNotices(): (key: string) => {
  notice: string;
  setNotice: (notice: string) => void;
} {
  const [notices, setNotices] = useState<Record<string, string>>({});
  return (key) => ({
    notice: notices[key] ?? '',
    setNotice: (notice) => setNotices((all) => ({ ...all, [key]: notice })),
  });
}

export function SyncJobPage(props: { accountId: string; jobId: string }) {
  const { accountId, jobId } = props;
  const job = useLoad(() => loadJob(accountId, jobId), [accountId, jobId]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [restarting, setRestarting] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [fullReset, setFullReset] = useState(false);
  const [notice, setNotice] = useState('');
  const editorNotices = useEditorNotices();
  const resetId = useId();
  const running = job.data?.running ?? false;
  useEffect(() => {
    if (!running && !busy) setNotice('');
  }, [job.data?.lastCycle?.id, job.data?.lastCycle?.status]);
  usePoll(running || busy, job.reload);
  const path = { accountId, id: jobId };

  const act = async (what: string, call: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    setNotice('');
    try {
      await call();
      setNotice(what);
    } catch (e) {
      setError(errorText(e));
    } finally {
      // A cycle started in the background: keep polling until it shows.
      job.reload();
      setTimeout(() => setBusy(false), 1500);
    }
  };

  if (job.error !== null && job.data === undefined)
    return (
      <>
        <PageTitle title={jobId} crumbs={['Provisioning jobs']} />
        <ErrorLine error={job.error} />
      </>
    );
  if (job.data === undefined) return <Loading />;
  const j = job.data;
  const quarantine = j.health.quarantine as Quarantine | null;
  const staged = j.health.stagedDeletes as Staged | null;
  return (
    <>
      <PageTitle title={`Job ${j.id}`} crumbs={['Provisioning jobs']} />
      <p>
        <Link href={accountPath(accountId, '/sync/jobs')}>All provisioning jobs</Link>
      </p>
      <div className="section-head">
        <p>
          <StateBadge job={j} />{' '}
          <span className="muted">
            {j.source.type.toUpperCase()} source, every {j.scheduleMinutes} min; next run{' '}
            {formatDate(j.nextRunAt)}
          </span>
        </p>
        <div className="actions">
          <button
            type="button"
            className="primary"
            disabled={running || busy}
            onClick={() =>
              void act('Cycle started.', () =>
                must(
                  api.POST('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}/run', {
                    params: { path },
                  }),
                ),
              )
            }
          >
            Start
          </button>
          <button
            type="button"
            disabled={!running}
            onClick={() =>
              void act(
                'Stopping: requests under way finish, then the cycle ends; the next cycle picks up the rest.',
                () =>
                  must(
                    api.POST('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}/stop', {
                      params: { path },
                    }),
                  ),
              )
            }
          >
            Stop
          </button>
          <button type="button" disabled={running || busy} onClick={() => setRestarting(true)}>
            Restart
          </button>
          <button
            type="button"
            className="danger"
            disabled={running || busy}
            onClick={() => setDeleting(true)}
          >
            Delete job
          </button>
        </div>
      </div>
      <p role="status" className="muted">
        {notice}
      </p>
      <ErrorLine error={error} />
      <ConfirmDialog
        open={deleting}
        title={`Delete job ${j.id}?`}
        confirmLabel="Delete job"
        onCancel={() => setDeleting(false)}
        onConfirm={() => {
          setDeleting(false);
          must(
            api.DELETE('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}', { params: { path } }),
          ).then(
            () => navigate(accountPath(accountId, '/sync/jobs')),
            (e: unknown) => setError(errorText(e)),
          );
        }}
      >
        <p>
          The job, its links, cycles and log are deleted. Users and groups it provisioned stay in
          this account.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={restarting}
        title={`Restart job ${j.id}?`}
        confirmLabel="Restart job"
        onCancel={() => setRestarting(false)}
        onConfirm={() => {
          setRestarting(false);
          void act('Restarted: a full cycle started.', () =>
            must(
              api.POST('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}/restart', {
                params: { path },
                body: { fullReset },
              }),
            ),
          );
        }}
      >
        <p>
          Restart clears the quarantine, staged deletes, objects waiting to retry and the watermark,
          then runs a full cycle now.
        </p>
        <label className="inline" htmlFor={resetId}>
          <input
            id={resetId}
            type="checkbox"
            checked={fullReset}
            onChange={(e) => setFullReset(e.target.checked)}
          />{' '}
          Full reset: also forget the links to target objects (they are matched again)
        </label>
      </ConfirmDialog>
      {quarantine !== null && (
        <section className="banner bad" aria-labelledby="quarantine-h">
          <h2 id="quarantine-h">Quarantined since {formatDate(quarantine.since)}</h2>
          <p>
            <strong>{quarantine.reason}</strong> ({quarantine.code}): {quarantine.detail}
          </p>
          <p>
            <strong>Fix:</strong> {quarantine.fix}
          </p>
        </section>
      )}
      {staged !== null && (
        <section className="banner warn" aria-labelledby="staged-h">
          <h2 id="staged-h">Deletes staged: the job is paused</h2>
          <p>
            The cycle of {formatDate(staged.at)} would disable {staged.disables} and delete{' '}
            {staged.deletes} objects, more than the threshold of {staged.threshold}. Nothing was
            disabled or deleted, and no cycle runs until you decide. Check the staged deletes in the
            log below (action &quot;Staged delete&quot;); if the source is right, allow them. If the
            source emptied by mistake, fix it first.
          </p>
          <button
            type="button"
            className="danger"
            disabled={busy || running}
            onClick={() =>
              void act('Deletes allowed: a cycle started to run them.', () =>
                must(
                  api.POST('/api/v1/admin/accounts/{accountId}/sync/jobs/{id}/allow-deletes', {
                    params: { path },
                  }),
                ),
              )
            }
          >
            Allow deletes
          </button>
        </section>
      )}
      <Progress job={j} />
      <LastCycle job={j} />
      <MappingsEditor
        key={j.id}
        accountId={accountId}
        job={j}
        kind="user"
        {...editorNotices('mappings-user')}
        onSaved={job.reload}
      />
      <MappingsEditor
        key={`group-${j.id}`}
        accountId={accountId}
        job={j}
        kind="group"
        {...editorNotices('mappings-group')}
        onSaved={job.reload}
      />
      <ScopingEditor
        key={`scope-${j.id}`}
        accountId={accountId}
        job={j}
        kind="user"
        {...editorNotices('scoping-user')}
        onSaved={job.reload}
      />
      <ScopingEditor
        key={`group-scope-${j.id}`}
        accountId={accountId}
        job={j}
        kind="group"
        {...editorNotices('scoping-group')}
        onSaved={job.reload}
      />
      <PreviewPanel accountId={accountId} jobId={jobId} lastCycle={j.lastCycle?.id ?? ''} />
      <OnDemandPanel accountId={accountId} jobId={jobId} onDone={job.reload} />
      <JobSettings accountId={accountId} job={j} onSaved={job.reload} />
      <JobLog
        accountId={accountId}
        jobId={jobId}
        version={`${j.lastCycle?.id ?? ''}:${j.lastCycle?.status ?? ''}:${notice}`}
      />
    </>
  );
}
