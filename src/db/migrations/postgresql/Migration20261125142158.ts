import { Migration } from '@mikro-orm/migrations';

export class Migration20261125142158 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "api_token" ("id" varchar(36) not null, "project_id" varchar(36) not null, "role" varchar(16) not null, "token_hash" varchar(64) not null, "name" varchar(128) null, "created_at" timestamptz not null, "revoked_at" timestamptz null, constraint "api_token_pkey" primary key ("id"));`);
    this.addSql(`create index "api_token_project_id_index" on "api_token" ("project_id");`);
    this.addSql(`alter table "api_token" add constraint "api_token_token_hash_unique" unique ("token_hash");`);

    this.addSql(`create table "operation" ("id" varchar(36) not null, "project_id" varchar(36) not null, "kind" varchar(64) not null, "resource_type" varchar(32) not null, "resource_id" varchar(36) not null, "status" varchar(16) not null default 'pending', "error_code" varchar(32) null, "error_message" text null, "command" jsonb null, "dispatched_at" timestamptz null, "created_at" timestamptz not null, "finished_at" timestamptz null, constraint "operation_pkey" primary key ("id"));`);
    this.addSql(`create index "operation_project_id_index" on "operation" ("project_id");`);
    this.addSql(`create index "operation_resource_id_index" on "operation" ("resource_id");`);
    this.addSql(`create index "operation_dispatched_at_created_at_index" on "operation" ("dispatched_at", "created_at");`);

    this.addSql(`create table "pool_allocation" ("pool_id" varchar(255) not null, "allocated_gib" int not null default 0, constraint "pool_allocation_pkey" primary key ("pool_id"));`);

    this.addSql(`create table "project" ("id" varchar(36) not null, "name" varchar(64) not null, "created_at" timestamptz not null, constraint "project_pkey" primary key ("id"));`);
    this.addSql(`alter table "project" add constraint "project_name_unique" unique ("name");`);

    this.addSql(`create table "reservation" ("volume_id" varchar(36) not null, "pool_id" varchar(255) not null, "size_gib" int not null, "created_at" timestamptz not null, constraint "reservation_pkey" primary key ("volume_id"));`);
    this.addSql(`create index "reservation_pool_id_index" on "reservation" ("pool_id");`);

    this.addSql(`create table "user_message" ("id" varchar(36) not null, "project_id" varchar(36) not null, "resource_type" varchar(32) not null, "resource_id" varchar(36) not null, "event" varchar(64) not null, "message" text not null, "level" varchar(16) not null default 'ERROR', "created_at" timestamptz not null, "expires_at" timestamptz not null, constraint "user_message_pkey" primary key ("id"));`);
    this.addSql(`create index "user_message_project_id_index" on "user_message" ("project_id");`);
    this.addSql(`create index "user_message_resource_type_resource_id_index" on "user_message" ("resource_type", "resource_id");`);

    this.addSql(`create table "volume" ("id" varchar(36) not null, "project_id" varchar(36) not null, "name" varchar(255) not null, "description" text null, "size_gib" int not null, "status" varchar(32) not null, "volume_type" varchar(255) null, "availability_zone" varchar(255) not null, "metadata" jsonb not null, "version" int not null default 1, "host" varchar(255) null, "pool" varchar(255) null, "idempotency_key" varchar(255) null, "request_hash" varchar(64) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "deleted_at" timestamptz null, constraint "volume_pkey" primary key ("id"));`);
    this.addSql(`create index "volume_status_index" on "volume" ("status");`);
    this.addSql(`create index "volume_project_id_created_at_id_index" on "volume" ("project_id", "created_at", "id");`);
    this.addSql(`alter table "volume" add constraint "volume_project_id_idempotency_key_unique" unique ("project_id", "idempotency_key");`);

    this.addSql(`create table "volume_type" ("id" varchar(36) not null, "name" varchar(255) not null, "description" text null, "extra_specs" jsonb not null, "is_public" boolean not null default true, "created_at" timestamptz not null, constraint "volume_type_pkey" primary key ("id"));`);
    this.addSql(`alter table "volume_type" add constraint "volume_type_name_unique" unique ("name");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "api_token" cascade;`);

    this.addSql(`drop table if exists "operation" cascade;`);

    this.addSql(`drop table if exists "pool_allocation" cascade;`);

    this.addSql(`drop table if exists "project" cascade;`);

    this.addSql(`drop table if exists "reservation" cascade;`);

    this.addSql(`drop table if exists "user_message" cascade;`);

    this.addSql(`drop table if exists "volume" cascade;`);

    this.addSql(`drop table if exists "volume_type" cascade;`);
  }

}
