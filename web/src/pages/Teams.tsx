import { useEffect, useState } from 'react';
import { api, errorText, must } from '../api/client';
import { ErrorLine, Loading, PageTitle, TableWrap, useLoad } from '../components';
import { Link } from '../router';
import { accountPath } from '../App';

const ORIGIN: Record<string, string> = {
  scim: 'Identity provider',
  department: 'Department',
  manager: 'Manager',
};

type TeamRow = {
  id: string;
  displayName: string;
  origin: string;
  deactivated: boolean;
  memberCount: number;
};

export function Teams(props: { accountId: string }) {
  const { accountId } = props;
  const [rows, setRows] = useState<TeamRow[]>([]);
  const [next, setNext] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const load = (cursor?: string) =>
    must(
      api.GET('/api/v1/admin/accounts/{accountId}/teams', {
        params: {
          path: { accountId },
          query: { limit: 50, ...(cursor !== undefined ? { cursor } : {}) },
        },
      }),
    )
      .then((page) => {
        setRows((r) => (cursor === undefined ? page.data : [...r, ...page.data]));
        setNext(page.nextCursor);
      })
      .catch((e: unknown) => setError(errorText(e)));
  useEffect(() => {
    void load();
  }, [accountId]);
  return (
    <>
      <PageTitle title="Teams" />
      <ErrorLine error={error} />
      {next === undefined ? (
        <Loading />
      ) : rows.length === 0 ? (
        <p className="muted">No teams yet: your identity provider's groups become teams.</p>
      ) : (
        <TableWrap label="Teams">
          <table>
            <thead>
              <tr>
                <th scope="col">Team</th>
                <th scope="col">Origin</th>
                <th scope="col">Members</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((t) => (
                <tr key={t.id}>
                  <td>
                    <Link href={accountPath(accountId, `/teams/${encodeURIComponent(t.id)}`)}>
                      {t.displayName}
                    </Link>
                  </td>
                  <td>{ORIGIN[t.origin] ?? t.origin}</td>
                  <td>{t.memberCount}</td>
                  <td>
                    {t.deactivated ? (
                      <span className="badge off">Deactivated</span>
                    ) : (
                      <span className="badge ok">Active</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {typeof next === 'string' && (
        <button type="button" onClick={() => void load(next)}>
          Load more teams
        </button>
      )}
    </>
  );
}

export function TeamPage(props: { accountId: string; teamId: string }) {
  const { accountId, teamId } = props;
  const detail = useLoad(
    () =>
      must(
        api.GET('/api/v1/admin/accounts/{accountId}/teams/{id}', {
          params: { path: { accountId, id: teamId } },
        }),
      ),
    [accountId, teamId],
  );
  const [members, setMembers] = useState<
    { id: string; type: string; displayName: string | null }[]
  >([]);
  const [next, setNext] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const load = (cursor?: string) =>
    must(
      api.GET('/api/v1/admin/accounts/{accountId}/teams/{id}/members', {
        params: {
          path: { accountId, id: teamId },
          query: { limit: 100, ...(cursor !== undefined ? { cursor } : {}) },
        },
      }),
    )
      .then((page) => {
        setMembers((m) => (cursor === undefined ? page.data : [...m, ...page.data]));
        setNext(page.nextCursor);
      })
      .catch((e: unknown) => setError(errorText(e)));
  useEffect(() => {
    void load();
  }, [accountId, teamId]);
  if (detail.error !== null) return <ErrorLine error={detail.error} />;
  if (detail.data === undefined) return <Loading />;
  const { team, parents, subTeams } = detail.data;
  return (
    <>
      <PageTitle title={team.displayName} crumbs={['Teams']} />
      <section className="card" aria-labelledby="team-h">
        <h2 id="team-h">About</h2>
        <dl className="attrs">
          <div>
            <dt>Origin</dt>
            <dd>{ORIGIN[team.origin] ?? team.origin}</dd>
          </div>
          <div>
            <dt>Members</dt>
            <dd>{team.memberCount}</dd>
          </div>
          <div>
            <dt>Status</dt>
            <dd>{team.deactivated ? 'Deactivated' : 'Active'}</dd>
          </div>
          <div>
            <dt>External ID</dt>
            <dd>{team.externalId ?? '—'}</dd>
          </div>
          <div>
            <dt>Parent teams</dt>
            <dd>
              {parents.length === 0
                ? '—'
                : parents.map((p, i) => (
                    <span key={p.id}>
                      {i > 0 && ', '}
                      <Link href={accountPath(accountId, `/teams/${encodeURIComponent(p.id)}`)}>
                        {p.displayName}
                      </Link>
                    </span>
                  ))}
            </dd>
          </div>
          <div>
            <dt>Sub-teams</dt>
            <dd>
              {subTeams.length === 0
                ? '—'
                : subTeams.map((p, i) => (
                    <span key={p.id}>
                      {i > 0 && ', '}
                      <Link href={accountPath(accountId, `/teams/${encodeURIComponent(p.id)}`)}>
                        {p.displayName}
                      </Link>
                    </span>
                  ))}
            </dd>
          </div>
        </dl>
        <p>
          <Link href={accountPath(accountId, `/log?resource=${encodeURIComponent(team.id)}`)}>
            Provisioning requests
          </Link>
        </p>
      </section>
      <section className="card" aria-labelledby="members-h">
        <h2 id="members-h">Members</h2>
        <ErrorLine error={error} />
        {members.length === 0 && next !== undefined ? (
          <p className="muted">No members.</p>
        ) : (
          <ul className="members">
            {members.map((m) => (
              <li key={m.id}>
                <Link
                  href={accountPath(
                    accountId,
                    `/${m.type === 'team' ? 'teams' : 'users'}/${encodeURIComponent(m.id)}`,
                  )}
                >
                  {m.displayName ?? m.id}
                </Link>
                {m.type === 'team' && <span className="muted"> (team)</span>}
              </li>
            ))}
          </ul>
        )}
        {typeof next === 'string' && (
          <button type="button" onClick={() => void load(next)}>
            Load more members
          </button>
        )}
      </section>
    </>
  );
}
