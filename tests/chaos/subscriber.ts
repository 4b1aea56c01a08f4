/**
 * A dashboard on the other gateway: it lists the project's volumes, then follows
 * `volumeEvents(sinceSeq:)`, and when its socket drops (its gateway was killed) it resumes on
 * the next gateway from a little before the newest seq it saw, as the API's documentation
 * says a client should. It records, per volume, the changeSeq of every event in arrival order.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { Api } from './api.js';

/** How far below the newest seq seen a resume starts: events of different volumes may arrive out of seq order. */
const RESUME_LOOKBACK = 50;

export class Subscriber {
  readonly events = new Map<string, number[]>();
  resumes = 0;
  private newest = 0;
  private client: Client | undefined;
  private stopped = false;
  private gw: number;

  constructor(
    private readonly api: Api,
    private readonly token: string,
    firstGateway: number,
  ) {
    this.gw = firstGateway;
  }

  async start(): Promise<void> {
    const { changeSeq } = await this.api.all<{ id: string }>('volumes', 'id');
    this.newest = changeSeq ?? 0;
    this.follow(this.newest);
  }

  private follow(since: number): void {
    if (this.stopped) return;
    const url = this.api.urls[this.gw % this.api.urls.length]!.replace(/^http/, 'ws');
    this.client = createClient({ url, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${this.token}` }, retryAttempts: 0, lazy: true });
    const again = (resync: boolean) => {
      if (this.stopped) return;
      void this.client?.dispose();
      this.gw++;
      this.resumes++;
      setTimeout(() => (resync ? void this.resync() : this.follow(Math.max(0, this.newest - RESUME_LOOKBACK))), 500);
    };
    this.client.subscribe<{ volumeEvents: { volume: { id: string; changeSeq: number } } }>(
      { query: 'subscription($since: Float) { volumeEvents(sinceSeq: $since) { type volume { id changeSeq } } }', variables: { since } },
      {
        next: (r) => {
          if (r.errors?.length) return again(r.errors.some((e) => (e.extensions as { code?: string } | undefined)?.code === 'RESYNC_REQUIRED'));
          const v = r.data?.volumeEvents.volume;
          if (!v) return;
          this.events.set(v.id, [...(this.events.get(v.id) ?? []), v.changeSeq]);
          this.newest = Math.max(this.newest, v.changeSeq);
        },
        error: () => again(false),
        complete: () => again(false),
      },
    );
  }

  /** Lists again (the feed no longer has what was missed): the list's state counts as seen. */
  private async resync(): Promise<void> {
    const { items, changeSeq } = await this.api.all<{ id: string; changeSeq: number }>('volumes', 'id changeSeq');
    for (const v of items) this.events.set(v.id, [...(this.events.get(v.id) ?? []), v.changeSeq]);
    this.newest = changeSeq ?? this.newest;
    this.follow(this.newest);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client?.dispose();
  }
}
