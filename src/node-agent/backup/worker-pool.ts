/**
 * A fixed pool of chunk workers (chunk-worker.ts) and the SharedArrayBuffer slots chunks
 * are read into. The number of slots bounds the memory and the chunks in flight: a reader
 * that wants a slot waits until one is released (back-pressure).
 */
import { Worker } from 'node:worker_threads';
import { DriverError } from '../drivers/index.js';
import type { WorkerResult, WorkerTask } from './chunk-worker.js';

interface Job {
  id: number;
  task: WorkerTask;
  transfer: ArrayBuffer[];
  resolve(r: WorkerResult): void;
  reject(e: Error): void;
}

class WorkerHandle {
  readonly worker: Worker;
  private readonly jobs = new Map<number, Job>();
  private dead: Error | null = null;

  constructor() {
    this.worker = new Worker(new URL('./chunk-worker.js', import.meta.url));
    this.worker.unref();
    this.worker.on('message', (m: { id: number; result?: WorkerResult; error?: string }) => {
      const job = this.jobs.get(m.id);
      if (!job) return;
      this.jobs.delete(m.id);
      if (this.jobs.size === 0) this.worker.unref();
      if (m.error !== undefined) job.reject(new DriverError(`backup worker failed: ${m.error}`));
      else job.resolve(m.result!);
    });
    this.worker.on('error', (e) => this.fail(new DriverError(`backup worker crashed: ${e.message}`, { cause: e })));
    this.worker.on('exit', (code) => this.fail(new DriverError(`backup worker exited (code ${code})`)));
  }

  get load(): number {
    return this.jobs.size;
  }

  private fail(e: Error): void {
    this.dead ??= e;
    for (const j of this.jobs.values()) j.reject(e);
    this.jobs.clear();
  }

  run(job: Job): void {
    if (this.dead) return job.reject(this.dead);
    this.jobs.set(job.id, job);
    this.worker.ref();
    this.worker.postMessage({ id: job.id, task: job.task }, job.transfer);
  }
}

export class WorkerPool {
  private readonly workers: WorkerHandle[];
  private nextId = 1;
  readonly sab: SharedArrayBuffer;
  private readonly free: number[];
  private readonly waiting: ((slot: number) => void)[] = [];

  constructor(
    workers: number,
    readonly slotSize: number,
    slots: number,
  ) {
    this.workers = Array.from({ length: Math.max(1, workers) }, () => new WorkerHandle());
    this.sab = new SharedArrayBuffer(slotSize * slots);
    this.free = Array.from({ length: slots }, (_, i) => i);
  }

  /** A free slot index; waits while all are in use. */
  acquire(): Promise<number> {
    const s = this.free.pop();
    if (s !== undefined) return Promise.resolve(s);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(slot: number): void {
    const w = this.waiting.shift();
    if (w) w(slot);
    else this.free.push(slot);
  }

  /** The bytes of a slot (a view on shared memory). */
  view(slot: number, length = this.slotSize): Buffer {
    return Buffer.from(this.sab, slot * this.slotSize, length);
  }

  private submit(h: WorkerHandle, task: WorkerTask, transfer: ArrayBuffer[] = []): Promise<WorkerResult> {
    return new Promise((resolve, reject) => h.run({ id: this.nextId++, task, transfer, resolve, reject }));
  }

  private leastLoaded(): WorkerHandle {
    return this.workers.reduce((a, b) => (b.load < a.load ? b : a));
  }

  async hash(slot: number, length: number): Promise<{ hash: string; zero: boolean }> {
    const r = await this.submit(this.leastLoaded(), { op: 'hash', sab: this.sab, offset: slot * this.slotSize, length });
    if (r.op !== 'hash') throw new DriverError('backup worker answered the wrong task');
    return r;
  }

  async encode(slot: number, length: number, codec: 'lz4' | 'raw'): Promise<{ data: Uint8Array; codec: 'lz4' | 'raw' }> {
    const r = await this.submit(this.leastLoaded(), { op: 'encode', sab: this.sab, offset: slot * this.slotSize, length, codec });
    if (r.op !== 'encode') throw new DriverError('backup worker answered the wrong task');
    return r;
  }

  /** Decodes a stored chunk into `slot` and checks its hash; the reason when it is bad. */
  async decode(slot: number, data: Uint8Array, hash: string): Promise<{ ok: true; length: number } | { ok: false; reason: string }> {
    const copy = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer ? data : new Uint8Array(data);
    const r = await this.submit(this.leastLoaded(), { op: 'decode', sab: this.sab, offset: slot * this.slotSize, capacity: this.slotSize, data: copy, hash }, [copy.buffer as ArrayBuffer]);
    if (r.op !== 'decode') throw new DriverError('backup worker answered the wrong task');
    return r;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
