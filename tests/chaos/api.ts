/** A bare GraphQL client over fetch for the chaos suite: the workload and the checker must not depend on the SDK under test. */
export interface GqlResult<T> {
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string; retryable?: boolean } }>;
}

/** Thrown when the gateway did not answer (down, reset, timed out): the caller does not know what happened. */
export class NoAnswer extends Error {}

export class Api {
  constructor(
    readonly urls: readonly string[],
    private readonly token: string,
  ) {}

  /** One request to gateway `gw` (modulo the gateways). */
  async call<T = Record<string, unknown>>(gw: number, query: string, variables?: Record<string, unknown>, timeoutMs = 15_000): Promise<GqlResult<T>> {
    const url = this.urls[gw % this.urls.length]!;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return (await res.json()) as GqlResult<T>;
    } catch (err) {
      throw new NoAnswer(`${url}: ${(err as Error).message}`);
    }
  }

  /** The data of a request that must succeed on some gateway (tries each, a few rounds). */
  async must<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T> {
    let last = '';
    for (let attempt = 0; attempt < 30; attempt++) {
      try {
        const r = await this.call<T>(attempt, query, variables);
        if (!r.errors?.length && r.data) return r.data;
        last = JSON.stringify(r.errors);
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`no gateway answered ${query.slice(0, 60)}…: ${last}`);
  }

  /** Every item of a Relay list field (`volumes`, `snapshots`…), page by page. */
  async all<T>(field: string, fields: string, filter?: Record<string, unknown>): Promise<{ items: T[]; changeSeq?: number }> {
    const items: T[] = [];
    let after: string | null = null;
    let changeSeq: number | undefined;
    for (;;) {
      const seq = field === 'volumes' ? ' changeSeq' : '';
      const data: Record<string, { edges: Array<{ node: T }>; pageInfo: { hasNextPage: boolean; endCursor: string | null }; changeSeq?: number }> = await this.must(
        `query($after: String, $filter: ${filterType(field)}) { ${field}(first: 500, after: $after, filter: $filter) { edges { node { ${fields} } } pageInfo { hasNextPage endCursor }${seq} } }`,
        { after, filter },
      );
      const page = data[field]!;
      changeSeq ??= page.changeSeq ?? undefined;
      items.push(...page.edges.map((e) => e.node));
      if (!page.pageInfo.hasNextPage) return { items, changeSeq };
      after = page.pageInfo.endCursor;
    }
  }
}

function filterType(field: string): string {
  return { volumes: 'VolumeFilter', snapshots: 'SnapshotFilter', backups: 'BackupFilter', attachments: 'AttachmentFilter' }[field] ?? 'JSONObject';
}
