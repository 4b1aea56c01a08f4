/** The Flint SDK: typed GraphQL over HTTP and WebSocket. */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { Kind, print, type DocumentNode, type GraphQLFormattedError, type OperationDefinitionNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { CLOSE_FORBIDDEN, dataOrThrow, FlintWaitError } from './errors.js';
import {
  OperationChangedDocument,
  SnapshotChangedDocument,
  VolumeChangedDocument,
  type OperationChangedSubscription,
  type SnapshotFieldsFragment,
  type VolumeFieldsFragment,
} from './generated/graphql.js';
import { postGraphQL } from './http.js';
import { backoffMs, DEFAULT_RETRIES } from './retry.js';
import { PushSubscription, type Subscription } from './subscription.js';

/** A volume as the `VolumeFields` fragment selects it. */
export type VolumeFields = VolumeFieldsFragment;
/** A snapshot as the `SnapshotFields` fragment selects it. */
export type SnapshotFields = SnapshotFieldsFragment;

/** Per HTTP attempt. @default 30_000 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** How long `waitForVolume` and `waitForSnapshot` wait. @default 120_000 */
export const DEFAULT_WAIT_TIMEOUT_MS = 120_000;
/** Reconnects of the WebSocket before its subscriptions fail. @default 5 */
export const DEFAULT_WS_RETRIES = 5;

/** Options of {@link FlintClient}. */
export interface FlintClientOptions {
  /** The gateway's endpoint, `http://host:port/graphql`; the WebSocket uses the same with `ws:`. */
  url: string;
  /** API token, sent as `Authorization: Bearer <token>` (and in the WebSocket's connection params). */
  token?: string;
  /** HTTP tries after the first on `SERVICE_UNAVAILABLE` and connection errors, with backoff. @default 2 */
  retries?: number;
  /** Per HTTP attempt. @default 30_000 */
  timeoutMs?: number;
  /** WebSocket reconnects; active subscriptions are sent again after each. @default 5 */
  wsRetries?: number;
}

/** A typed document, or GraphQL text (for `raw`, e.g. to send an invalid query on purpose). */
export type FlintDocument<TData, TVars> = TypedDocumentNode<TData, TVars> | string;

interface Described {
  query: string;
  operationName?: string;
  mutation: boolean;
}

/** Printed text of the generated documents, shared by every client (they are module constants). */
const described = new WeakMap<DocumentNode, Described>();

/** A client of one Flint gateway. Cheap to create; call {@link FlintClient.close} when done. */
export class FlintClient {
  private readonly opts: Required<Omit<FlintClientOptions, 'token'>> & { token: string | undefined };
  private ws: Client | undefined;

  constructor(opts: FlintClientOptions) {
    this.opts = {
      url: opts.url,
      token: opts.token,
      retries: opts.retries ?? DEFAULT_RETRIES,
      timeoutMs: opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      wsRetries: opts.wsRetries ?? DEFAULT_WS_RETRIES,
    };
  }

  /**
   * Runs a query or mutation and returns its data.
   * @throws FlintApiError on any GraphQL error (its `code` is the first error's) or when the gateway cannot be reached (`NETWORK`).
   */
  async request<TData, TVars>(doc: TypedDocumentNode<TData, TVars>, variables?: TVars): Promise<TData> {
    return dataOrThrow(await this.raw(doc, variables));
  }

  /**
   * Runs a query or mutation and returns the whole response: GraphQL errors are
   * returned with the HTTP status, never thrown.
   * @throws FlintApiError `NETWORK` only when no answer arrived at all.
   */
  async raw<TData, TVars>(
    doc: FlintDocument<TData, TVars>,
    variables?: TVars,
  ): Promise<{ data?: TData | null; errors?: GraphQLFormattedError[]; status: number }> {
    const { query, operationName, mutation } = this.describe(doc);
    const body = { query, ...(operationName ? { operationName } : {}), ...(variables !== undefined ? { variables } : {}) };
    return postGraphQL<TData>(body, { url: this.opts.url, token: this.opts.token, retries: this.opts.retries, timeoutMs: this.opts.timeoutMs, mutation });
  }

  /**
   * Starts a subscription over the client's WebSocket (opened on first use, reopened
   * after {@link FlintClient.close}).
   * Errors of the server reject the iteration with a FlintApiError.
   */
  subscribe<TData, TVars>(doc: TypedDocumentNode<TData, TVars>, variables?: TVars): Subscription<TData> {
    const { query, operationName } = this.describe(doc);
    const ws = this.socket();
    return new PushSubscription<TData>((sink) =>
      ws.subscribe<TData>({ query, ...(operationName ? { operationName } : {}), ...(variables !== undefined ? { variables: variables as Record<string, unknown> } : {}) }, sink),
    );
  }

  /**
   * Follows `volumeChanged` until `until(volume)` holds and returns that volume. The
   * first event is the volume as it is now, so a condition that already holds returns at once.
   * @throws FlintWaitError `TIMEOUT` after `timeoutMs`; `ENDED` when the stream ends first (the volume was deleted).
   * @throws FlintApiError when the server refuses (e.g. `NOT_FOUND`).
   */
  async waitForVolume(id: string, until: (v: VolumeFields) => boolean, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS): Promise<VolumeFields> {
    return this.follow('Volume', id, this.subscribe(VolumeChangedDocument, { id }), (e) => e.volumeChanged, until, timeoutMs);
  }

  /**
   * Follows `snapshotChanged` until `until(snapshot)` holds and returns that snapshot,
   * like {@link FlintClient.waitForVolume}: the first event is the snapshot as it is now.
   * @throws FlintWaitError `TIMEOUT` after `timeoutMs`; `ENDED` when the stream ends first (the snapshot was deleted).
   * @throws FlintApiError when the server refuses (e.g. `NOT_FOUND`).
   */
  async waitForSnapshot(id: string, until: (s: SnapshotFields) => boolean, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS): Promise<SnapshotFields> {
    return this.follow('Snapshot', id, this.subscribe(SnapshotChangedDocument, { id }), (e) => e.snapshotChanged, until, timeoutMs);
  }

  /**
   * Follows `operationChanged` until the operation ends (SUCCEEDED or FAILED) and returns it:
   * the one wait for any mutation, whatever its resource (a FAILED operation is returned, not
   * thrown: its `error` says why and whether a retry may help).
   * @throws FlintWaitError `TIMEOUT` after `timeoutMs`.
   * @throws FlintApiError when the server refuses (e.g. `NOT_FOUND`).
   */
  async waitForOperation(
    id: string,
    timeoutMs = DEFAULT_WAIT_TIMEOUT_MS,
    onState?: (operation: OperationChangedSubscription['operationChanged']) => void,
  ): Promise<OperationChangedSubscription['operationChanged']> {
    const ended = (o: OperationChangedSubscription['operationChanged']) => (onState?.(o), o.status === 'SUCCEEDED' || o.status === 'FAILED');
    return this.follow('Operation', id, this.subscribe(OperationChangedDocument, { id }), (e) => e.operationChanged, ended, timeoutMs);
  }

  /** Reads `sub` until `until` holds for a resource's state, with a timeout; the subscription is always closed. */
  private async follow<E, T extends { status: string; version?: number }>(
    kind: string,
    id: string,
    sub: Subscription<E>,
    pick: (event: E) => T,
    until: (state: T) => boolean,
    timeoutMs: number,
  ): Promise<T> {
    let last: T | undefined;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const seen = last ? `it is ${last.status}${last.version === undefined ? '' : ` (version ${last.version})`}` : 'no state of it arrived';
        reject(new FlintWaitError('TIMEOUT', `${kind} ${id} did not reach the awaited state within ${timeoutMs} ms; ${seen}.`, last));
        sub.close();
      }, timeoutMs);
    });
    const follow = (async () => {
      for await (const event of sub) {
        last = pick(event);
        if (until(last)) return last;
      }
      const seen = last ? `last seen ${last.status}` : 'nothing arrived';
      throw new FlintWaitError('ENDED', `The updates of ${kind.toLowerCase()} ${id} ended before the awaited state (${seen}).`, last);
    })();
    try {
      return await Promise.race([follow, timedOut]);
    } finally {
      clearTimeout(timer);
      sub.close();
      follow.catch(() => {}); // lost the race to the timeout: its end is of no interest
    }
  }

  /** Closes the WebSocket (ending every subscription); HTTP needs no closing. */
  async close(): Promise<void> {
    const ws = this.ws;
    this.ws = undefined;
    await ws?.dispose();
  }

  private socket(): Client {
    this.ws ??= createClient({
      url: this.opts.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: true,
      connectionParams: this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {},
      retryAttempts: this.opts.wsRetries,
      retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, backoffMs(retries + 1))),
      // 4403: the gateway refused the token; trying again cannot help.
      shouldRetry: (e) => !(typeof e === 'object' && e !== null && (e as { code?: unknown }).code === CLOSE_FORBIDDEN),
    });
    return this.ws;
  }

  private describe(doc: DocumentNode | string): Described {
    if (typeof doc === 'string') return { query: doc, mutation: /^\s*mutation\b/.test(doc) };
    let found = described.get(doc);
    if (!found) {
      const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
      found = { query: print(doc), mutation: op?.operation === 'mutation', ...(op?.name ? { operationName: op.name.value } : {}) };
      described.set(doc, found);
    }
    return found;
  }
}
