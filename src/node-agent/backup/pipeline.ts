/** The engine's bounded concurrency: chunks in flight between reading and storing. */

/** Runs `work` over items with at most `limit` in flight; stops starting new ones after the first failure and rethrows it once all settled. */
export class Pipeline {
  private readonly running = new Set<Promise<void>>();
  private error: unknown = null;
  get failed(): boolean {
    return this.error !== null;
  }
  add(p: Promise<void>): void {
    const tracked = p.catch((e: unknown) => {
      this.error ??= e;
    });
    const done = tracked.finally(() => this.running.delete(done));
    this.running.add(done);
  }
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
    if (this.error !== null) throw this.error;
  }
  /** Runs `produce` (which adds work), then waits for all of it; on a failure of `produce`, waits for what it started before rethrowing. */
  async runAll(produce: () => Promise<void>): Promise<void> {
    try {
      await produce();
    } catch (err) {
      await this.drain().catch(() => undefined);
      throw err;
    }
    await this.drain();
  }
}
