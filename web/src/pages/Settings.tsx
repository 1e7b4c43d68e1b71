import { useEffect, useState } from 'react';
import { api, errorText, must } from '../api/client';
import {
  ConfirmDialog,
  CopyField,
  ErrorLine,
  formatDate,
  Loading,
  PageTitle,
  TableWrap,
  useLoad,
} from '../components';
import { Link } from '../router';
import { accountPath } from '../App';
import { SsoSettings } from './SsoSettings';

export function Settings(props: { accountId: string }) {
  const { accountId } = props;
  const account = useLoad(
    () => must(api.GET('/api/v1/admin/accounts/{accountId}/', { params: { path: { accountId } } })),
    [accountId],
  );
  const admins = useLoad(
    () =>
      must(
        api.GET('/api/v1/admin/accounts/{accountId}/admins', { params: { path: { accountId } } }),
      ),
    [accountId],
  );
  const [seats, setSeats] = useState('');
  const [saved, setSaved] = useState('');
  // The switches show the admin's choice at once; the server's answer confirms it.
  const [mapping, setMapping] = useState<{
    departmentTeams: boolean;
    managerTeams: boolean;
  } | null>(null);
  useEffect(() => {
    if (account.data !== undefined) setMapping(account.data.settings);
  }, [account.data]);
  const [error, setError] = useState<string | null>(null);
  const [email, setEmail] = useState('');
  const [invited, setInvited] = useState<{ email: string; password: string } | null>(null);
  const [deactivating, setDeactivating] = useState<{ id: string; email: string } | null>(null);
  useEffect(() => {
    if (account.data !== undefined)
      setSeats(account.data.seats === null ? '' : String(account.data.seats));
  }, [account.data]);

  const patch = (
    body: {
      seats?: number | null;
      settings?: { departmentTeams?: boolean; managerTeams?: boolean };
    },
    what: string,
  ) => {
    setError(null);
    must(
      api.PATCH('/api/v1/admin/accounts/{accountId}/', { params: { path: { accountId } }, body }),
    )
      .then(() => {
        setSaved(`${what} saved.`);
        account.reload();
      })
      .catch((e: unknown) => setError(errorText(e)));
  };

  return (
    <>
      <PageTitle title="Settings" />
      <p>
        Tokens, Account ID and Tenant URL:{' '}
        <Link href={accountPath(accountId, '/settings/api-tokens')}>
          Settings › Configuration › API Tokens
        </Link>
      </p>
      <p role="status" className="muted">
        {saved}
      </p>
      <ErrorLine error={error} />
      {account.data === undefined ? (
        <Loading />
      ) : (
        <>
          <section className="card" aria-labelledby="seats-h">
            <h2 id="seats-h">Seats</h2>
            <p>
              {account.data.activeUsers} active{' '}
              {account.data.activeUsers === 1 ? 'user uses' : 'users use'}{' '}
              {account.data.seats === null
                ? 'seats (no limit).'
                : `${account.data.activeUsers} of ${account.data.seats} seats.`}
            </p>
            <form
              className="inline-form"
              onSubmit={(e) => {
                e.preventDefault();
                patch({ seats: seats.trim() === '' ? null : Number(seats) }, 'Seat limit');
              }}
            >
              <div className="field">
                <label htmlFor="seats">Seat limit</label>
                <input
                  id="seats"
                  type="number"
                  min={0}
                  step={1}
                  value={seats}
                  placeholder="No limit"
                  aria-describedby="seats-hint"
                  onChange={(e) => setSeats(e.target.value)}
                />
                <p id="seats-hint" className="hint">
                  Empty for no limit. Provisioning that would exceed it is refused with a clear
                  error.
                </p>
              </div>
              <button type="submit">Save seat limit</button>
            </form>
          </section>
          <section className="card" aria-labelledby="mapping-h">
            <h2 id="mapping-h">Team mapping</h2>
            <p className="muted">
              Identity provider groups are always teams. Roster can also build teams from user
              attributes.
            </p>
            <label className="switch">
              <input
                type="checkbox"
                role="switch"
                checked={(mapping ?? account.data.settings).departmentTeams}
                onChange={(e) => {
                  setMapping({
                    ...(mapping ?? account.data!.settings),
                    departmentTeams: e.target.checked,
                  });
                  patch({ settings: { departmentTeams: e.target.checked } }, 'Team mapping');
                }}
              />
              A team per department
            </label>
            <label className="switch">
              <input
                type="checkbox"
                role="switch"
                checked={(mapping ?? account.data.settings).managerTeams}
                onChange={(e) => {
                  setMapping({
                    ...(mapping ?? account.data!.settings),
                    managerTeams: e.target.checked,
                  });
                  patch({ settings: { managerTeams: e.target.checked } }, 'Team mapping');
                }}
              />
              A team hierarchy from managers
            </label>
          </section>
        </>
      )}
      <SsoSettings accountId={accountId} />
      <section className="card" aria-labelledby="admins-h">
        <h2 id="admins-h">Admins</h2>
        <ErrorLine error={admins.error} />
        {admins.data === undefined ? (
          <Loading />
        ) : (
          <TableWrap label="Admins">
            <table>
              <thead>
                <tr>
                  <th scope="col">E-mail</th>
                  <th scope="col">Since</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {admins.data.admins.map((a) => (
                  <tr key={a.id}>
                    <td>{a.email}</td>
                    <td>{formatDate(a.createdAt)}</td>
                    <td>
                      {a.active ? (
                        <span className="badge ok">Active</span>
                      ) : (
                        <span className="badge off">Deactivated</span>
                      )}
                    </td>
                    <td>
                      {a.active && (
                        <button
                          type="button"
                          className="danger"
                          aria-label={`Deactivate ${a.email}`}
                          onClick={() => setDeactivating({ id: a.id, email: a.email })}
                        >
                          Deactivate
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            setError(null);
            must(
              api.POST('/api/v1/admin/accounts/{accountId}/admins', {
                params: { path: { accountId } },
                body: { email },
              }),
            )
              .then((r) => {
                setInvited({ email: r.admin.email, password: r.password });
                setEmail('');
                admins.reload();
              })
              .catch((err: unknown) => setError(errorText(err)));
          }}
        >
          <div className="field">
            <label htmlFor="admin-email">New admin's e-mail</label>
            <input
              id="admin-email"
              type="email"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          </div>
          <button type="submit">Add admin</button>
        </form>
        {invited !== null && (
          <div className="new-token" role="region" aria-label="New admin's password">
            <CopyField label={`Password for ${invited.email}`} value={invited.password} />
            <p className="warning" role="note">
              Give this password to the new admin now: it will not be shown again.
            </p>
            <button type="button" onClick={() => setInvited(null)}>
              Done
            </button>
          </div>
        )}
      </section>
      <ConfirmDialog
        open={deactivating !== null}
        title={`Deactivate ${deactivating?.email ?? ''}?`}
        confirmLabel="Deactivate admin"
        onCancel={() => setDeactivating(null)}
        onConfirm={() => {
          const d = deactivating;
          setDeactivating(null);
          if (d === null) return;
          must(
            api.POST('/api/v1/admin/accounts/{accountId}/admins/{id}/deactivate', {
              params: { path: { accountId, id: d.id } },
            }),
          )
            .then(() => admins.reload())
            .catch((err: unknown) => setError(errorText(err)));
        }}
      >
        <p>They can no longer sign in, and every token they issued stops working at once.</p>
      </ConfirmDialog>
    </>
  );
}
