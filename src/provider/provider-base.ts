/**
 * What every resource provider shares: waiting on an operation with progress lines, keyed
 * creates that move on to the next key when one is spent, the token's project, and reading
 * every page of a list.
 */
import { FlintApiError, ViewerDocument, type FlintClient, type OperationFieldsFragment } from '../client/index.js';

/** How long one operation (a create, an extend, a retype, a delete) may take. @default 300_000 */
export const DEFAULT_OPERATION_TIMEOUT_MS = 300_000;
/** Keys tried for one create before giving up (each earlier one spent on a deleted resource). @default 16 */
export const MAX_KEY_ATTEMPTS = 16;
/** Page size of the lists a stack is read with. */
export const PAGE = 500;

/** A change the provider could not make; `code` is the API's (CONFLICT, INVALID_STATE…) or FAILED. */
export class ProviderError extends Error {
  readonly code: string;

  constructor(code: string, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts);
    this.name = 'ProviderError';
    this.code = code;
  }
}

export interface ProviderOptions {
  /** Progress, one line at a time (`volume.db: create_volume RUNNING`). */
  report?: (line: string) => void;
  /** @default DEFAULT_OPERATION_TIMEOUT_MS */
  operationTimeoutMs?: number;
}

/** One page of a Relay connection, as the stack documents read it. */
interface Page<N> {
  edges: readonly { node: N }[];
  pageInfo: { endCursor?: string | null; hasNextPage: boolean };
}

/** Every node of a connection, page after page. */
export async function allPages<N>(fetch: (after: string | null) => Promise<Page<N>>): Promise<N[]> {
  const nodes: N[] = [];
  let after: string | null = null;
  for (;;) {
    const page: Page<N> = await fetch(after);
    nodes.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) return nodes;
    after = page.pageInfo.endCursor;
  }
}

/** Metadata as plain strings (the API's JSONObject values are strings). */
export function stringMap(m: Readonly<Record<string, unknown>>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));
}

export abstract class ProviderBase {
  protected readonly report: (line: string) => void;
  protected readonly timeoutMs: number;
  private project: Promise<string> | undefined;

  constructor(
    protected readonly client: FlintClient,
    opts: ProviderOptions = {},
  ) {
    this.report = opts.report ?? (() => {});
    this.timeoutMs = opts.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  }

  /**
   * The token's own project: a stack lives in one project, and an admin's lists would
   * otherwise span every project.
   */
  protected projectId(): Promise<string> {
    this.project ??= this.client.request(ViewerDocument).then((r) => r.viewer.projectId);
    return this.project;
  }

  /** Waits for `operation` to end, reporting each status once; a FAILED one is a ProviderError with its error. */
  protected async await(address: string, operation: Pick<OperationFieldsFragment, 'id' | 'status'> | null | undefined): Promise<void> {
    if (!operation || operation.status === 'SUCCEEDED') return;
    let last = '';
    const started = Date.now();
    const ended = await this.client.waitForOperation(operation.id, this.timeoutMs, (o) => {
      if (o.status !== last) this.report(`${address}: ${o.kind} ${(last = o.status)}`);
    });
    const took = `${Math.round((Date.now() - started) / 100) / 10}s`;
    if (ended.status === 'FAILED') {
      throw new ProviderError(ended.error?.code ?? 'FAILED', `${address}: ${ended.kind} failed after ${took}: ${ended.error?.message ?? 'no message'}`);
    }
  }

  /**
   * A create with an idempotency key: `keyOf(0)` first; a key spent on a resource deleted
   * since (CONFLICT) moves on to `keyOf(1)` and so on, the same sequence for every apply.
   */
  protected async keyed<T>(keyOf: (attempt: number) => string, create: (key: string) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await create(keyOf(attempt));
      } catch (err) {
        if (!(err instanceof FlintApiError && err.code === 'CONFLICT') || attempt + 1 >= MAX_KEY_ATTEMPTS) throw err;
      }
    }
  }
}
