/** A graphql-ws subscription as an async iterable that can be closed. */
import type { FormattedExecutionResult } from 'graphql';
import type { Sink } from 'graphql-ws';
import { FlintApiError, fromSocketError } from './errors.js';

/** The events of a subscription; iterate with `for await`, stop with {@link Subscription.close}. */
export interface Subscription<T> extends AsyncIterableIterator<T> {
  /** Stops the subscription; a pending or later `next()` ends the iteration. Safe to call twice. */
  close(): void;
}

/**
 * Buffers what a graphql-ws sink receives until the consumer asks. A result with
 * errors, or an error of the socket, rejects the next read with a
 * {@link FlintApiError} and ends the subscription.
 */
export class PushSubscription<T> implements Subscription<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }> = [];
  private failure: FlintApiError | undefined;
  private ended = false;
  private unsubscribe: () => void = () => {};

  /** @param start subscribes with the sink and returns the function that unsubscribes. */
  constructor(start: (sink: Sink<FormattedExecutionResult<T>>) => () => void) {
    this.unsubscribe = start({
      next: (result) => {
        if (result.errors?.length) this.fail(new FlintApiError(result.errors));
        else if (result.data !== undefined && result.data !== null) this.push(result.data);
      },
      error: (err) => this.fail(fromSocketError(err)),
      complete: () => this.end(),
    });
  }

  next(): Promise<IteratorResult<T>> {
    const value = this.buffer.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.failure) {
      const failure = this.failure;
      this.failure = undefined; // reported once; later reads just end
      return Promise.reject(failure);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  close(): void {
    if (this.ended) return;
    this.unsubscribe();
    this.buffer.length = 0;
    this.end();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private push(value: T): void {
    if (this.ended) return;
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve({ value, done: false });
    else this.buffer.push(value);
  }

  private fail(err: FlintApiError): void {
    if (this.ended) return;
    // Not synchronously: the server's `complete` may be in the same socket read, and
    // graphql-ws 6 releases an operation on `complete` even when it was just disposed,
    // counting it twice and closing the socket under the other subscriptions
    // (enisdenjo/graphql-ws#66, #170). After this tick, the dispose is a no-op when the
    // complete came, and still sends `complete` and balances the count when it did not.
    setImmediate(() => this.unsubscribe());
    const waiter = this.waiting.shift();
    if (waiter) waiter.reject(err);
    else this.failure = err;
    this.end();
  }

  private end(): void {
    this.ended = true;
    for (const waiter of this.waiting.splice(0)) waiter.resolve({ value: undefined, done: true });
  }
}
