/** The parts around the panels: the token form, the connection indicator, the header. */
import { useState } from 'preact/hooks';
import type { Viewer } from '../api';
import type { Phase } from '../connection';

export function TokenForm({ notice, onSubmit }: { notice: string | null; onSubmit: (token: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <main class="token-page">
      <form
        id="token-form"
        class="panel token-form"
        onSubmit={(e) => {
          e.preventDefault();
          const token = value.trim();
          if (token) onSubmit(token);
        }}
      >
        <h1>Flint dashboard</h1>
        <p>
          Paste an API token (<code>npx flint token create …</code>, or <code>.flint/admin-token</code> in dev mode). It stays in
          this browser only, until you choose “Forget token”.
        </p>
        {notice && (
          <p class="notice" role="alert">
            {notice}
          </p>
        )}
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" spellcheck={false} value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        <button type="submit" disabled={!value.trim()}>
          Connect
        </button>
      </form>
    </main>
  );
}

const PHASE_TEXT: Record<Phase, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  rejected: 'Token refused',
  failed: 'Disconnected',
};

export function ConnectionIndicator({ phase, detail, onRetry }: { phase: Phase; detail: string | null; onRetry: () => void }) {
  return (
    <span id="connection" class={`connection connection-${phase}`} data-phase={phase} role="status" aria-live="polite" title={detail ?? undefined}>
      <span class="dot" aria-hidden="true" />
      {PHASE_TEXT[phase]}
      {phase === 'failed' && (
        <button type="button" class="link" onClick={onRetry}>
          Reconnect
        </button>
      )}
    </span>
  );
}

export function Header(props: { viewer: Viewer | null; phase: Phase; detail: string | null; onRetry: () => void; onForget: () => void }) {
  return (
    <header class="top">
      <h1>Flint</h1>
      {props.viewer && (
        <span class="viewer">
          {props.viewer.projectName} · {props.viewer.role.toLowerCase()}
        </span>
      )}
      <span class="spacer" />
      <ConnectionIndicator phase={props.phase} detail={props.detail} onRetry={props.onRetry} />
      <button type="button" id="forget-token" onClick={props.onForget}>
        Forget token
      </button>
    </header>
  );
}
