import { Migration } from '@mikro-orm/migrations';

export class Migration20261125154524 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "snapshot" ("id" varchar(36) not null, "project_id" varchar(36) not null, "volume_id" varchar(36) not null, "name" varchar(255) not null, "description" text null, "size_gib" int not null, "status" varchar(32) not null, "version" int not null default 1, "idempotency_key" varchar(255) null, "request_hash" varchar(64) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "deleted_at" timestamptz null, constraint "snapshot_pkey" primary key ("id"));`);
    this.addSql(`create index "snapshot_volume_id_index" on "snapshot" ("volume_id");`);
    this.addSql(`create index "snapshot_status_index" on "snapshot" ("status");`);
    this.addSql(`create index "snapshot_project_id_created_at_id_index" on "snapshot" ("project_id", "created_at", "id");`);
    this.addSql(`alter table "snapshot" add constraint "snapshot_project_id_idempotency_key_unique" unique ("project_id", "idempotency_key");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "snapshot" cascade;`);
  }

}
