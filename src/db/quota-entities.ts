/**
 * The quota counters' tables (issue 12). Only the triggers of quota-sql.ts and a recount
 * write them; quota-store.ts reads them.
 */
import 'reflect-metadata';
import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** A project's counters: in use and reserved, per counted resource. */
@Entity({ tableName: 'quota_usage' })
export class QuotaUsage {
  @PrimaryKey({ type: 'string', length: 36 }) projectId!: string;
  @Property({ type: 'integer', default: 0 }) volumes: number = 0;
  @Property({ type: 'integer', default: 0 }) volumesReserved: number = 0;
  @Property({ type: 'integer', default: 0 }) gigabytes: number = 0;
  @Property({ type: 'integer', default: 0 }) gigabytesReserved: number = 0;
  @Property({ type: 'integer', default: 0 }) snapshots: number = 0;
  @Property({ type: 'integer', default: 0 }) snapshotsReserved: number = 0;
  @Property({ type: 'integer', default: 0 }) backups: number = 0;
  @Property({ type: 'integer', default: 0 }) backupsReserved: number = 0;
  @Property({ type: 'integer', default: 0 }) backupGigabytes: number = 0;
  @Property({ type: 'integer', default: 0 }) backupGigabytesReserved: number = 0;
}

/** A project's counters of one volume type. */
@Entity({ tableName: 'quota_type_usage' })
export class QuotaTypeUsage {
  @PrimaryKey({ type: 'string', length: 36 }) projectId!: string;
  @PrimaryKey({ type: 'string', length: 255 }) volumeType!: string;
  @Property({ type: 'integer', default: 0 }) volumes: number = 0;
  @Property({ type: 'integer', default: 0 }) volumesReserved: number = 0;
  @Property({ type: 'integer', default: 0 }) gigabytes: number = 0;
  @Property({ type: 'integer', default: 0 }) gigabytesReserved: number = 0;
}
