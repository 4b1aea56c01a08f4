/** The page: the token form until a token is stored, then the live dashboard. */
import { Quota } from './components/quota';
import { useCallback, useState } from 'preact/hooks';
import { Messages, Operations } from './components/activity';
import { Header, TokenForm } from './components/chrome';
import { Pools, Services } from './components/cluster';
import { Volumes } from './components/volumes';
import { operationRows, volumeRows } from './state';
import { forgetToken, loadToken, saveToken } from './token';
import { useDashboard } from './use-dashboard';

export function App() {
  const [token, setToken] = useState<string | null>(loadToken);
  const [notice, setNotice] = useState<string | null>(null);
  // Bumped by "Reconnect" after a fatal disconnect: a new key mounts a new connection.
  const [attempt, setAttempt] = useState(0);

  const onRejected = useCallback(() => {
    forgetToken();
    setToken(null);
    setNotice('The gateway refused that token (unknown or revoked). Paste a valid one.');
  }, []);

  if (!token) {
    return (
      <TokenForm
        notice={notice}
        onSubmit={(t) => {
          saveToken(t);
          setNotice(null);
          setToken(t);
        }}
      />
    );
  }
  return (
    <Dashboard
      key={`${token}#${attempt}`}
      token={token}
      onRejected={onRejected}
      onRetry={() => setAttempt((n) => n + 1)}
      onForget={() => {
        forgetToken();
        setNotice(null);
        setToken(null);
      }}
    />
  );
}

function Dashboard(props: { token: string; onRejected: () => void; onRetry: () => void; onForget: () => void }) {
  const s = useDashboard(props.token, props.onRejected);
  const admin = s.viewer?.role === 'ADMIN';
  return (
    <div class="page">
      <Header viewer={s.viewer} phase={s.phase} detail={s.phaseDetail} onRetry={props.onRetry} onForget={props.onForget} />
      {s.error && (
        <p class="notice" role="alert">
          {s.error}
        </p>
      )}
      <main class="grid">
        {(admin || !s.viewer) && <Pools pools={s.pools} error={s.poolsError} />}
        {(admin || !s.viewer) && <Services services={s.services} error={s.servicesError} />}
        <Quota quota={s.quota} />
        <Volumes volumes={volumeRows(s)} admin={admin} loading={!s.viewer} />
        <Operations operations={operationRows(s)} volumes={s.volumes} />
        <Messages messages={s.messages} volumes={s.volumes} />
      </main>
    </div>
  );
}
