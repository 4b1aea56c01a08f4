/** A socket's incoming bytes, read back in order in pieces of exactly the size asked for, across packets. */

/** Reads exactly n bytes from a socket in order, across packets. */
export class ByteReader {
  private bufs: Buffer[] = [];
  private have = 0;
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private failed: Error | null = null;

  push(b: Buffer): void {
    this.bufs.push(b);
    this.have += b.length;
    this.wake();
  }

  fail(e: Error): void {
    this.failed = e;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(e);
    }
  }

  read(n: number): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.have >= n) return Promise.resolve(this.take(n));
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject };
    });
  }

  private wake(): void {
    if (this.waiter && this.have >= this.waiter.n) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(this.take(w.n));
    }
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.bufs[0]!;
    if (first.length >= n) {
      this.have -= n;
      if (first.length === n) this.bufs.shift();
      else this.bufs[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let pos = 0;
    while (pos < n) {
      const b = this.bufs[0]!;
      const k = Math.min(b.length, n - pos);
      b.copy(out, pos, 0, k);
      pos += k;
      if (k === b.length) this.bufs.shift();
      else this.bufs[0] = b.subarray(k);
    }
    this.have -= n;
    return out;
  }
}
