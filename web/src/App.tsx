import { useCallback, useEffect, useState } from 'react';
import { api, setCsrfToken, whenSignedOut } from './api/client';
import { Loading } from './components';
import { Link, navigate, useLocation } from './router';
import { AccountPicker, SignIn } from './pages/SignIn';
import { ApiTokens } from './pages/ApiTokens';
import { Users, UserPage } from './pages/Users';
import { Teams, TeamPage } from './pages/Teams';
import { OrgChart } from './pages/OrgChart';
import { ProvisioningLog } from './pages/Log';
import { Webhooks } from './pages/Webhooks';
import { Settings } from './pages/Settings';
import { SyncJobPage, SyncJobsList } from './pages/SyncJobs';

export interface Session {
  email: string;
  accounts: { accountId: string; accountName: string }[];
}

export const BASE = '/console';

export function accountPath(accountId: string, rest = ''): string {
  return `${BASE}/a/${encodeURIComponent(accountId)}${rest}`;
}

export function App() {
  const location = useLocation();
  const [session, setSession] = useState<Session | null | undefined>(undefined);

  const refresh = useCallback(async () => {
    const { data } = await api.GET('/api/v1/admin/console/session');
    if (data === undefined) {
      setSession(null);
      return;
    }
    setCsrfToken(data.csrfToken);
    setSession({ email: data.email, accounts: data.accounts });
  }, []);

  useEffect(() => {
    whenSignedOut(() => {
      setSession(null);
      navigate(`${BASE}/sign-in`, { replace: true });
    });
    void refresh();
  }, [refresh]);

  const path = location.pathname.replace(/\/+$/, '');
  if (session === undefined) return <Loading />;

  if (path === `${BASE}/sign-in` || session === null) {
    if (session !== null && path === `${BASE}/sign-in`) {
      queueMicrotask(() => navigate(`${BASE}/accounts`, { replace: true }));
      return <Loading />;
    }
    if (path !== `${BASE}/sign-in`)
      queueMicrotask(() => navigate(`${BASE}/sign-in`, { replace: true }));
    return (
      <SignIn
        onSignedIn={(s, csrf) => {
          setCsrfToken(csrf);
          setSession(s);
          if (s.accounts.length === 1)
            navigate(accountPath(s.accounts[0]!.accountId, '/settings/api-tokens'));
          else navigate(`${BASE}/accounts`);
        }}
      />
    );
  }

  const match = /^\/console\/a\/([^/]+)(\/.*)?$/.exec(path);
  if (match === null) {
    if (path === `${BASE}/accounts` || session.accounts.length !== 1)
      return <AccountPicker session={session} onSignOut={() => signOut(setSession)} />;
    queueMicrotask(() =>
      navigate(accountPath(session.accounts[0]!.accountId, '/settings/api-tokens'), {
        replace: true,
      }),
    );
    return <Loading />;
  }
  const accountId = decodeURIComponent(match[1]!);
  const account = session.accounts.find((a) => a.accountId === accountId);
  const rest = match[2] ?? '';
  return (
    <Shell
      session={session}
      accountId={accountId}
      accountName={account?.accountName ?? accountId}
      rest={rest}
      onSignOut={() => signOut(setSession)}
    >
      {account === undefined ? (
        <p role="alert">This sign-in does not cover account {accountId}.</p>
      ) : (
        <Page accountId={accountId} rest={rest} query={location.searchParams} />
      )}
    </Shell>
  );
}

async function signOut(setSession: (s: Session | null) => void): Promise<void> {
  await api.DELETE('/api/v1/admin/console/session');
  setCsrfToken('');
  setSession(null);
  navigate(`${BASE}/sign-in`, { replace: true });
}

function Page(props: { accountId: string; rest: string; query: URLSearchParams }) {
  const { accountId, rest } = props;
  let m: RegExpExecArray | null;
  if (rest === '' || rest === '/settings/api-tokens') return <ApiTokens accountId={accountId} />;
  if (rest === '/users') return <Users accountId={accountId} query={props.query} />;
  if ((m = /^\/users\/([^/]+)$/.exec(rest)))
    return <UserPage accountId={accountId} userId={decodeURIComponent(m[1]!)} />;
  if (rest === '/teams') return <Teams accountId={accountId} />;
  if ((m = /^\/teams\/([^/]+)$/.exec(rest)))
    return <TeamPage accountId={accountId} teamId={decodeURIComponent(m[1]!)} />;
  if (rest === '/org-chart') return <OrgChart accountId={accountId} query={props.query} />;
  if (rest === '/log') return <ProvisioningLog accountId={accountId} query={props.query} />;
  if (rest === '/sync/jobs') return <SyncJobsList accountId={accountId} />;
  if ((m = /^\/sync\/jobs\/([^/]+)$/.exec(rest)))
    return <SyncJobPage accountId={accountId} jobId={decodeURIComponent(m[1]!)} />;
  if (rest === '/webhooks') return <Webhooks accountId={accountId} />;
  if (rest === '/settings') return <Settings accountId={accountId} />;
  return <p role="alert">No such page.</p>;
}

const NAV: { label: string; rest: string; group?: string }[] = [
  { label: 'Users', rest: '/users' },
  { label: 'Teams', rest: '/teams' },
  { label: 'Org chart', rest: '/org-chart' },
  { label: 'Provisioning log', rest: '/log' },
  { label: 'Provisioning jobs', rest: '/sync/jobs' },
  { label: 'Webhooks', rest: '/webhooks' },
  { label: 'Settings', rest: '/settings' },
  { label: 'API Tokens', rest: '/settings/api-tokens', group: 'Settings › Configuration' },
];

function Shell(props: {
  session: Session;
  accountId: string;
  accountName: string;
  rest: string;
  onSignOut: () => void;
  children: React.ReactNode;
}) {
  const current = props.rest === '' ? '/settings/api-tokens' : props.rest;
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Roster</span>
        <span className="account" title={props.accountId}>
          {props.accountName}
        </span>
        <span className="spacer" />
        {props.session.accounts.length > 1 && <Link href={`${BASE}/accounts`}>Switch account</Link>}
        <span className="who">{props.session.email}</span>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <nav className="sidebar" aria-label="Console">
        <ul>
          {NAV.map((item) => {
            const active =
              current === item.rest ||
              (item.rest !== '/settings' && current.startsWith(item.rest + '/'));
            return (
              <li key={item.rest} className={item.group !== undefined ? 'sub' : undefined}>
                <Link
                  href={accountPath(props.accountId, item.rest)}
                  aria-current={active ? 'page' : undefined}
                >
                  {item.label}
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </div>
  );
}
