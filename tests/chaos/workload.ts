/**
 * The chaos suite's steady mixed workload: workers that create, extend, snapshot, attach and
 * detach, back up and delete volumes through both gateways, as a Terraform-like client would
 * (creates carry an idempotency key and are retried on another gateway when no answer came).
 * Every mutation the API acknowledges goes into the log the checker judges. An attach is a
 * whole cycle (export, connect, detach), retried until it is done, so the workload leaves no
 * consumer half-connected when it pauses.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { NoAnswer, type Api } from './api.js';
import type { Ack, AckKind } from './verdict.js';

type Rng = () => number;

/** Sends of one mutation before the workload takes its refusal (or lack of answer) as final. */
const MUTATION_ATTEMPTS = 5;

export interface WorkloadStats {
  acked: number;
  refused: number;
  unanswered: number;
}

export class Workload {
  readonly acks: Ack[] = [];
  readonly stats: WorkloadStats = { acked: 0, refused: 0, unanswered: 0 };
  private running = false;
  private loops: Array<Promise<void>> = [];
  /** Each worker's own volumes (ids it created and has not deleted). */
  private readonly owned: Array<Set<string>>;

  constructor(
    private readonly api: Api,
    private readonly workers: number,
    private readonly rng: Rng,
    private readonly note: (line: string) => void = () => undefined,
  ) {
    this.owned = Array.from({ length: workers }, () => new Set());
  }

  resume(): void {
    if (this.running) return;
    this.running = true;
    this.loops = this.owned.map((_, w) => this.loop(w));
  }

  /** Stops taking new steps and waits for the workers' current ones (an attach cycle included). */
  async pause(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private ack(kind: AckKind, volumeId: string, extra: Partial<Ack> = {}): void {
    this.acks.push({ kind, volumeId, n: this.acks.length + 1, ...extra });
    this.stats.acked++;
  }

  private async loop(w: number): Promise<void> {
    while (this.running) {
      try {
        await this.step(w);
      } catch (err) {
        if (err instanceof NoAnswer) this.stats.unanswered++;
        else this.note(`worker ${w}: ${(err as Error).message}`);
      }
      await sleep(50 + this.rng() * 150);
    }
  }

  private gw(): number {
    return Math.floor(this.rng() * 2);
  }

  /**
   * A mutation's data, or undefined when the API refused it (counted; the refusal is a valid
   * answer). As a careful client does: when no answer came, or the error says a retry can
   * succeed (a database out of reach: the change may even have been made), the same mutation,
   * with the same idempotencyKey for creates, is sent again to the next gateway.
   */
  private async mutate<T>(query: string, variables: Record<string, unknown>, gw = this.gw()): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      let r: Awaited<ReturnType<Api['call']>>;
      try {
        r = await this.api.call<T>(gw + attempt, query, variables);
      } catch (err) {
        if (!(err instanceof NoAnswer) || attempt >= MUTATION_ATTEMPTS - 1) throw err;
        this.stats.unanswered++;
        await sleep(1000);
        continue;
      }
      if (!r.errors?.length && r.data) return r.data as T;
      if (r.errors?.some((e) => e.extensions?.retryable === true) && attempt < MUTATION_ATTEMPTS - 1) {
        await sleep(1000);
        continue;
      }
      this.stats.refused++;
      return undefined;
    }
  }

  private async volume(id: string): Promise<{ status: string; sizeGiB: number } | undefined> {
    const r = await this.api.call<{ volume: { status: string; sizeGiB: number } | null }>(this.gw(), 'query($id: ID!) { volume(id: $id) { status sizeGiB } }', { id });
    return r.data?.volume ?? undefined;
  }

  private async step(w: number): Promise<void> {
    const mine = this.owned[w]!;
    const r = this.rng();
    if (mine.size < 2 || (mine.size < 5 && r < 0.2)) return this.create(w);
    const ids = [...mine];
    const id = ids[Math.floor(this.rng() * ids.length)]!;
    const v = await this.volume(id);
    if (!v) {
      mine.delete(id);
      return;
    }
    if (v.status !== 'AVAILABLE') return;
    if (mine.size > 4 || r < 0.3) return this.remove(w, id);
    if (r < 0.45 && v.sizeGiB < 3) return this.extend(id, v.sizeGiB + 1);
    if (r < 0.6) return this.snapshot(id);
    if (r < 0.8) return this.attachCycle(id);
    return this.backup(id);
  }

  private async create(w: number): Promise<void> {
    const key = randomUUID();
    const q = 'mutation($input: CreateVolumeInput!) { createVolume(input: $input) { volume { id } operation { id } } }';
    // No answer, or one that cannot say: the create may have happened; the same key on the next gateway says which.
    const input = { name: `chaos-${w}-${key.slice(0, 8)}`, sizeGiB: 1, idempotencyKey: key, metadata: { chaos: String(w) } };
    const d = await this.mutate<{ createVolume: { volume: { id: string }; operation: { id: string } } }>(q, { input });
    if (d) {
      this.owned[w]!.add(d.createVolume.volume.id);
      this.ack('create', d.createVolume.volume.id, { operationId: d.createVolume.operation.id });
    }
  }

  private async remove(w: number, id: string): Promise<void> {
    const d = await this.mutate<{ deleteVolume: { operation: { id: string } | null } }>('mutation($input: DeleteVolumeInput!) { deleteVolume(input: $input) { volume { id } operation { id } } }', { input: { id, cascade: true } });
    if (d) {
      this.owned[w]!.delete(id);
      this.ack('delete', id, { operationId: d.deleteVolume.operation?.id });
    }
  }

  private async extend(id: string, sizeGiB: number): Promise<void> {
    const d = await this.mutate<{ extendVolume: { operation: { id: string } | null } }>('mutation($input: ExtendVolumeInput!) { extendVolume(input: $input) { volume { id } operation { id } } }', { input: { id, newSizeGiB: sizeGiB } });
    if (d) this.ack('extend', id, { sizeGiB, operationId: d.extendVolume.operation?.id });
  }

  private async snapshot(id: string): Promise<void> {
    const d = await this.mutate<{ createSnapshot: { snapshot: { id: string }; operation: { id: string } } }>('mutation($input: CreateSnapshotInput!) { createSnapshot(input: $input) { snapshot { id } operation { id } } }', { input: { volumeId: id, name: `snap-${randomUUID().slice(0, 8)}`, idempotencyKey: randomUUID() } });
    if (d) this.ack('snapshot', id, { resourceId: d.createSnapshot.snapshot.id, operationId: d.createSnapshot.operation.id });
  }

  private async backup(id: string): Promise<void> {
    const d = await this.mutate<{ createBackup: { backup: { id: string }; operation: { id: string } } }>('mutation($input: CreateBackupInput!) { createBackup(input: $input) { backup { id } operation { id } } }', { input: { volumeId: id, idempotencyKey: randomUUID() } });
    if (d) this.ack('backup', id, { resourceId: d.createBackup.backup.id, operationId: d.createBackup.operation.id });
  }

  /** Export over NBD, wait for it, connect (completeAttachment), then detach; each step retried until answered. */
  private async attachCycle(id: string): Promise<void> {
    const d = await this.mutate<{ createAttachment: { attachment: { id: string } } }>(
      'mutation($input: CreateAttachmentInput!) { createAttachment(input: $input) { attachment { id } } }',
      { input: { volumeId: id, instanceId: `vm-${randomUUID().slice(0, 8)}`, connector: { host: 'chaos-consumer', ip: '127.0.0.1' }, targetKind: 'NBD', idempotencyKey: randomUUID() } },
    );
    if (!d) return;
    const aid = d.createAttachment.attachment.id;
    this.ack('attach', id, { resourceId: aid });
    const deadline = Date.now() + 180_000;
    const attachment = async () => {
      const r = await this.retrying(() => this.api.call<{ attachment: { status: string; connectionInfo: unknown } | null }>(this.gw(), 'query($id: ID!) { attachment(id: $id) { status connectionInfo { driverVolumeType } } }', { id: aid }));
      // An error (the database is away, say) tells nothing: ask again.
      return r.errors?.length ? undefined : (r.data?.attachment ?? null);
    };
    // The export is ready (connectionInfo), or failed.
    let a: { status: string; connectionInfo: unknown } | null | undefined;
    while (Date.now() < deadline) {
      a = await attachment();
      if (a === null || (a && (a.status !== 'ATTACHING' || a.connectionInfo))) break;
      await sleep(200);
    }
    if (a === null) return;
    // Connect, as the consumer would; then detach. Each until the API answers without an error.
    if (a?.status === 'ATTACHING') await this.untilDone(deadline, 'mutation($input: AttachmentIdInput!) { completeAttachment(input: $input) { attachment { id } } }', aid, async () => (await attachment())?.status !== 'ATTACHING');
    if (await this.untilDone(deadline, 'mutation($input: AttachmentIdInput!) { deleteAttachment(input: $input) { alreadyDeleted } }', aid)) this.ack('detach', id, { resourceId: aid });
  }

  /** Sends a mutation of attachment `aid` until it is answered without an error (or `settled` says it need not be); whether it was. */
  private async untilDone(deadline: number, query: string, aid: string, settled?: () => Promise<boolean>): Promise<boolean> {
    while (Date.now() < deadline) {
      const r = await this.retrying(() => this.api.call(this.gw(), query, { input: { id: aid } }));
      if (!r.errors?.length) return true;
      if (settled && (await settled())) return false;
      await sleep(500);
    }
    this.note(`attachment ${aid}: gave up on ${query.slice(9, 40)}…`);
    return false;
  }

  /** Asks again on another gateway until one answers (for steps that must happen). */
  private async retrying<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (!(err instanceof NoAnswer) || attempt > 120) throw err;
        this.stats.unanswered++;
        await sleep(500);
      }
    }
  }
}
