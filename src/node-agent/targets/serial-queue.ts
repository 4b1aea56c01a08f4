/**
 * Runs tasks one after the other: a target changes tgtd's or its processes' state in one
 * sequence, so a reconcile never interleaves with an export of the same attachment.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
