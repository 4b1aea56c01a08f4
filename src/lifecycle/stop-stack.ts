/**
 * What a start has brought up so far, stopped in reverse order: the shape every role's
 * start and stop share. A start that fails or is aborted half-way unwinds exactly what it
 * started; a full stop unwinds everything. One failing stop does not keep the others from
 * running.
 */

export type Stopper = () => Promise<unknown> | unknown;

export class StopStack {
  private readonly stoppers: Array<{ what: string; stop: Stopper }> = [];
  private unwinding: Promise<void> | undefined;

  /** Registers the stop of something that has started; stops run last-in, first-out. */
  push(what: string, stop: Stopper): void {
    if (this.unwinding) throw new Error(`cannot register the stop of ${what}: already stopping`);
    this.stoppers.push({ what, stop });
  }

  /**
   * Runs every stop, newest first, each awaited before the next. Failures go to `onError`
   * and do not stop the unwinding; `onStep` hears each part as it stops (a debug log shows
   * where a stop hangs). Safe to call twice (the second call waits for the first).
   */
  unwind(onError: (err: unknown, what: string) => void = () => undefined, onStep?: (what: string) => void): Promise<void> {
    return (this.unwinding ??= (async () => {
      for (const { what, stop } of this.stoppers.reverse()) {
        onStep?.(what);
        try {
          await stop();
        } catch (err) {
          onError(err, what);
        }
      }
    })());
  }

  /** `unwind`, then throws the first failure (after every stop has run). */
  async unwindOrThrow(): Promise<void> {
    const errors: unknown[] = [];
    await this.unwind((err) => errors.push(err));
    if (errors.length) throw errors[0];
  }
}
