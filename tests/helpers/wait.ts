/**
 * The one way tests wait for something: a state read through the API, a subscription's
 * event, or any condition. Every wait has a timeout, and its failure names what was
 * awaited and what was seen last, so a red test says where it stuck without the logs.
 *
 * Resource states are polled with the SDK's typed queries (`waitForVolume` &c.): the
 * polling sees what a client would see, works for any token, and keeps tests about
 * subscriptions the only ones that depend on them. Tests that follow a subscription wrap
 * it in an {@link EventLog}.
 */
import {
  AttachmentDocument,
  BackupDocument,
  OperationDocument,
  SnapshotDocument,
  VolumeDocument,
  type AttachmentQuery,
  type BackupQuery,
  type FlintClient,
  type OperationQuery,
  type SnapshotQuery,
  type Subscription,
  type VolumeQuery,
} from '../../src/client/index.js';

/** How long a wait lasts unless told. @default 60_000 */
export const DEFAULT_WAIT_MS = 60_000;
/** How long a subscription's event is awaited unless told. @default 20_000 */
export const DEFAULT_EVENT_WAIT_MS = 20_000;
/** Pause between two reads of a polled state. @default 200 */
export const DEFAULT_POLL_MS = 200;

/** Some of what was last seen, for a failure message. */
export function shown(value: unknown): string {
  if (value === undefined) return 'nothing yet';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

/**
 * Calls `get` until it returns something other than `undefined`, and returns that.
 * @throws Error with `message()` after `timeoutMs`.
 */
export async function pollUntil<R>(get: () => R | undefined | Promise<R | undefined>, timeoutMs: number, message: () => string, intervalMs = DEFAULT_POLL_MS): Promise<R> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(message());
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Options of the waits. */
export interface WaitOptions {
  /** @default 60_000 */
  timeoutMs?: number;
  /** What is awaited, for the failure message, e.g. `'the backup to end'`. */
  what?: string;
}

/**
 * Reads with `read` until `done` holds for what it returned, and returns that.
 * @throws Error `Timed out after N ms waiting for <what>; last seen: <value>`.
 */
export async function waitUntil<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
  let last: { v: T } | undefined;
  const found = await pollUntil(
    async () => {
      last = { v: await read() };
      return done(last.v) ? last : undefined;
    },
    timeoutMs,
    () => `Timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${last ? shown(last.v) : 'nothing (no read finished)'}.`,
  );
  return found.v;
}

/** Waits until a resource of one kind has a status, or until a condition holds for it (null: it is not found). */
export interface StatusWait<T> {
  (client: FlintClient, id: string, status: string, opts?: WaitOptions): Promise<T>;
  (client: FlintClient, id: string, until: (v: T | null) => boolean, opts?: WaitOptions): Promise<T | null>;
}

function statusWait<T extends { status: string }>(kind: string, get: (client: FlintClient, id: string) => Promise<T | null>): StatusWait<T> {
  return ((client: FlintClient, id: string, want: string | ((v: T | null) => boolean), opts: WaitOptions = {}) => {
    const done = typeof want === 'string' ? (v: T | null) => v?.status === want : want;
    const what = opts.what ?? (typeof want === 'string' ? `${kind} ${id} to be ${want}` : `${kind} ${id} to reach the awaited state`);
    return waitUntil(`${what}`, () => get(client, id), done, opts.timeoutMs);
  }) as StatusWait<T>;
}

export type VolumeState = NonNullable<VolumeQuery['volume']>;
export type SnapshotState = NonNullable<SnapshotQuery['snapshot']>;
export type BackupState = NonNullable<BackupQuery['backup']>;
export type AttachmentState = NonNullable<AttachmentQuery['attachment']>;
export type OperationState = NonNullable<OperationQuery['operation']>;

/** Polls `volume(id)` (with its messages) as the client's token sees it. */
export const waitForVolume = statusWait<VolumeState>('volume', async (c, id) => (await c.request(VolumeDocument, { id })).volume);
/** Polls `snapshot(id)`. */
export const waitForSnapshot = statusWait<SnapshotState>('snapshot', async (c, id) => (await c.request(SnapshotDocument, { id })).snapshot);
/** Polls `backup(id)`. */
export const waitForBackup = statusWait<BackupState>('backup', async (c, id) => (await c.request(BackupDocument, { id })).backup);
/** Polls `attachment(id)`. */
export const waitForAttachment = statusWait<AttachmentState>('attachment', async (c, id) => (await c.request(AttachmentDocument, { id })).attachment);

const pollOperation = statusWait<OperationState>('operation', async (c, id) => (await c.request(OperationDocument, { id })).operation);

/** Whether an operation is over, SUCCEEDED or FAILED. */
export const operationEnded = (o: { status: string } | null): boolean => o?.status === 'SUCCEEDED' || o?.status === 'FAILED';

/** Waits until an operation ends (SUCCEEDED or FAILED), or until it has `opts.status`. */
export async function waitForOperation(client: FlintClient, id: string, opts: WaitOptions & { status?: string } = {}): Promise<OperationState> {
  const { status, ...rest } = opts;
  if (status !== undefined) return pollOperation(client, id, status, rest);
  return (await pollOperation(client, id, operationEnded, { what: `operation ${id} to end`, ...rest }))!;
}

/**
 * What a subscription has yielded so far, read in the background: its events in order,
 * its error (a {@link FlintApiError} for the SDK's subscriptions) and whether it ended.
 */
export class EventLog<T> {
  readonly values: T[] = [];
  error: unknown;
  ended = false;
  private readonly wakers = new Set<() => void>();

  /**
   * Follows `sub` from now on.
   * @param what names the stream in failure messages, e.g. `volumeChanged of <id>`.
   * @param pick what of each event to keep, e.g. `(e) => e.volumeChanged`.
   */
  static of<E, T = E>(sub: Subscription<E>, what: string, pick: (event: E) => T = (e) => e as unknown as T): EventLog<T> {
    return new EventLog<T>(sub, what, pick as (event: unknown) => T);
  }

  private constructor(
    private readonly sub: Subscription<unknown>,
    readonly what: string,
    private readonly pick: (event: unknown) => T,
  ) {
    void this.pump();
  }

  /** The first event from the start for which `pred` holds. */
  waitFor(pred: (v: T) => boolean, timeoutMs = DEFAULT_EVENT_WAIT_MS, what = 'a matching event'): Promise<T> {
    return this.until(() => this.values.find(pred), timeoutMs, what);
  }

  /** Resolves when the server ends the stream without an error. */
  async waitEnd(timeoutMs = DEFAULT_EVENT_WAIT_MS): Promise<void> {
    await this.until(() => (this.ended && this.error === undefined ? true : undefined), timeoutMs, 'the end of the stream');
  }

  /** Resolves with the stream's error. */
  waitError(timeoutMs = DEFAULT_EVENT_WAIT_MS): Promise<unknown> {
    return this.until(() => this.error, timeoutMs, 'an error');
  }

  close(): void {
    this.sub.close();
  }

  private async pump(): Promise<void> {
    try {
      for await (const v of this.sub) {
        this.values.push(this.pick(v));
        this.wake();
      }
    } catch (err) {
      this.error = err ?? new Error('the subscription failed without a reason');
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  private until<R>(get: () => R | undefined, timeoutMs: number, what: string): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const check = (): void => {
        const v = get();
        if (v !== undefined) return finish(() => resolve(v));
        if (this.ended) finish(() => reject(new Error(`${this.what} ended before ${what}; ${this.seen()}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what} on ${this.what}; ${this.seen()}`))), timeoutMs);
      const finish = (f: () => void): void => {
        clearTimeout(timer);
        this.wakers.delete(check);
        f();
      };
      this.wakers.add(check);
      check();
    });
  }

  private seen(): string {
    const error = this.error === undefined ? '' : `, error ${this.error instanceof Error ? this.error.message : shown(this.error)}`;
    return `${this.values.length} event(s) seen, last: ${shown(this.values.at(-1))}${error}`;
  }
}
