import { Migration } from '@mikro-orm/migrations';
import { dropQuotaTriggerStatements, quotaTriggerStatements, recountStatements } from '../../quota-sql.js';

/** Quotas (issue 12): the counters, the triggers that keep them, and a first count of what exists. */
export class Migration20261206115736 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "quota_type_usage" ("project_id" varchar(36) not null, "volume_type" varchar(255) not null, "volumes" int not null default 0, "volumes_reserved" int not null default 0, "gigabytes" int not null default 0, "gigabytes_reserved" int not null default 0, constraint "quota_type_usage_pkey" primary key ("project_id", "volume_type"));`);

    this.addSql(`create table "quota_usage" ("project_id" varchar(36) not null, "volumes" int not null default 0, "volumes_reserved" int not null default 0, "gigabytes" int not null default 0, "gigabytes_reserved" int not null default 0, "snapshots" int not null default 0, "snapshots_reserved" int not null default 0, "backups" int not null default 0, "backups_reserved" int not null default 0, "backup_gigabytes" int not null default 0, "backup_gigabytes_reserved" int not null default 0, constraint "quota_usage_pkey" primary key ("project_id"));`);

    this.addSql(`alter table "project" add column "quota_limits" jsonb null;`);

    this.addSql(`alter table "volume" add column "pending_size_gib" int null, add column "pending_volume_type" varchar(255) null;`);

    for (const sql of quotaTriggerStatements('postgresql')) this.addSql(sql);
    for (const { sql } of recountStatements(null)) this.addSql(sql);
  }

  override async down(): Promise<void> {
    for (const sql of dropQuotaTriggerStatements('postgresql')) this.addSql(sql);
    this.addSql(`drop table if exists "quota_type_usage" cascade;`);

    this.addSql(`drop table if exists "quota_usage" cascade;`);

    this.addSql(`alter table "project" drop column "quota_limits";`);

    this.addSql(`alter table "volume" drop column "pending_size_gib", drop column "pending_volume_type";`);
  }

}
