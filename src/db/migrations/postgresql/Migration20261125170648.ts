import { Migration } from '@mikro-orm/migrations';

export class Migration20261125170648 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "volume_type_access" ("volume_type_id" varchar(36) not null, "project_id" varchar(36) not null, "created_at" timestamptz not null, constraint "volume_type_access_pkey" primary key ("volume_type_id", "project_id"));`);
    this.addSql(`create index "volume_type_access_project_id_index" on "volume_type_access" ("project_id");`);

    this.addSql(`alter table "volume_type" add column "version" int not null default 1, add column "updated_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "volume_type_access" cascade;`);

    this.addSql(`alter table "volume_type" drop column "version", drop column "updated_at";`);
  }

}
