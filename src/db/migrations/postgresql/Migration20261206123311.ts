import { Migration } from '@mikro-orm/migrations';

export class Migration20261206123311 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "volume_transfer" ("id" varchar(36) not null, "volume_id" varchar(36) not null, "project_id" varchar(36) not null, "name" varchar(255) not null, "auth_key_hash" varchar(64) not null, "status" varchar(16) not null default 'pending', "accepted_project_id" varchar(36) null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "finished_at" timestamptz null, constraint "volume_transfer_pkey" primary key ("id"));`);
    this.addSql(`create index "volume_transfer_volume_id_index" on "volume_transfer" ("volume_id");`);
    this.addSql(`create index "volume_transfer_status_expires_at_index" on "volume_transfer" ("status", "expires_at");`);
    this.addSql(`create index "volume_transfer_project_id_created_at_id_index" on "volume_transfer" ("project_id", "created_at", "id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "volume_transfer" cascade;`);
  }

}
