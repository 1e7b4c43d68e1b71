import { useState } from 'react';
import { api, must } from '../api/client';
import { ErrorLine, formatDate, Loading, PageTitle, TableWrap, useLoad } from '../components';
import { Link, navigate } from '../router';
import { accountPath } from '../App';

const PAGE = 25;

export function Users(props: { accountId: string; query: URLSearchParams }) {
  const { accountId } = props;
  const q = props.query.get('q') ?? '';
  const status = (props.query.get('status') ?? 'all') as 'all' | 'active' | 'deactivated';
  const offset = Number(props.query.get('offset') ?? '0') || 0;
  const [words, setWords] = useState(q);
  const [statusChoice, setStatusChoice] = useState(status);
  const list = useLoad(
    () =>
      must(
        api.GET('/api/v1/admin/accounts/{accountId}/users', {
          params: { path: { accountId }, query: { q, status, offset, limit: PAGE } },
        }),
      ),
    [accountId, q, status, offset],
  );
  const go = (next: { q?: string; status?: string; offset?: number }) => {
    const params = new URLSearchParams();
    const nq = next.q ?? q;
    const ns = next.status ?? status;
    if (nq !== '') params.set('q', nq);
    if (ns !== 'all') params.set('status', ns);
    if ((next.offset ?? 0) > 0) params.set('offset', String(next.offset));
    navigate(accountPath(accountId, `/users${params.size > 0 ? `?${params}` : ''}`));
  };
  return (
    <>
      <PageTitle title="Users" />
      <form
        className="filters"
        role="search"
        aria-label="Search users"
        onSubmit={(e) => {
          e.preventDefault();
          go({ q: words, status: statusChoice, offset: 0 });
        }}
      >
        <div className="field">
          <label htmlFor="user-q">Search</label>
          <input
            id="user-q"
            type="search"
            value={words}
            placeholder="Name, user name or e-mail"
            onChange={(e) => setWords(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="user-status">Status</label>
          <select
            id="user-status"
            value={statusChoice}
            onChange={(e) => setStatusChoice(e.target.value as typeof status)}
          >
            <option value="all">All</option>
            <option value="active">Active</option>
            <option value="deactivated">Deactivated</option>
          </select>
        </div>
        <button type="submit" className="primary">
          Search
        </button>
      </form>
      <ErrorLine error={list.error} />
      {list.data === undefined ? (
        <Loading />
      ) : (
        <>
          <p className="muted" role="status">
            {list.data.total === 0
              ? 'No users match.'
              : `${list.data.offset + 1}–${list.data.offset + list.data.users.length} of ${list.data.total} users`}
          </p>
          <TableWrap label="Users">
            {/* Explicit roles: the narrow layout sets display: block, which drops implicit ones. */}
            <table className="stack" role="table">
              <thead role="rowgroup">
                <tr role="row">
                  <th scope="col" role="columnheader">
                    Name
                  </th>
                  <th scope="col" role="columnheader">
                    User name
                  </th>
                  <th scope="col" role="columnheader">
                    E-mail
                  </th>
                  <th scope="col" role="columnheader">
                    Title
                  </th>
                  <th scope="col" role="columnheader">
                    Department
                  </th>
                  <th scope="col" role="columnheader">
                    Status
                  </th>
                </tr>
              </thead>
              <tbody role="rowgroup">
                {list.data.users.map((u) => (
                  <tr key={u.id} role="row">
                    <td role="cell" data-label="Name">
                      <Link href={accountPath(accountId, `/users/${encodeURIComponent(u.id)}`)}>
                        {u.displayName ?? u.userName}
                      </Link>
                    </td>
                    <td role="cell" data-label="User name">
                      {u.userName}
                    </td>
                    <td role="cell" data-label="E-mail">
                      {u.email ?? '—'}
                    </td>
                    <td role="cell" data-label="Title">
                      {u.title ?? '—'}
                    </td>
                    <td role="cell" data-label="Department">
                      {u.department ?? '—'}
                    </td>
                    <td role="cell" data-label="Status">
                      {u.active ? (
                        <span className="badge ok">Active</span>
                      ) : (
                        <span className="badge off">Deactivated</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          <div className="pager">
            <button
              type="button"
              disabled={offset === 0}
              onClick={() => go({ offset: Math.max(0, offset - PAGE) })}
            >
              Previous page
            </button>
            <button
              type="button"
              disabled={offset + PAGE >= list.data.total}
              onClick={() => go({ offset: offset + PAGE })}
            >
              Next page
            </button>
          </div>
        </>
      )}
    </>
  );
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

const LABELS: Record<string, string> = {
  'user.created': 'Created',
  'user.updated': 'Updated',
  'user.deactivated': 'Deactivated',
  'user.reactivated': 'Reactivated',
  'user.deleted': 'Deleted',
  'team.member_added': 'Added to team',
  'team.member_removed': 'Removed from team',
};

export function UserPage(props: { accountId: string; userId: string }) {
  const { accountId, userId } = props;
  const detail = useLoad(
    () =>
      must(
        api.GET('/api/v1/admin/accounts/{accountId}/users/{id}', {
          params: { path: { accountId, id: userId } },
        }),
      ),
    [accountId, userId],
  );
  if (detail.error !== null) return <ErrorLine error={detail.error} />;
  if (detail.data === undefined) return <Loading />;
  const { user, manager, reports, reportCount, teams, history } = detail.data;
  const rows: [string, string][] = [
    ['User name', user.userName],
    ['External ID', user.externalId ?? '—'],
    ['E-mail', user.email ?? '—'],
    ['Given name', user.givenName ?? '—'],
    ['Family name', user.familyName ?? '—'],
    ['Title', user.title ?? '—'],
    ['Department', user.department ?? '—'],
    ['Status', user.active ? 'Active' : 'Deactivated'],
    ['Created', formatDate(user.createdAt)],
    ['Updated', formatDate(user.updatedAt)],
  ];
  return (
    <>
      <PageTitle title={user.displayName ?? user.userName} crumbs={['Users']} />
      <div className="grid2">
        <section className="card" aria-labelledby="attrs-h">
          <h2 id="attrs-h">Attributes</h2>
          <dl className="attrs">
            {rows.map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
          <details>
            <summary>As provisioned (SCIM)</summary>
            <pre className="json">{JSON.stringify(detail.data.attributes, null, 2)}</pre>
          </details>
        </section>
        <section className="card" aria-labelledby="org-h">
          <h2 id="org-h">Manager and reports</h2>
          <h3>Manager</h3>
          {manager === null ? (
            <p className="muted">No manager.</p>
          ) : manager.missing ? (
            <p>
              {manager.id} <span className="muted">(not provisioned)</span>
            </p>
          ) : (
            <p>
              <Link href={accountPath(accountId, `/users/${encodeURIComponent(manager.id)}`)}>
                {manager.displayName}
              </Link>
            </p>
          )}
          <h3>Direct reports ({reportCount})</h3>
          {reports.length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <ul>
              {reports.map((r) => (
                <li key={r.id}>
                  <Link href={accountPath(accountId, `/users/${encodeURIComponent(r.id)}`)}>
                    {r.displayName}
                  </Link>
                  {!r.active && <span className="muted"> (deactivated)</span>}
                </li>
              ))}
            </ul>
          )}
          <h3>Teams</h3>
          {teams.length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <ul>
              {teams.map((t) => (
                <li key={t.id}>
                  <Link href={accountPath(accountId, `/teams/${encodeURIComponent(t.id)}`)}>
                    {t.displayName}
                  </Link>
                </li>
              ))}
            </ul>
          )}
          <p>
            <Link href={accountPath(accountId, `/org-chart?focus=${encodeURIComponent(user.id)}`)}>
              Show in org chart
            </Link>
            {' · '}
            <Link href={accountPath(accountId, `/log?resource=${encodeURIComponent(user.id)}`)}>
              Provisioning requests
            </Link>
          </p>
        </section>
      </div>
      <section className="card" aria-labelledby="history-h">
        <h2 id="history-h">History</h2>
        {history.length === 0 ? (
          <p className="muted">No changes recorded.</p>
        ) : (
          <ol className="history">
            {history.map((h) => (
              <li key={h.seq}>
                <p>
                  <strong>{LABELS[h.type] ?? h.type}</strong>
                  {h.team !== null && (
                    <>
                      {' '}
                      <Link
                        href={accountPath(accountId, `/teams/${encodeURIComponent(h.team.id)}`)}
                      >
                        {h.team.displayName ?? h.team.id}
                      </Link>
                    </>
                  )}{' '}
                  <span className="muted">{formatDate(h.at)}</span>
                </p>
                {h.changes.length > 0 && (
                  <TableWrap label={`Changes of ${formatDate(h.at)}`}>
                    <table className="diff">
                      <thead>
                        <tr>
                          <th scope="col">Attribute</th>
                          <th scope="col">Before</th>
                          <th scope="col">After</th>
                        </tr>
                      </thead>
                      <tbody>
                        {h.changes.map((c, i) => (
                          <tr key={i}>
                            <th scope="row">{c.attribute}</th>
                            <td className="before">{show(c.before)}</td>
                            <td className="after">{show(c.after)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </TableWrap>
                )}
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}
