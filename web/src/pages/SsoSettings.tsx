import { useEffect, useState } from 'react';
import { api, errorText, must } from '../api/client';
import { ConfirmDialog, CopyField, ErrorLine, Loading, useLoad } from '../components';

type TestResult = {
  ok: boolean;
  issuer: string;
  signingKeys?: number;
  clientSecret: 'stored' | 'none' | 'undecryptable';
  problem?: string;
};

/**
 * Settings › Sign-in with SSO: the account's OpenID Connect provider (docs/sso.md).
 * The client secret is write-only: the API says whether one is stored, never its value.
 */
export function SsoSettings(props: { accountId: string }) {
  const { accountId } = props;
  const path = { params: { path: { accountId } } };
  const sso = useLoad(
    () => must(api.GET('/api/v1/admin/accounts/{accountId}/sso', path)),
    [accountId],
  );
  const [issuer, setIssuer] = useState('');
  const [clientId, setClientId] = useState('');
  const [secret, setSecret] = useState('');
  const [domains, setDomains] = useState('');
  const [department, setDepartment] = useState('department');
  const [groups, setGroups] = useState('groups');
  const [externalId, setExternalId] = useState('');
  const [status, setStatus] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [test, setTest] = useState<TestResult | null>(null);
  const [removing, setRemoving] = useState(false);

  useEffect(() => {
    const p = sso.data?.provider;
    if (p === undefined || p === null) return;
    setIssuer(p.issuer);
    setClientId(p.clientId);
    setDomains(p.allowedDomains.join(', '));
    setDepartment(p.claims.department ?? '');
    setGroups(p.claims.groups ?? '');
    setExternalId(p.claims.externalId ?? '');
  }, [sso.data]);

  const provider = sso.data?.provider ?? null;
  const claim = (value: string) => (value.trim() === '' ? null : value.trim());

  return (
    <section className="card" aria-labelledby="sso-h">
      <h2 id="sso-h">Sign-in with SSO</h2>
      <p className="muted">
        People sign in with your OpenID Connect identity provider. The first sign-in creates the
        user in their teams, or links the user your provider pushed over SCIM.
      </p>
      <p role="status" className="muted">
        {status}
      </p>
      <ErrorLine error={error ?? sso.error} />
      {sso.data === undefined ? (
        <Loading />
      ) : (
        <>
          <CopyField
            label="Redirect URI"
            value={sso.data.redirectUri}
            description="Register it at the identity provider as the web application's redirect URI."
          />
          <CopyField label="Sign-in URL" value={sso.data.signInUrl} />
          <form
            onSubmit={(e) => {
              e.preventDefault();
              setError(null);
              setTest(null);
              must(
                api.PUT('/api/v1/admin/accounts/{accountId}/sso', {
                  ...path,
                  body: {
                    issuer: issuer.trim(),
                    clientId: clientId.trim(),
                    allowedDomains: domains
                      .split(',')
                      .map((d) => d.trim())
                      .filter((d) => d !== ''),
                    claims: {
                      department: claim(department),
                      groups: claim(groups),
                      externalId: claim(externalId),
                    },
                    ...(secret !== '' ? { clientSecret: secret } : {}),
                  },
                }),
              )
                .then(() => {
                  setSecret('');
                  setStatus('Sign-in with SSO saved.');
                  sso.reload();
                })
                .catch((err: unknown) => setError(errorText(err)));
            }}
          >
            <div className="field">
              <label htmlFor="sso-issuer">Issuer URL</label>
              <input
                id="sso-issuer"
                type="url"
                required
                value={issuer}
                placeholder="https://login.microsoftonline.com/<tenant id>/v2.0"
                onChange={(e) => setIssuer(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="sso-client">Client ID</label>
              <input
                id="sso-client"
                required
                value={clientId}
                onChange={(e) => setClientId(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="sso-secret">Client secret</label>
              <input
                id="sso-secret"
                type="password"
                autoComplete="off"
                value={secret}
                aria-describedby="sso-secret-hint"
                onChange={(e) => setSecret(e.target.value)}
              />
              <p id="sso-secret-hint" className="hint">
                {provider?.clientSecretSet === true
                  ? 'A secret is stored (encrypted). Leave empty to keep it.'
                  : 'Stored encrypted with the server key (ROSTER_SSO_KEY); never shown again.'}
              </p>
            </div>
            <div className="field">
              <label htmlFor="sso-domains">Allowed e-mail domains</label>
              <input
                id="sso-domains"
                required
                value={domains}
                placeholder="acme.example, acme.co.uk"
                onChange={(e) => setDomains(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="sso-department">Department claim</label>
              <input
                id="sso-department"
                value={department}
                aria-describedby="sso-claims-hint"
                onChange={(e) => setDepartment(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="sso-groups">Groups claim</label>
              <input
                id="sso-groups"
                value={groups}
                aria-describedby="sso-claims-hint"
                onChange={(e) => setGroups(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="sso-external">External ID claim</label>
              <input
                id="sso-external"
                value={externalId}
                aria-describedby="sso-claims-hint"
                onChange={(e) => setExternalId(e.target.value)}
              />
              <p id="sso-claims-hint" className="hint">
                Empty: not mapped. The department joins its team when department teams are on;
                groups join the identity provider's teams of those names.
              </p>
            </div>
            <button type="submit">Save SSO</button>
          </form>
          {provider !== null && (
            <p>
              <button
                type="button"
                onClick={() => {
                  setError(null);
                  must(api.POST('/api/v1/admin/accounts/{accountId}/sso/test', path))
                    .then((r) => setTest(r as TestResult))
                    .catch((err: unknown) => setError(errorText(err)));
                }}
              >
                Test connection
              </button>{' '}
              <button type="button" className="danger" onClick={() => setRemoving(true)}>
                Turn off SSO
              </button>
            </p>
          )}
          {test !== null && (
            <p role="status" className={test.ok ? 'badge ok' : 'badge off'}>
              {test.ok
                ? `Connected: ${test.issuer} publishes ${test.signingKeys ?? 0} signing key(s); client secret ${test.clientSecret}.`
                : `Not ready: ${test.problem ?? 'unknown problem'}`}
            </p>
          )}
        </>
      )}
      <ConfirmDialog
        open={removing}
        title="Turn off sign-in with SSO?"
        confirmLabel="Turn off SSO"
        onCancel={() => setRemoving(false)}
        onConfirm={() => {
          setRemoving(false);
          must(api.DELETE('/api/v1/admin/accounts/{accountId}/sso', path))
            .then(() => {
              setStatus('Sign-in with SSO turned off.');
              setIssuer('');
              setClientId('');
              setDomains('');
              sso.reload();
            })
            .catch((err: unknown) => setError(errorText(err)));
        }}
      >
        <p>Nobody can sign in with SSO any more, and everyone signed in with it is signed out.</p>
      </ConfirmDialog>
    </section>
  );
}
