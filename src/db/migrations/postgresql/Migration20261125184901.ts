import { Migration } from '@mikro-orm/migrations';

export class Migration20261125184901 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "attachment" ("id" varchar(36) not null, "project_id" varchar(36) not null, "volume_id" varchar(36) not null, "instance_id" varchar(255) not null, "status" varchar(32) not null, "mode" varchar(8) not null, "target_kind" varchar(16) not null, "connector" jsonb null, "connection" jsonb null, "chap_username" varchar(64) null, "chap_secret" varchar(64) null, "host" varchar(255) null, "pool" varchar(255) null, "export_requested" boolean not null default false, "idempotency_key" varchar(255) null, "request_hash" varchar(64) null, "version" int not null default 1, "attached_at" timestamptz null, "detached_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "attachment_pkey" primary key ("id"));`);
    this.addSql(`create index "attachment_volume_id_index" on "attachment" ("volume_id");`);
    this.addSql(`create index "attachment_status_index" on "attachment" ("status");`);
    this.addSql(`create index "attachment_host_index" on "attachment" ("host");`);
    this.addSql(`create index "attachment_project_id_created_at_id_index" on "attachment" ("project_id", "created_at", "id");`);
    this.addSql(`alter table "attachment" add constraint "attachment_project_id_idempotency_key_unique" unique ("project_id", "idempotency_key");`);

    this.addSql(`create table "backup" ("id" varchar(36) not null, "project_id" varchar(36) not null, "volume_id" varchar(36) not null, "snapshot_id" varchar(36) null, "name" varchar(255) not null, "description" text null, "status" varchar(32) not null, "size_gib" int not null, "size_bytes" bigint null, "parent_id" varchar(36) null, "incremental" boolean not null default false, "full_reason" text null, "forced" boolean not null default false, "repository" varchar(1024) not null, "host" varchar(255) null, "pool" varchar(255) null, "sha256" varchar(64) null, "chunk_size" int null, "chunk_count" int null, "codec" varchar(32) null, "data_bytes" bigint null, "stored_bytes" bigint null, "dedup_bytes" bigint null, "duration_ms" int null, "progress_done_bytes" bigint null, "progress_total_bytes" bigint null, "fail_reason" text null, "operation_id" varchar(36) null, "restore_volume_id" varchar(36) null, "idempotency_key" varchar(255) null, "request_hash" varchar(64) null, "version" int not null default 1, "created_at" timestamptz not null, "updated_at" timestamptz not null, "deleted_at" timestamptz null, constraint "backup_pkey" primary key ("id"));`);
    this.addSql(`create index "backup_status_index" on "backup" ("status");`);
    this.addSql(`create index "backup_volume_id_status_created_at_index" on "backup" ("volume_id", "status", "created_at");`);
    this.addSql(`create index "backup_project_id_created_at_id_index" on "backup" ("project_id", "created_at", "id");`);
    this.addSql(`alter table "backup" add constraint "backup_project_id_idempotency_key_unique" unique ("project_id", "idempotency_key");`);

    this.addSql(`create table "volume_type_access" ("volume_type_id" varchar(36) not null, "project_id" varchar(36) not null, "created_at" timestamptz not null, constraint "volume_type_access_pkey" primary key ("volume_type_id", "project_id"));`);
    this.addSql(`create index "volume_type_access_project_id_index" on "volume_type_access" ("project_id");`);

    this.addSql(`alter table "volume" add column "migration_status" varchar(16) null, add column "multiattach" boolean not null default false;`);

    this.addSql(`alter table "volume_type" add column "version" int not null default 1, add column "updated_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "attachment" cascade;`);

    this.addSql(`drop table if exists "backup" cascade;`);

    this.addSql(`drop table if exists "volume_type_access" cascade;`);

    this.addSql(`alter table "volume" drop column "migration_status", drop column "multiattach";`);

    this.addSql(`alter table "volume_type" drop column "version", drop column "updated_at";`);
  }

}
