/**
 * The iscsi target's operations on a running tgtd through tgtadm: list the targets, make
 * one (LUN 1 on the export's backing file, its CHAP account, then its initiator ACL), add
 * a LUN, and tear a target down in the order tgt needs while sessions are logged in.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError } from '../drivers/index.js';
import { backingOf, type IscsiExport } from './iscsi-export.js';
import { thinProvisioned } from './tgt-backing.js';
import { parseConnections, parseTargets, TgtadmError, type TgtTarget } from './tgtadm.js';
import type { Tgtd } from './tgtd-process.js';

export class TgtAdmin {
  /** @param daemon the tgtd to talk to; undefined while none runs. */
  constructor(private readonly daemon: () => Tgtd | undefined) {}

  adm(args: readonly string[]): Promise<string> {
    const daemon = this.daemon();
    if (!daemon) throw new DriverError('iscsi target: tgtd is not running; call setup() first');
    return daemon.adm(args);
  }

  async ignoreNotFound(args: readonly string[]): Promise<void> {
    try {
      await this.adm(args);
    } catch (err) {
      if (!(err instanceof TgtadmError && err.notFound)) throw err;
    }
  }

  async show(): Promise<TgtTarget[]> {
    return parseTargets(await this.adm(['--op', 'show', '--mode', 'target']));
  }

  /** Makes target `entry` with a new tid: LUN 1, CHAP account, then the initiator ACL; undoes what it made when a step fails. */
  async createTarget(entry: IscsiExport, targets: readonly TgtTarget[]): Promise<void> {
    const { req, iqn } = entry;
    const current = await this.show();
    const tid = Math.max(0, ...targets.map((t) => t.tid), ...current.map((t) => t.tid)) + 1;
    await this.adm(['--op', 'new', '--mode', 'target', '--tid', String(tid), '--targetname', iqn]);
    try {
      await this.addLun(tid, entry);
      if (req.chap) {
        const user = req.chap.username;
        const owner = current.find((t) => t.accounts.includes(user));
        if (owner) throw new DriverError(`CHAP user ${user} is already used by ${owner.iqn}; each attachment needs its own CHAP user`, { retryable: false });
        try {
          await this.adm(['--op', 'new', '--mode', 'account', '--user', user, '--password', req.chap.password]);
        } catch (err) {
          if (!(err instanceof TgtadmError && err.alreadyExists)) throw err;
          // An account no target uses (left by a failed export): replace it, so the password is this one.
          await this.adm(['--op', 'delete', '--mode', 'account', '--user', user]);
          await this.adm(['--op', 'new', '--mode', 'account', '--user', user, '--password', req.chap.password]);
        }
        await this.adm(['--op', 'bind', '--mode', 'account', '--tid', String(tid), '--user', user]);
      }
      // The ACL last: no initiator can log in before the LUN, read-only flag and CHAP are in place.
      await this.adm(['--op', 'bind', '--mode', 'target', '--tid', String(tid), '--initiator-name', req.initiator ?? 'ALL']);
    } catch (err) {
      const made = (await this.show()).find((t) => t.tid === tid);
      if (made) await this.teardown(made).catch(() => undefined);
      if (req.chap) await this.ignoreNotFound(['--op', 'delete', '--mode', 'account', '--user', req.chap.username]).catch(() => undefined);
      throw err;
    }
  }

  async addLun(tid: number, entry: IscsiExport): Promise<void> {
    const backing = backingOf(entry);
    await this.adm(['--op', 'new', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '1', '--bstype', backing.bstype, '--backing-store', backing.store, ...(backing.bsopts ? ['--bsopts', backing.bsopts] : [])]);
    if (entry.req.mode === 'ro') await this.adm(['--op', 'update', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '1', '--params', 'readonly=1']);
    if (thinProvisioned(entry.req.image, entry.req.mode)) await this.adm(['--op', 'update', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '1', '--params', 'thin_provisioning=1']);
  }

  /** Removes a target in the order tgt needs while sessions are logged in, then its CHAP accounts. */
  async teardown(t: TgtTarget): Promise<void> {
    const tid = String(t.tid);
    await this.ignoreNotFound(['--op', 'update', '--mode', 'target', '--tid', tid, '--name', 'state', '--value', 'offline']);
    for (let round = 0; ; round++) {
      const conns = parseConnections(await this.adm(['--op', 'show', '--mode', 'conn', '--tid', tid]).catch(() => ''));
      for (const c of conns) await this.ignoreNotFound(['--op', 'delete', '--mode', 'conn', '--tid', tid, '--sid', String(c.sid), '--cid', String(c.cid)]);
      for (const lun of t.luns) await this.ignoreNotFound(['--op', 'delete', '--mode', 'logicalunit', '--tid', tid, '--lun', String(lun.lun)]);
      try {
        await this.adm(['--op', 'delete', '--mode', 'target', '--tid', tid]);
        break;
      } catch (err) {
        if (err instanceof TgtadmError && err.notFound) break;
        if (!(err instanceof TgtadmError && err.stillActive)) throw err;
        if (round >= 50) {
          await this.ignoreNotFound(['--op', 'delete', '--mode', 'target', '--tid', tid, '--force']);
          break;
        }
        await sleep(100);
      }
    }
    for (const user of t.accounts) await this.ignoreNotFound(['--op', 'delete', '--mode', 'account', '--user', user]);
  }
}
