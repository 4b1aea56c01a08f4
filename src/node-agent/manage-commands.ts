/**
 * The agent's manage / unmanage commands (Cinder's manage_existing, unmanage) and its
 * answer to "which files of this pool could be managed?". Free of NATS but for
 * `startManageableResponder`, the thin request-reply adapter. `AgentCore` delegates the
 * two commands here; like every command their outcome is recorded before it is emitted.
 */
import type { Subscription } from '@nats-io/transport-node';
import type { Logger } from '../config/index.js';
import {
  decodeEnvelope,
  decodePayload,
  encode,
  KIND,
  MANAGE_KIND,
  manageableRequest,
  poolId,
  subjects,
  type AgentManage,
  type AgentUnmanage,
  type Bus,
  type ManageableReply,
  type ManageOutcomeEvent,
  type VolumeOutcomeEvent,
} from '../bus/index.js';
import { DriverError, GiB, type VolumeDriver } from './drivers/index.js';
import type { RecordedMessage } from './outcome-store.js';

export interface ManageContext {
  host: string;
  drivers: ReadonlyMap<string, VolumeDriver>;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function driverOf(ctx: ManageContext, pool: string): VolumeDriver {
  const driver = ctx.drivers.get(pool);
  if (!driver) {
    const known = [...ctx.drivers.keys()].join(', ') || 'none';
    throw new DriverError(`pool ${pool} is not configured on host ${ctx.host} (its pools: ${known})`, { retryable: false });
  }
  return driver;
}

/** Adopts the reference as the volume and reports its size (whole GiB) or why it could not. */
export async function manageVolume(ctx: ManageContext, p: AgentManage): Promise<RecordedMessage> {
  const where = poolId(ctx.host, p.pool);
  const base = { operationId: p.operationId, volumeId: p.volumeId, host: ctx.host, pool: p.pool };
  let payload: ManageOutcomeEvent;
  try {
    const info = await driverOf(ctx, p.pool).manageExisting(p.volumeId, p.reference);
    const sizeGiB = Math.ceil(info.sizeBytes / GiB);
    ctx.log.info({ volumeId: p.volumeId, pool: where, reference: p.reference, location: info.location, sizeGiB }, 'existing image managed');
    payload = { ...base, outcome: 'manage.succeeded', sizeGiB, format: info.format };
  } catch (err) {
    const refused = err instanceof DriverError && !err.retryable;
    ctx.log.error({ err, volumeId: p.volumeId, pool: where, reference: p.reference }, 'managing an existing image failed');
    payload = {
      ...base,
      outcome: 'manage.failed',
      error: {
        code: refused ? 'BAD_USER_INPUT' : 'INTERNAL',
        message:
          `Managing ${p.reference} on ${where} as volume ${p.volumeId} failed: ${message(err)}. ` +
          (refused
            ? 'The file was left as it was. Check the reference with the manageableVolumes query, then delete this volume and manage the file again.'
            : 'Delete this volume and try again; if it fails again, an operator should check that pool on its host.'),
      },
    };
  }
  return { subject: subjects.agentEvent(ctx.host, 'volume', p.volumeId), kind: MANAGE_KIND.manageOutcome, payload, msgId: `${p.operationId}:${payload.outcome}` };
}

/** Gives the volume's image back to the pool under `unmanaged-…` and reports it as a delete outcome. */
export async function unmanageVolume(ctx: ManageContext, p: AgentUnmanage): Promise<RecordedMessage> {
  const where = poolId(ctx.host, p.pool);
  let payload: VolumeOutcomeEvent;
  try {
    await driverOf(ctx, p.pool).unmanage(p.volumeId);
    ctx.log.info({ volumeId: p.volumeId, pool: where }, 'volume unmanaged; its image is kept');
    payload = { operationId: p.operationId, volumeId: p.volumeId, host: ctx.host, pool: p.pool, outcome: 'delete.succeeded' };
  } catch (err) {
    ctx.log.error({ err, volumeId: p.volumeId, pool: where }, 'unmanaging a volume failed');
    payload = {
      operationId: p.operationId,
      volumeId: p.volumeId,
      host: ctx.host,
      pool: p.pool,
      outcome: 'delete.failed',
      error: {
        code: 'INTERNAL',
        message: `Unmanaging volume ${p.volumeId} on ${where} failed: ${message(err)}. Its image is untouched; retry the unmanage, and if it fails again an operator should check that pool.`,
      },
    };
  }
  return { subject: subjects.agentEvent(ctx.host, 'volume', p.volumeId), kind: KIND.volumeOutcome, payload, msgId: `${p.operationId}:unmanage:${payload.outcome}` };
}

/** The answer to a manageable-images request. */
export async function manageableImages(drivers: ReadonlyMap<string, VolumeDriver>, pool: string): Promise<ManageableReply> {
  const driver = drivers.get(pool);
  if (!driver) return { poolConfigured: false, images: [] };
  try {
    return { poolConfigured: true, images: await driver.listManageable() };
  } catch (err) {
    return { poolConfigured: true, images: [], error: message(err) };
  }
}

/** Answers `flint.rpc.agent.<host>.manageable` requests from gateways. */
export function startManageableResponder(bus: Bus, ctx: ManageContext): { stop(): void } {
  const sub: Subscription = bus.nc.subscribe(subjects.manageable(ctx.host), {
    callback: (err, msg) => {
      if (err) return ctx.log.warn({ err }, 'manageable subscription error');
      void (async () => {
        try {
          const req = decodePayload(decodeEnvelope(msg.data), manageableRequest);
          msg.respond(encode(MANAGE_KIND.manageableReply, await manageableImages(ctx.drivers, req.pool)));
        } catch (e) {
          ctx.log.warn({ err: e }, 'could not answer a manageable-images request');
        }
      })();
    },
  });
  return { stop: () => sub.unsubscribe() };
}
