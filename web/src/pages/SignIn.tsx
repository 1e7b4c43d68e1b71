import { useState } from 'react';
import { api, errorText, must } from '../api/client';
import { ErrorLine, PageTitle } from '../components';
import { navigate } from '../router';
import { accountPath, type Session } from '../App';

export function SignIn(props: { onSignedIn: (session: Session, csrf: string) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" className="narrow">
      <PageTitle title="Sign in to Roster" />
      <form
        className="card"
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          must(api.POST('/api/v1/admin/console/session', { body: { email, password } }))
            .then((data) => {
              setPassword('');
              props.onSignedIn({ email: data.email, accounts: data.accounts }, data.csrfToken);
            })
            .catch((e: unknown) => setError(errorText(e)))
            .finally(() => setBusy(false));
        }}
      >
        <div className="field">
          <label htmlFor="email">Email</label>
          <input
            id="email"
            type="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <ErrorLine error={error} />
        <button type="submit" className="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

export function AccountPicker(props: { session: Session; onSignOut: () => void }) {
  return (
    <main id="main" className="narrow">
      <PageTitle title="Choose an account" />
      <p>
        Signed in as <strong>{props.session.email}</strong>. You are an admin of these accounts:
      </p>
      <ul className="account-list">
        {props.session.accounts.map((a) => (
          <li key={a.accountId}>
            <button
              type="button"
              onClick={() => navigate(accountPath(a.accountId, '/settings/api-tokens'))}
            >
              <span className="name">{a.accountName}</span>
              <span className="muted mono">{a.accountId}</span>
            </button>
          </li>
        ))}
      </ul>
      <button type="button" onClick={props.onSignOut}>
        Sign out
      </button>
    </main>
  );
}
