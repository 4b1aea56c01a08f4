import { Migration } from '@mikro-orm/migrations';
import { changeFeedTriggerStatements, dropChangeFeedTriggerStatements } from '../../change-feed-sql.js';

/** The change feed (issue 16): per-project sequence, the log of changes, each row's last seq, and the triggers that keep them. */
export class Migration20261206213153 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "change_counter" ("project_id" varchar(36) not null, "seq" bigint not null default 0, "pruned_seq" bigint not null default 0, constraint "change_counter_pkey" primary key ("project_id"));`);

    this.addSql(`create table "change_event" ("project_id" varchar(36) not null, "seq" bigint not null, "resource_type" varchar(32) not null, "resource_id" varchar(36) not null, "type" varchar(16) not null, "version" int not null, "at" bigint not null, constraint "change_event_pkey" primary key ("project_id", "seq"));`);
    this.addSql(`create index "change_event_at_index" on "change_event" ("at");`);

    this.addSql(`alter table "attachment" add column "change_seq" bigint not null default 0;`);

    this.addSql(`alter table "backup" add column "change_seq" bigint not null default 0;`);

    this.addSql(`alter table "snapshot" add column "change_seq" bigint not null default 0;`);

    this.addSql(`alter table "volume" add column "change_seq" bigint not null default 0;`);

    for (const sql of changeFeedTriggerStatements('postgresql')) this.addSql(sql);
  }

  override async down(): Promise<void> {
    for (const sql of dropChangeFeedTriggerStatements('postgresql')) this.addSql(sql);
    this.addSql(`drop table if exists "change_counter" cascade;`);

    this.addSql(`drop table if exists "change_event" cascade;`);

    this.addSql(`alter table "attachment" drop column "change_seq";`);

    this.addSql(`alter table "backup" drop column "change_seq";`);

    this.addSql(`alter table "snapshot" drop column "change_seq";`);

    this.addSql(`alter table "volume" drop column "change_seq";`);
  }

}
