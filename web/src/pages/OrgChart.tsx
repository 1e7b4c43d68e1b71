import { useCallback, useEffect, useState } from 'react';
import { api, errorText, must } from '../api/client';
import { ErrorLine, Loading, PageTitle } from '../components';
import { Link } from '../router';
import { accountPath } from '../App';

interface OrgNode {
  id: string;
  displayName: string;
  title: string | null;
  reportCount: number;
}
interface Level {
  nodes: OrgNode[];
  next: string | null;
}

/**
 * The manager tree as a collapsible chart. Levels load when opened (one page of reports
 * at a time), so an account of 10,000 people opens as fast as one of ten.
 */
export function OrgChart(props: { accountId: string; query: URLSearchParams }) {
  const { accountId } = props;
  const [levels, setLevels] = useState<Map<string, Level>>(new Map());
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const [focus, setFocus] = useState<string | null>(props.query.get('focus'));
  const [words, setWords] = useState('');
  const [results, setResults] = useState<{ id: string; name: string; active: boolean }[] | null>(
    null,
  );

  const loadLevel = useCallback(
    async (parent: string, cursor?: string): Promise<void> => {
      const page = await must(
        api.GET('/api/v1/admin/accounts/{accountId}/org-chart/level', {
          params: {
            path: { accountId },
            query: {
              ...(parent !== '' ? { parent } : {}),
              limit: 100,
              ...(cursor !== undefined ? { cursor } : {}),
            },
          },
        }),
      );
      setLevels((old) => {
        const copy = new Map(old);
        const before = cursor !== undefined ? (old.get(parent)?.nodes ?? []) : [];
        copy.set(parent, { nodes: [...before, ...page.nodes], next: page.nextCursor });
        return copy;
      });
    },
    [accountId],
  );

  const reveal = useCallback(
    async (userId: string) => {
      const { path } = await must(
        api.GET('/api/v1/admin/accounts/{accountId}/org-chart/path/{id}', {
          params: { path: { accountId, id: userId } },
        }),
      );
      for (const id of path.slice(0, -1)) await loadLevel(id);
      setOpen((o) => new Set([...o, ...path.slice(0, -1)]));
      setFocus(userId);
      setTimeout(() => document.getElementById(`node-${userId}`)?.focus(), 50);
    },
    [accountId, loadLevel],
  );

  useEffect(() => {
    setLevels(new Map());
    loadLevel('')
      .then(() => (focus !== null ? reveal(focus) : undefined))
      .catch((e: unknown) => setError(errorText(e)));
  }, [accountId]);

  const toggle = (node: OrgNode) => {
    const next = new Set(open);
    if (next.has(node.id)) next.delete(node.id);
    else {
      next.add(node.id);
      if (!levels.has(node.id)) loadLevel(node.id).catch((e: unknown) => setError(errorText(e)));
    }
    setOpen(next);
  };

  const renderLevel = (parent: string, depth: number) => {
    const level = levels.get(parent);
    if (level === undefined) return <Loading />;
    return (
      <ul className={depth === 0 ? 'org-tree' : undefined}>
        {level.nodes.map((node) => (
          <li key={node.id}>
            <div className={`org-node${focus === node.id ? ' focused' : ''}`}>
              {node.reportCount > 0 ? (
                <button
                  type="button"
                  className="toggle"
                  aria-expanded={open.has(node.id)}
                  aria-label={`${open.has(node.id) ? 'Hide' : 'Show'} ${node.reportCount} reports of ${node.displayName}`}
                  onClick={() => toggle(node)}
                >
                  {open.has(node.id) ? '−' : '+'}
                </button>
              ) : (
                <span className="toggle-space" aria-hidden="true" />
              )}
              <Link
                id={`node-${node.id}`}
                href={accountPath(accountId, `/users/${encodeURIComponent(node.id)}`)}
              >
                {node.displayName}
              </Link>
              {node.title !== null && <span className="muted"> · {node.title}</span>}
              {node.reportCount > 0 && <span className="count"> {node.reportCount}</span>}
            </div>
            {open.has(node.id) && renderLevel(node.id, depth + 1)}
          </li>
        ))}
        {level.next !== null && (
          <li>
            <button type="button" onClick={() => void loadLevel(parent, level.next!)}>
              Show more
            </button>
          </li>
        )}
      </ul>
    );
  };

  return (
    <>
      <PageTitle title="Org chart" />
      <form
        className="filters"
        role="search"
        aria-label="Find a person in the org chart"
        onSubmit={(e) => {
          e.preventDefault();
          must(
            api.GET('/api/v1/admin/accounts/{accountId}/users', {
              params: { path: { accountId }, query: { q: words, status: 'active', limit: 10 } },
            }),
          )
            .then((r) =>
              setResults(
                r.users.map((u) => ({
                  id: u.id,
                  name: u.displayName ?? u.userName,
                  active: u.active,
                })),
              ),
            )
            .catch((err: unknown) => setError(errorText(err)));
        }}
      >
        <div className="field">
          <label htmlFor="org-q">Find a person</label>
          <input
            id="org-q"
            type="search"
            value={words}
            onChange={(e) => setWords(e.target.value)}
          />
        </div>
        <button type="submit">Find</button>
      </form>
      {results !== null && (
        <div className="results" role="region" aria-label="People found">
          {results.length === 0 ? (
            <p className="muted">Nobody found.</p>
          ) : (
            <ul>
              {results.map((r) => (
                <li key={r.id}>
                  <button
                    type="button"
                    className="linklike"
                    onClick={() => void reveal(r.id).catch((e: unknown) => setError(errorText(e)))}
                  >
                    Show {r.name} in the chart
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <ErrorLine error={error} />
      <section className="card org" aria-label="Org chart">
        {levels.get('')?.nodes.length === 0 ? (
          <p className="muted">Nobody yet.</p>
        ) : (
          renderLevel('', 0)
        )}
      </section>
    </>
  );
}
