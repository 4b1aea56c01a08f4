/**
 * Teardown actions, run last-in first-out whatever failed before; errors are reported,
 * not thrown. `run()` may be called again later for actions added since.
 */
export class Cleanup {
  private readonly actions: Array<{ name: string; fn: () => unknown }> = [];
  private running: Promise<void> = Promise.resolve();

  add(name: string, fn: () => unknown): void {
    this.actions.push({ name, fn });
  }

  run(): Promise<void> {
    this.running = this.running.then(async () => {
      for (let a = this.actions.pop(); a !== undefined; a = this.actions.pop()) {
        try {
          await a.fn();
        } catch (err) {
          console.error(`cleanup: ${a.name} failed: ${(err as Error).message}`);
        }
      }
    });
    return this.running;
  }
}
