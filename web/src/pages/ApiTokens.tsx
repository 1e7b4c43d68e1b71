import { useState } from 'react';
import { api, errorText, must } from '../api/client';
import type { components } from '../api/schema';
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

type Token = Awaited<ReturnType<typeof loadTokens>>[number];
async function loadTokens(accountId: string) {
  return (
    await must(
      api.GET('/api/v1/admin/accounts/{accountId}/tokens', { params: { path: { accountId } } }),
    )
  ).tokens;
}
export type { components };

/** Settings › Configuration › API Tokens: the page every identity provider setup starts from. */
export function ApiTokens(props: { accountId: string }) {
  const { accountId } = props;
  const account = useLoad(
    () => must(api.GET('/api/v1/admin/accounts/{accountId}/', { params: { path: { accountId } } })),
    [accountId],
  );
  const tokens = useLoad(() => loadTokens(accountId), [accountId]);
  const [issuing, setIssuing] = useState(false);
  const [type, setType] = useState<'scim' | 'api'>('scim');
  const [name, setName] = useState('');
  const [issued, setIssued] = useState<{ name: string; token: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<Token | null>(null);

  return (
    <>
      <PageTitle title="API Tokens" crumbs={['Settings', 'Configuration', 'API Tokens']} />
      <section aria-labelledby="account-h" className="card">
        <h2 id="account-h">Account</h2>
        {account.data === undefined ? (
          <Loading />
        ) : (
          <div className="grid2">
            <CopyField label="Account ID" value={account.data.id} />
            <CopyField
              label="Tenant URL"
              value={account.data.tenantUrl}
              description={`Region ${account.data.region}: give this URL, not another data center's, to your identity provider.`}
            />
          </div>
        )}
        <ErrorLine error={account.error} />
      </section>

      <section aria-labelledby="tokens-h" className="card">
        <div className="section-head">
          <h2 id="tokens-h">Tokens</h2>
          {!issuing && (
            <button
              type="button"
              className="primary"
              onClick={() => {
                setIssuing(true);
                setIssued(null);
              }}
            >
              Issue Token
            </button>
          )}
        </div>
        {issuing && (
          <form
            className="issue-form"
            aria-label="Issue a token"
            onSubmit={(event) => {
              event.preventDefault();
              setError(null);
              must(
                api.POST('/api/v1/admin/accounts/{accountId}/tokens', {
                  params: { path: { accountId } },
                  body: { type, name },
                }),
              )
                .then((t) => {
                  setIssued({ name: t.name, token: t.token });
                  setIssuing(false);
                  setName('');
                  tokens.reload();
                })
                .catch((e: unknown) => setError(errorText(e)));
            }}
          >
            <fieldset>
              <legend>Type</legend>
              <label className="inline">
                <input
                  type="radio"
                  name="type"
                  value="scim"
                  checked={type === 'scim'}
                  onChange={() => setType('scim')}
                />{' '}
                SCIM
                <span className="muted"> (for an identity provider: Entra ID, Okta…)</span>
              </label>
              <label className="inline">
                <input
                  type="radio"
                  name="type"
                  value="api"
                  checked={type === 'api'}
                  onChange={() => setType('api')}
                />{' '}
                API
                <span className="muted"> (for the REST API)</span>
              </label>
            </fieldset>
            <div className="field">
              <label htmlFor="token-name">Name</label>
              <input
                id="token-name"
                required
                maxLength={200}
                value={name}
                placeholder="e.g. Entra ID"
                onChange={(e) => setName(e.target.value)}
              />
            </div>
            <ErrorLine error={error} />
            <div className="actions">
              <button type="submit" className="primary">
                Generate API Token
              </button>
              <button type="button" onClick={() => setIssuing(false)}>
                Cancel
              </button>
            </div>
          </form>
        )}
        {issued !== null && (
          <div className="new-token" role="region" aria-label="New token">
            <CopyField label="Token" value={issued.token} />
            <p className="warning" role="note">
              Copy this token now: it will not be shown again. Paste it into your identity provider
              as the Secret Token.
            </p>
            <button type="button" onClick={() => setIssued(null)}>
              Done
            </button>
          </div>
        )}
        {tokens.data === undefined ? (
          <Loading />
        ) : tokens.data.length === 0 ? (
          <p className="muted">No tokens yet. Issue a SCIM token for your identity provider.</p>
        ) : (
          <TableWrap label="Tokens">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Issued by</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tokens.data.map((t) => (
                  <tr key={t.id}>
                    <td>{t.name}</td>
                    <td>{t.type.toUpperCase()}</td>
                    <td>{t.adminEmail}</td>
                    <td>{formatDate(t.createdAt)}</td>
                    <td>{t.lastUsedAt === null ? 'Never' : formatDate(t.lastUsedAt)}</td>
                    <td>
                      {t.revokedAt === null ? (
                        <span className="badge ok">Active</span>
                      ) : (
                        <span className="badge off">Revoked</span>
                      )}
                    </td>
                    <td>
                      {t.revokedAt === null && (
                        <button
                          type="button"
                          className="danger"
                          aria-label={`Revoke ${t.name}`}
                          onClick={() => setRevoking(t)}
                        >
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        <ErrorLine error={tokens.error} />
      </section>

      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke token “${revoking?.name ?? ''}”?`}
        confirmLabel="Revoke token"
        onCancel={() => setRevoking(null)}
        onConfirm={() => {
          const t = revoking;
          setRevoking(null);
          if (t === null) return;
          must(
            api.DELETE('/api/v1/admin/accounts/{accountId}/tokens/{id}', {
              params: { path: { accountId, id: t.id } },
            }),
          )
            .then(() => tokens.reload())
            .catch((e: unknown) => setError(errorText(e)));
        }}
      >
        <p>
          It stops working at once: an identity provider using it will fail to provision until it
          gets a new token.
        </p>
      </ConfirmDialog>

      <section aria-labelledby="guide-h" className="card guide">
        <h2 id="guide-h">Connect your identity provider</h2>
        <h3>Microsoft Entra ID</h3>
        <ol>
          <li>
            In Entra, open Enterprise applications › your Roster app › Provisioning, and set
            Provisioning Mode to Automatic.
          </li>
          <li>
            Paste the <strong>Tenant URL</strong> above, and a SCIM token from this page as the{' '}
            <strong>Secret Token</strong>.
          </li>
          <li>
            Click <strong>Test Connection</strong>: it succeeds only with an active token issued by
            an admin of this account.
          </li>
          <li>
            In Mappings, match users on <code>userName</code> (or <code>externalId</code>), and map{' '}
            <code>manager</code> so the org chart and manager teams follow.
          </li>
          <li>
            Scope who is provisioned, turn provisioning On, and watch the Provisioning log here.
          </li>
        </ol>
        <h3>Okta</h3>
        <ol>
          <li>
            In the app's Provisioning tab, enable SCIM provisioning; SCIM connector base URL: the{' '}
            <strong>Tenant URL</strong>.
          </li>
          <li>
            Unique identifier field for users: <code>userName</code>; authentication mode: HTTP
            Header, with a SCIM token as the Bearer token.
          </li>
          <li>
            Test the connector configuration, then enable Create, Update and Deactivate users, and
            push groups to get teams.
          </li>
        </ol>
      </section>
    </>
  );
}
