import { useState } from 'react';
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

export function Webhooks(props: { accountId: string }) {
  const { accountId } = props;
  const list = useLoad(
    () =>
      must(
        api.GET('/api/v1/admin/accounts/{accountId}/webhooks', { params: { path: { accountId } } }),
      ),
    [accountId],
  );
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tested, setTested] = useState<Record<string, string>>({});
  const [deliveries, setDeliveries] = useState<{
    id: string;
    rows: {
      id: number;
      at: string;
      status: number | null;
      ok: boolean;
      error: string | null;
      firstSeq: number;
      lastSeq: number;
    }[];
  } | null>(null);
  const [removing, setRemoving] = useState<{ id: string; url: string } | null>(null);
  return (
    <>
      <PageTitle title="Webhooks" />
      <section className="card" aria-labelledby="add-h">
        <h2 id="add-h">Add an endpoint</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setError(null);
            must(
              api.POST('/api/v1/admin/accounts/{accountId}/webhooks', {
                params: { path: { accountId } },
                body: { url, ...(description !== '' ? { description } : {}) },
              }),
            )
              .then((created) => {
                setSecret(created.secret);
                setUrl('');
                setDescription('');
                list.reload();
              })
              .catch((err: unknown) => setError(errorText(err)));
          }}
        >
          <div className="field">
            <label htmlFor="wh-url">URL</label>
            <input
              id="wh-url"
              type="url"
              required
              value={url}
              placeholder="https://example.com/roster-events"
              onChange={(e) => setUrl(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="wh-desc">Description</label>
            <input
              id="wh-desc"
              value={description}
              onChange={(e) => setDescription(e.target.value)}
            />
          </div>
          <ErrorLine error={error} />
          <button type="submit" className="primary">
            Add endpoint
          </button>
        </form>
        {secret !== null && (
          <div className="new-token" role="region" aria-label="Signing secret">
            <CopyField label="Signing secret" value={secret} />
            <p className="warning" role="note">
              Copy the signing secret now: it will not be shown again. Your receiver checks the
              Roster-Signature header with it.
            </p>
            <button type="button" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        )}
      </section>
      <section className="card" aria-labelledby="eps-h">
        <h2 id="eps-h">Endpoints</h2>
        <ErrorLine error={list.error} />
        {list.data === undefined ? (
          <Loading />
        ) : list.data.webhooks.length === 0 ? (
          <p className="muted">No endpoints.</p>
        ) : (
          <TableWrap label="Endpoints">
            <table>
              <thead>
                <tr>
                  <th scope="col">URL</th>
                  <th scope="col">Delivered up to</th>
                  <th scope="col">Status</th>
                  <th scope="col">Next retry</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.webhooks.map((w) => (
                  <tr key={w.id}>
                    <td>
                      <span className="mono">{w.url}</span>
                      {w.description !== null && <div className="muted">{w.description}</div>}
                      {tested[w.id] !== undefined && (
                        <div role="status" className="muted">
                          {tested[w.id]}
                        </div>
                      )}
                    </td>
                    <td>event {w.deliveredSeq}</td>
                    <td>
                      {w.failures === 0 ? (
                        <span className="badge ok">Healthy</span>
                      ) : (
                        <span className="badge off">
                          {w.failures} failures{w.lastError !== null ? `: ${w.lastError}` : ''}
                        </span>
                      )}
                    </td>
                    <td>{formatDate(w.nextAttemptAt)}</td>
                    <td className="actions">
                      <button
                        type="button"
                        onClick={() => {
                          setTested({ ...tested, [w.id]: 'Sending test event…' });
                          must(
                            api.POST('/api/v1/admin/accounts/{accountId}/webhooks/{id}/test', {
                              params: { path: { accountId, id: w.id } },
                            }),
                          )
                            .then((r) =>
                              setTested((t) => ({
                                ...t,
                                [w.id]: r.ok
                                  ? `Test event delivered (HTTP ${r.status}, ${r.durationMs} ms).`
                                  : `Test event failed: ${r.error ?? 'no answer'}`,
                              })),
                            )
                            .catch((err: unknown) =>
                              setTested((t) => ({ ...t, [w.id]: errorText(err) })),
                            );
                        }}
                      >
                        Send test event
                      </button>
                      <button
                        type="button"
                        onClick={() =>
                          must(
                            api.GET('/api/v1/admin/accounts/{accountId}/webhooks/{id}/deliveries', {
                              params: { path: { accountId, id: w.id } },
                            }),
                          )
                            .then((r) => setDeliveries({ id: w.id, rows: r.deliveries }))
                            .catch((err: unknown) => setError(errorText(err)))
                        }
                      >
                        Delivery log
                      </button>
                      <button
                        type="button"
                        className="danger"
                        onClick={() => setRemoving({ id: w.id, url: w.url })}
                      >
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </section>
      {deliveries !== null && (
        <section className="card" aria-labelledby="del-h">
          <h2 id="del-h">Delivery log</h2>
          {deliveries.rows.length === 0 ? (
            <p className="muted">No delivery attempts yet.</p>
          ) : (
            <TableWrap label="Delivery attempts">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Events</th>
                    <th scope="col">Status</th>
                    <th scope="col">Error</th>
                  </tr>
                </thead>
                <tbody>
                  {deliveries.rows.map((d) => (
                    <tr key={d.id}>
                      <td>{formatDate(d.at)}</td>
                      <td>
                        {d.firstSeq}–{d.lastSeq}
                      </td>
                      <td>
                        {d.ok ? (
                          <span className="badge ok">{d.status}</span>
                        ) : (
                          <span className="badge off">{d.status ?? 'no answer'}</span>
                        )}
                      </td>
                      <td>{d.error ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )}
        </section>
      )}
      <ConfirmDialog
        open={removing !== null}
        title="Remove this endpoint?"
        confirmLabel="Remove endpoint"
        onCancel={() => setRemoving(null)}
        onConfirm={() => {
          const r = removing;
          setRemoving(null);
          if (r === null) return;
          must(
            api.DELETE('/api/v1/admin/accounts/{accountId}/webhooks/{id}', {
              params: { path: { accountId, id: r.id } },
            }),
          )
            .then(() => list.reload())
            .catch((err: unknown) => setError(errorText(err)));
        }}
      >
        <p>{removing?.url} will receive no more events.</p>
      </ConfirmDialog>
    </>
  );
}
