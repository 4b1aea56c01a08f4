/**
 * Connects with a token and keeps the dashboard state live: five subscriptions for the
 * life of the page, and the initial query each time the socket is (re)acknowledged.
 * The quota is read again when an operation ends (at most once a second). Nothing is
 * fetched on a timer.
 */
import { useEffect, useReducer } from 'preact/hooks';
import {
  MESSAGE_ADDED,
  MORE_VOLUMES,
  nodes,
  OPERATION_EVENTS,
  POOLS_CHANGED,
  QUOTA_QUERY,
  type QuotaData,
  SERVICES_CHANGED,
  SNAPSHOT,
  VOLUME_EVENTS,
  type MoreVolumesData,
  type Operation,
  type Pool,
  type Service,
  type SnapshotData,
  type UserMessage,
  type Volume,
  type VolumeEvent,
} from './api';
import { connect, type Connection } from './connection';
import { initialState, reduce, type Action, type DashboardState } from './state';

/** Pages of volumes read at most on one load (500 each). */
const MAX_VOLUME_PAGES = 20;

export function useDashboard(token: string, onRejected: () => void): DashboardState {
  const [state, dispatch] = useReducer(reduce, undefined, initialState);

  useEffect(() => {
    let load: { cancel(): void } | undefined;
    let quotaTimer: ReturnType<typeof setTimeout> | undefined;
    // Usage moves when work ends: read the quota again, once for a burst of endings.
    const refreshQuota = () => {
      if (quotaTimer) return;
      quotaTimer = setTimeout(() => {
        quotaTimer = undefined;
        conn.request<QuotaData>(QUOTA_QUERY).result.then(
          (d) => dispatch({ type: 'quota', quota: d.viewer.quotaSet }),
          () => undefined,
        );
      }, 1000);
    };
    const conn = connect(token, {
      phase: (phase, detail) => {
        dispatch({ type: 'phase', phase, detail });
        if (phase !== 'live') load?.cancel();
        if (phase === 'rejected') onRejected();
      },
      onConnected: () => {
        load?.cancel();
        load = loadSnapshot(conn, dispatch);
      },
    });
    const unsubscribe = [
      conn.subscribe<{ volumeEvents: VolumeEvent }>(VOLUME_EVENTS, (d) => dispatch({ type: 'volume', event: d.volumeEvents }), report(dispatch)),
      conn.subscribe<{ operationEvents: Operation }>(
        OPERATION_EVENTS,
        (d) => {
          dispatch({ type: 'operation', operation: d.operationEvents });
          if (d.operationEvents.status === 'SUCCEEDED' || d.operationEvents.status === 'FAILED') refreshQuota();
        },
        report(dispatch),
      ),
      conn.subscribe<{ messageAdded: UserMessage }>(MESSAGE_ADDED, (d) => dispatch({ type: 'message', message: d.messageAdded }), report(dispatch)),
      // Admins only: others get FORBIDDEN once, shown in place of the panel.
      conn.subscribe<{ poolsChanged: Pool[] }>(
        POOLS_CHANGED,
        (d) => dispatch({ type: 'pools', pools: d.poolsChanged }),
        (message) => dispatch({ type: 'feed-error', feed: 'pools', message }),
      ),
      conn.subscribe<{ servicesChanged: Service[] }>(
        SERVICES_CHANGED,
        (d) => dispatch({ type: 'services', services: d.servicesChanged }),
        (message) => dispatch({ type: 'feed-error', feed: 'services', message }),
      ),
    ];
    return () => {
      load?.cancel();
      clearTimeout(quotaTimer);
      for (const u of unsubscribe) u();
      conn.dispose();
    };
    // onRejected is stable (useCallback in the page): the token alone decides the connection.
  }, [token]);

  return state;
}

function report(dispatch: (a: Action) => void): (message: string) => void {
  return (message) => dispatch({ type: 'error', message });
}

/** The initial query (and further volume pages), cancellable when the socket drops. */
function loadSnapshot(conn: Connection, dispatch: (a: Action) => void): { cancel(): void } {
  const snapshot = conn.request<SnapshotData>(SNAPSHOT);
  let inFlight: { cancel(): void } = snapshot;
  let cancelled = false;
  dispatch({ type: 'snapshot-begin' });
  void (async () => {
    try {
      const first = await snapshot.result;
      const volumes: Volume[] = nodes(first.volumes);
      let page = first.volumes.pageInfo;
      for (let n = 1; page.hasNextPage && page.endCursor && n < MAX_VOLUME_PAGES && !cancelled; n++) {
        const more = conn.request<MoreVolumesData>(MORE_VOLUMES, { after: page.endCursor });
        inFlight = more;
        const data = await more.result;
        volumes.push(...nodes(data.volumes));
        page = data.volumes.pageInfo;
      }
      if (cancelled) return;
      dispatch({ type: 'snapshot', viewer: first.viewer, volumes, operations: nodes(first.operations), messages: nodes(first.messages) });
    } catch (err) {
      if (!cancelled) dispatch({ type: 'error', message: `Could not load the current state: ${(err as Error).message}` });
    }
  })();
  return {
    cancel: () => {
      cancelled = true;
      inFlight.cancel();
    },
  };
}
