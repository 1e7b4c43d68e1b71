import { useEffect, useId, useRef, useState, type ReactNode } from 'react';

export function formatDate(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString('en-GB', {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: 'UTC',
    timeZoneName: 'short',
  });
}

async function copyText(text: string, field: HTMLInputElement | null): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    field?.select();
    document.execCommand('copy');
  }
}

/** A read-only value with a Copy button (Account ID, Tenant URL, a new token). */
export function CopyField(props: { label: string; value: string; description?: string }) {
  const id = useId();
  const ref = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);
  return (
    <div className="field copy-field">
      <label htmlFor={id}>{props.label}</label>
      <div className="copy-row">
        <input
          id={id}
          ref={ref}
          readOnly
          value={props.value}
          autoComplete="off"
          spellCheck={false}
          aria-describedby={props.description !== undefined ? `${id}-d` : undefined}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button
          type="button"
          aria-label={`Copy ${props.label}`}
          onClick={() => {
            void copyText(props.value, ref.current).then(() => {
              setCopied(true);
              setTimeout(() => setCopied(false), 2000);
            });
          }}
        >
          Copy
        </button>
        <span role="status" className="copied">
          {copied ? 'Copied' : ''}
        </span>
      </div>
      {props.description !== undefined && (
        <p id={`${id}-d`} className="hint">
          {props.description}
        </p>
      )}
    </div>
  );
}

/** A modal confirmation (native <dialog>: focus trapped, Escape cancels). */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      <div>{props.children}</div>
      <div className="actions">
        <button type="button" className="danger" onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

/** A horizontally scrollable table region (narrow screens), reachable by keyboard. */
export function TableWrap(props: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={props.label} tabIndex={0}>
      {props.children}
    </div>
  );
}

export function ErrorLine(props: { error: string | null }) {
  if (props.error === null) return null;
  return (
    <p className="error" role="alert">
      {props.error}
    </p>
  );
}

export function Loading() {
  return (
    <p role="status" className="muted">
      Loading…
    </p>
  );
}

/** Runs an async loader on mount and when `deps` change; gives data, error and reload. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
): { data: T | undefined; error: string | null; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setError(null);
    load().then(
      (d) => live && setData(d),
      (e: unknown) => live && setError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}

export function PageTitle(props: { title: string; crumbs?: string[] }) {
  useEffect(() => {
    document.title = `${props.title} · Roster console`;
  }, [props.title]);
  return (
    <div className="page-title">
      {props.crumbs !== undefined && (
        <p className="crumbs" aria-label="Breadcrumb">
          {props.crumbs.join(' › ')}
        </p>
      )}
      <h1 tabIndex={-1}>{props.title}</h1>
    </div>
  );
}
