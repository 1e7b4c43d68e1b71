import { useState } from 'react';
import { api, must } from '../api/client';
import { ErrorLine, formatDate, Loading, PageTitle, TableWrap, useLoad } from '../components';
import { Link, navigate } from '../router';
import { accountPath } from '../App';

const FILTERS = ['from', 'to', 'outcome', 'operation', 'resource', 'token'] as const;
type Filter = (typeof FILTERS)[number];

function HourChart(props: { hours: { hour: string; requests: number; failures: number }[] }) {
  const w = 24 * 20;
  const h = 120;
  const max = Math.max(1, ...props.hours.map((x) => x.requests));
  const total = props.hours.reduce((n, x) => n + x.requests, 0);
  const failures = props.hours.reduce((n, x) => n + x.failures, 0);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${w} ${h + 20}`} role="img" aria-labelledby="chart-title">
        <title id="chart-title">{`Requests and failures per hour, last 24 hours: ${total} requests, ${failures} failures`}</title>
        <line x1="0" y1={h} x2={w} y2={h} className="axis" />
        {props.hours.map((x, i) => {
          const rh = (x.requests / max) * (h - 10);
          const fh = (x.failures / max) * (h - 10);
          return (
            <g key={x.hour}>
              <rect x={i * 20 + 3} y={h - rh} width="14" height={rh} className="bar-requests">
                <title>{`${x.hour.slice(11, 16)} UTC: ${x.requests} requests, ${x.failures} failures`}</title>
              </rect>
              <rect x={i * 20 + 3} y={h - fh} width="14" height={fh} className="bar-failures" />
              {i % 6 === 0 && (
                // Anchored at the bar's left edge: a centred first label would start left
                // of the chart and be cut off.
                <text x={i * 20 + 3} y={h + 14} textAnchor="start" className="tick">
                  {x.hour.slice(11, 16)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span className="key requests" aria-hidden="true" /> requests{' '}
        <span className="key failures" aria-hidden="true" /> failures, per hour (UTC)
      </figcaption>
    </figure>
  );
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The before/after of the user an entry changed, fetched when its details open. */
function EntryDiff(props: { accountId: string; entryId: number }) {
  const diff = useLoad(
    () =>
      must(
        api.GET('/api/v1/admin/accounts/{accountId}/log/{id}/diff', {
          params: { path: { accountId: props.accountId, id: props.entryId } },
        }),
      ),
    [props.accountId, props.entryId],
  );
  if (diff.error !== null) return <ErrorLine error={diff.error} />;
  if (diff.data === undefined) return <Loading />;
  if (diff.data.changes.length === 0) return null;
  return (
    <table className="diff">
      <caption className="visually-hidden">Before and after</caption>
      <thead>
        <tr>
          <th scope="col">Attribute</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {diff.data.changes.map((c, i) => (
          <tr key={i}>
            <th scope="row">{c.attribute}</th>
            <td className="before">{show(c.before)}</td>
            <td className="after">{show(c.after)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ChangeView(props: { change: unknown }) {
  const c = props.change as {
    op?: string;
    attributes?: string[];
    members?: { added?: number; removed?: number };
  } | null;
  if (c === null || c === undefined) return null;
  return (
    <p>
      Change: <strong>{c.op}</strong>
      {c.attributes !== undefined && c.attributes.length > 0 && <> of {c.attributes.join(', ')}</>}
      {c.members !== undefined && (
        <>
          ; members +{c.members.added ?? 0} −{c.members.removed ?? 0}
        </>
      )}
    </p>
  );
}

export function ProvisioningLog(props: { accountId: string; query: URLSearchParams }) {
  const { accountId } = props;
  const current = Object.fromEntries(FILTERS.map((f) => [f, props.query.get(f) ?? ''])) as Record<
    Filter,
    string
  >;
  const [form, setForm] = useState(current);
  const [open, setOpen] = useState<number | null>(null);
  const query = Object.fromEntries(Object.entries(current).filter(([, v]) => v !== '')) as Partial<
    Record<Filter, string>
  >;
  const overview = useLoad(
    () =>
      must(
        api.GET('/api/v1/admin/accounts/{accountId}/log/overview', {
          params: { path: { accountId } },
        }),
      ),
    [accountId],
  );
  const tokens = useLoad(
    () =>
      must(
        api.GET('/api/v1/admin/accounts/{accountId}/tokens', { params: { path: { accountId } } }),
      ),
    [accountId],
  );
  const log = useLoad(
    () =>
      must(
        api.GET('/api/v1/admin/accounts/{accountId}/log', {
          params: {
            path: { accountId },
            query: { ...(query as Record<string, string>), limit: 100 } as never,
          },
        }),
      ),
    [accountId, props.query.toString()],
  );
  const exportHref = (format: 'csv' | 'json') =>
    `/api/v1/admin/accounts/${encodeURIComponent(accountId)}/log?${new URLSearchParams({ ...query, format, limit: '1000' })}`;
  const toIso = (local: string) => (local === '' ? '' : new Date(local).toISOString());
  return (
    <>
      <PageTitle title="Provisioning log" />
      <section className="card" aria-labelledby="health-h">
        <h2 id="health-h">Last 24 hours</h2>
        {overview.data === undefined ? (
          <Loading />
        ) : (
          <>
            <p className={`health ${overview.data.healthy ? 'good' : 'bad'}`} role="status">
              {overview.data.health}
            </p>
            <HourChart hours={overview.data.hours} />
            <h3>Last request per token</h3>
            {overview.data.tokens.length === 0 ? (
              <p className="muted">No token has been used yet.</p>
            ) : (
              <ul>
                {overview.data.tokens.map((t) => (
                  <li key={t.tokenId}>
                    {t.tokenName ?? t.tokenId}: {formatDate(t.lastRequestAt)}
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
        <ErrorLine error={overview.error} />
      </section>
      <form
        className="filters card"
        aria-label="Filter the log"
        onSubmit={(e) => {
          e.preventDefault();
          const params = new URLSearchParams(Object.entries(form).filter(([, v]) => v !== ''));
          navigate(accountPath(accountId, `/log${params.size > 0 ? `?${params}` : ''}`));
        }}
      >
        <div className="field">
          <label htmlFor="log-from">From</label>
          <input
            id="log-from"
            type="datetime-local"
            onChange={(e) => setForm({ ...form, from: toIso(e.target.value) })}
          />
        </div>
        <div className="field">
          <label htmlFor="log-to">To</label>
          <input
            id="log-to"
            type="datetime-local"
            onChange={(e) => setForm({ ...form, to: toIso(e.target.value) })}
          />
        </div>
        <div className="field">
          <label htmlFor="log-outcome">Outcome</label>
          <select
            id="log-outcome"
            value={form.outcome}
            onChange={(e) => setForm({ ...form, outcome: e.target.value })}
          >
            <option value="">All</option>
            <option value="success">Success</option>
            <option value="failure">Failure</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="log-operation">Operation</label>
          <select
            id="log-operation"
            value={form.operation}
            onChange={(e) => setForm({ ...form, operation: e.target.value })}
          >
            <option value="">All</option>
            <option value="create">Create</option>
            <option value="update">Update</option>
            <option value="delete">Delete</option>
            <option value="read">Read</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="log-resource">User or team ID</label>
          <input
            id="log-resource"
            value={form.resource}
            onChange={(e) => setForm({ ...form, resource: e.target.value.trim() })}
          />
        </div>
        <div className="field">
          <label htmlFor="log-token">Token</label>
          <select
            id="log-token"
            value={form.token}
            onChange={(e) => setForm({ ...form, token: e.target.value })}
          >
            <option value="">All</option>
            {tokens.data?.tokens.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
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
        <p className="muted">No requests match.</p>
      ) : (
        <TableWrap label="Log entries">
          <table className="log">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">What happened</th>
                <th scope="col">Outcome</th>
                <th scope="col">
                  <span className="visually-hidden">Details</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {log.data.entries.map((e) => (
                <tr key={e.id} className={e.outcome}>
                  <td className="nowrap">{formatDate(e.at)}</td>
                  <td>
                    <p>{e.summary}</p>
                    {open === e.id && (
                      <div className="entry-details">
                        <p className="mono">
                          {e.method} {e.path} → {e.status} in {e.durationMs} ms
                        </p>
                        <ChangeView change={e.change} />
                        {e.outcome === 'success' && e.resourceId !== null && (
                          <EntryDiff accountId={accountId} entryId={e.id} />
                        )}
                        {e.error !== null && <p className="error-detail">Error: {e.error}</p>}
                        {e.resourceId !== null && e.resourceType !== null && (
                          <p>
                            <Link
                              href={accountPath(
                                accountId,
                                `/${e.resourceType.toLowerCase() === 'group' ? 'teams' : 'users'}/${encodeURIComponent(e.resourceId)}`,
                              )}
                            >
                              {e.resourceType.toLowerCase() === 'group'
                                ? `See ${e.resourceName ?? e.resourceId}`
                                : `See ${e.resourceName ?? e.resourceId} and the before/after of its changes`}
                            </Link>
                          </p>
                        )}
                      </div>
                    )}
                  </td>
                  <td>
                    {e.outcome === 'failure' ? (
                      <span className="badge off">Failed ({e.status})</span>
                    ) : (
                      <span className="badge ok">OK ({e.status})</span>
                    )}
                  </td>
                  <td>
                    <button
                      type="button"
                      aria-expanded={open === e.id}
                      onClick={() => setOpen(open === e.id ? null : e.id)}
                    >
                      Details
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}
