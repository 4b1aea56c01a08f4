/**
 * Flint's GraphiQL page (served at GET /graphql to browsers by src/gateway/http/routes/ide.ts).
 *
 * - Queries and mutations: HTTP POST to this page's own URL, the GraphQL endpoint.
 * - Subscriptions: graphql-ws on the same URL (ws:// or wss:// as the page), with the
 *   Authorization from the Headers pane sent as `connectionParams.authorization`.
 * - The Headers pane starts open with a placeholder token; until it is replaced, no
 *   Authorization is sent, so the server's answer says how to send a token.
 * - Changing the token re-fetches the schema, so the Docs pane follows the token.
 *
 * Plain browser JavaScript: React, ReactDOM, GraphiQL and graphqlWs are the UMD globals
 * loaded before it; nothing comes from a CDN.
 */
/* global document, location, React, ReactDOM, GraphiQL, graphqlWs */
(function () {
  'use strict';

  const PLACEHOLDER = '<paste your token>';
  const DEFAULT_HEADERS = JSON.stringify({ Authorization: `Bearer ${PLACEHOLDER}` }, null, 2);
  const DEFAULT_QUERY = `# Flint's GraphQL IDE
#
# 1. In the Headers pane below, replace
#    ${PLACEHOLDER} with your API token.
#    flint token create --project NAME --role member
#    prints one; flint dev prints the admin token
#    (also in .flint/admin-token).
# 2. Run with the play button or Ctrl-Enter.
# 3. The Docs pane (book icon) documents every type
#    and field.
#
# Subscriptions (volumeChanged, volumeEvents) use
# a WebSocket with the same token.

query Me {
  viewer {
    projectName
    role
  }
}
`;

  // The page is served at the GraphQL endpoint itself, so its URL is the endpoint
  // (this keeps working behind a proxy that adds a path prefix).
  const endpoint = location.origin + location.pathname;
  const wsEndpoint = endpoint.replace(/^http/, 'ws');

  /** The Authorization value of a headers object (any case), unless it is still the placeholder. */
  function authorizationOf(headers) {
    if (!headers || typeof headers !== 'object') return undefined;
    for (const key of Object.keys(headers)) {
      const value = headers[key];
      if (key.toLowerCase() === 'authorization' && typeof value === 'string' && value.trim() && !value.includes(PLACEHOLDER)) return value.trim();
    }
    return undefined;
  }

  /** The headers without an Authorization that still holds the placeholder. */
  function withoutPlaceholder(headers) {
    const out = {};
    for (const key of Object.keys(headers || {})) {
      if (key.toLowerCase() === 'authorization' && authorizationOf({ [key]: headers[key] }) === undefined) continue;
      out[key] = headers[key];
    }
    return out;
  }

  function parseHeaders(text) {
    try {
      const parsed = JSON.parse(text || '{}');
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether the operation to run is a subscription (GraphiQL passes the parsed document). */
  function isSubscription(documentAST, operationName) {
    if (!documentAST) return false;
    const ops = documentAST.definitions.filter((d) => d.kind === 'OperationDefinition');
    const op = operationName ? ops.find((d) => d.name && d.name.value === operationName) : ops.length === 1 ? ops[0] : undefined;
    return Boolean(op && op.operation === 'subscription');
  }

  // One graphql-ws client per token: a new token closes the old connection.
  let ws;
  let wsAuthorization;
  function wsClient(authorization) {
    if (ws && wsAuthorization === authorization) return ws;
    if (ws) ws.dispose();
    wsAuthorization = authorization;
    ws = graphqlWs.createClient({
      url: wsEndpoint,
      connectionParams: authorization ? { authorization } : {},
      lazy: true,
    });
    return ws;
  }

  /** A socket closed by the server (e.g. 4403 for a missing or bad token) as a readable error. */
  function explain(err) {
    if (Array.isArray(err) || err instanceof Error) return err;
    if (err && typeof err.code === 'number') {
      const hint = err.code === 4403 ? ' Subscriptions need a valid token: put {"Authorization": "Bearer <token>"} in the Headers pane.' : '';
      return new Error(`The WebSocket closed (${err.code}${err.reason ? `: ${err.reason}` : ''}).${hint}`);
    }
    return new Error('The WebSocket connection to the gateway failed; is it running?');
  }

  function subscribe(params, authorization) {
    return {
      subscribe(sink) {
        const dispose = wsClient(authorization).subscribe(params, {
          next: (value) => sink.next(value),
          error: (err) => sink.error(explain(err)),
          complete: () => sink.complete(),
        });
        return { unsubscribe: dispose };
      },
    };
  }

  function makeFetcher() {
    const http = GraphiQL.createFetcher({ url: endpoint, enableIncrementalDelivery: false });
    return (params, opts) => {
      const headers = (opts && opts.headers) || {};
      if (isSubscription(opts && opts.documentAST, params.operationName)) return subscribe(params, authorizationOf(headers));
      return http(params, { ...opts, headers: withoutPlaceholder(headers) });
    };
  }

  function App() {
    // A new fetcher makes GraphiQL fetch the schema again: done when the token changes.
    const [authorization, setAuthorization] = React.useState(undefined);
    const fetcher = React.useMemo(makeFetcher, [authorization]);
    const timer = React.useRef(undefined);
    const onEditHeaders = React.useCallback((text) => {
      clearTimeout(timer.current);
      timer.current = setTimeout(() => {
        const headers = parseHeaders(text);
        if (headers) setAuthorization(authorizationOf(headers));
      }, 400);
    }, []);
    return React.createElement(
      GraphiQL,
      {
        fetcher,
        defaultQuery: DEFAULT_QUERY,
        defaultHeaders: DEFAULT_HEADERS,
        defaultEditorToolsVisibility: 'headers',
        isHeadersEditorEnabled: true,
        onEditHeaders,
      },
      React.createElement(GraphiQL.Logo, null, 'Flint'),
    );
  }

  ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(App));
})();
