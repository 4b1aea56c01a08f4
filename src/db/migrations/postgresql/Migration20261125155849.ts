import { Migration } from '@mikro-orm/migrations';

export class Migration20261125155849 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "status_audit" ("id" varchar(36) not null, "resource_type" varchar(32) not null, "resource_id" varchar(36) not null, "project_id" varchar(36) not null, "action" varchar(64) not null, "from_status" varchar(32) not null, "to_status" varchar(32) not null, "reason" text null, "actor_token_id" varchar(36) not null, "actor_project_id" varchar(36) not null, "created_at" timestamptz not null, constraint "status_audit_pkey" primary key ("id"));`);
    this.addSql(`create index "status_audit_project_id_index" on "status_audit" ("project_id");`);
    this.addSql(`create index "status_audit_resource_type_resource_id_created_at_index" on "status_audit" ("resource_type", "resource_id", "created_at");`);

    this.addSql(`alter table "operation" add column "deadline_at" timestamptz null;`);
    this.addSql(`create index "operation_deadline_at_index" on "operation" ("deadline_at");`);

    this.addSql(`alter table "volume" add column "snapshot_id" varchar(36) null, add column "source_volume_id" varchar(36) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "status_audit" cascade;`);

    this.addSql(`drop index "operation_deadline_at_index";`);
    this.addSql(`alter table "operation" drop column "deadline_at";`);

    this.addSql(`alter table "volume" drop column "snapshot_id", drop column "source_volume_id";`);
  }

}
