/**
 * A running backup's lease: the hashes of the chunks it relies on, written to the
 * repository in segments before it relies on them (protocol in repository.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GC_MARKER_STALE_MS, type RepoStore } from './repository.js';

/** A segment with no new hash is written this often, so a long backup's lease never looks stale. */
const HEARTBEAT_MS = 10 * 60_000;

export class Lease {
  private seq = 0;
  private pending: { hash: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushing = false;
  private readonly covered = new Set<string>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: RepoStore,
    readonly backupId: string,
    private readonly signal?: AbortSignal,
  ) {
    this.timer = setInterval(() => void this.segment([]).catch(() => undefined), HEARTBEAT_MS);
    this.timer.unref();
  }

  private segment(hashes: string[]): Promise<void> {
    const name = `${this.backupId}.${this.seq++}`;
    return this.store.putRecord('lease', name, JSON.stringify({ backupId: this.backupId, at: new Date().toISOString(), hashes }));
  }

  /** Resolves once `hash` is in a written segment and no garbage collection is running. */
  protect(hash: string): Promise<void> {
    if (this.covered.has(hash)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pending.push({ hash, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        const hashes = [...new Set(batch.map((b) => b.hash))];
        await this.segment(hashes);
        await this.waitForCollections();
        for (const h of hashes) this.covered.add(h);
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err as Error);
      }
    }
    this.flushing = false;
  }

  /** Waits while a garbage collection that may not have seen this lease runs; removes markers of dead collections. */
  private async waitForCollections(): Promise<void> {
    for (;;) {
      const markers = await this.store.listRecords('gc');
      const live = markers.filter((m) => Date.now() - m.mtimeMs < GC_MARKER_STALE_MS);
      for (const m of markers) if (!live.includes(m)) await this.store.deleteRecord('gc', m.name);
      if (live.length === 0) return;
      await sleep(100, undefined, { signal: this.signal });
    }
  }

  /** Removes every segment (after the manifest is written, or when the backup failed). */
  async release(): Promise<void> {
    clearInterval(this.timer);
    for (let i = 0; i < this.seq; i++) await this.store.deleteRecord('lease', `${this.backupId}.${i}`).catch(() => undefined);
  }
}

/** The hashes all live leases protect, and the names of stale lease segments (pure over the records read). */
export function liveLeaseHashes(segments: { name: string; mtimeMs: number; text: string | null }[], now: number, staleMs: number): { hashes: Set<string>; stale: string[] } {
  const newest = new Map<string, number>();
  const owner = (name: string): string => name.slice(0, name.lastIndexOf('.'));
  for (const s of segments) newest.set(owner(s.name), Math.max(newest.get(owner(s.name)) ?? 0, s.mtimeMs));
  const hashes = new Set<string>();
  const stale: string[] = [];
  for (const s of segments) {
    if (now - newest.get(owner(s.name))! > staleMs) {
      stale.push(s.name);
      continue;
    }
    if (s.text === null) continue;
    const parsed = JSON.parse(s.text) as { hashes?: unknown };
    if (Array.isArray(parsed.hashes)) for (const h of parsed.hashes) if (typeof h === 'string') hashes.add(h);
  }
  return { hashes, stale };
}
