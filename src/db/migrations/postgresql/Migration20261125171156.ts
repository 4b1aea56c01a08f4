import { Migration } from '@mikro-orm/migrations';

export class Migration20261125171156 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "attachment" ("id" varchar(36) not null, "project_id" varchar(36) not null, "volume_id" varchar(36) not null, "instance_id" varchar(255) not null, "status" varchar(32) not null, "mode" varchar(8) not null, "target_kind" varchar(16) not null, "connector" jsonb null, "connection" jsonb null, "chap_username" varchar(64) null, "chap_secret" varchar(64) null, "host" varchar(255) null, "pool" varchar(255) null, "export_requested" boolean not null default false, "idempotency_key" varchar(255) null, "request_hash" varchar(64) null, "version" int not null default 1, "attached_at" timestamptz null, "detached_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "attachment_pkey" primary key ("id"));`);
    this.addSql(`create index "attachment_volume_id_index" on "attachment" ("volume_id");`);
    this.addSql(`create index "attachment_status_index" on "attachment" ("status");`);
    this.addSql(`create index "attachment_host_index" on "attachment" ("host");`);
    this.addSql(`create index "attachment_project_id_created_at_id_index" on "attachment" ("project_id", "created_at", "id");`);
    this.addSql(`alter table "attachment" add constraint "attachment_project_id_idempotency_key_unique" unique ("project_id", "idempotency_key");`);

    this.addSql(`alter table "volume" add column "multiattach" boolean not null default false;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "attachment" cascade;`);

    this.addSql(`alter table "volume" drop column "multiattach";`);
  }

}
