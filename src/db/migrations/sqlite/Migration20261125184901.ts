import { Migration } from '@mikro-orm/migrations';

export class Migration20261125184901 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`attachment\` (\`id\` text not null, \`project_id\` text not null, \`volume_id\` text not null, \`instance_id\` text not null, \`status\` text not null, \`mode\` text not null, \`target_kind\` text not null, \`connector\` json null, \`connection\` json null, \`chap_username\` text null, \`chap_secret\` text null, \`host\` text null, \`pool\` text null, \`export_requested\` integer not null default false, \`idempotency_key\` text null, \`request_hash\` text null, \`version\` integer not null default 1, \`attached_at\` datetime null, \`detached_at\` datetime null, \`created_at\` datetime not null, \`updated_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create index \`attachment_volume_id_index\` on \`attachment\` (\`volume_id\`);`);
    this.addSql(`create index \`attachment_status_index\` on \`attachment\` (\`status\`);`);
    this.addSql(`create index \`attachment_host_index\` on \`attachment\` (\`host\`);`);
    this.addSql(`create index \`attachment_project_id_created_at_id_index\` on \`attachment\` (\`project_id\`, \`created_at\`, \`id\`);`);
    this.addSql(`create unique index \`attachment_project_id_idempotency_key_unique\` on \`attachment\` (\`project_id\`, \`idempotency_key\`);`);

    this.addSql(`create table \`backup\` (\`id\` text not null, \`project_id\` text not null, \`volume_id\` text not null, \`snapshot_id\` text null, \`name\` text not null, \`description\` text null, \`status\` text not null, \`size_gib\` integer not null, \`size_bytes\` bigint null, \`parent_id\` text null, \`incremental\` integer not null default false, \`full_reason\` text null, \`forced\` integer not null default false, \`repository\` text not null, \`host\` text null, \`pool\` text null, \`sha256\` text null, \`chunk_size\` integer null, \`chunk_count\` integer null, \`codec\` text null, \`data_bytes\` bigint null, \`stored_bytes\` bigint null, \`dedup_bytes\` bigint null, \`duration_ms\` integer null, \`progress_done_bytes\` bigint null, \`progress_total_bytes\` bigint null, \`fail_reason\` text null, \`operation_id\` text null, \`restore_volume_id\` text null, \`idempotency_key\` text null, \`request_hash\` text null, \`version\` integer not null default 1, \`created_at\` datetime not null, \`updated_at\` datetime not null, \`deleted_at\` datetime null, primary key (\`id\`));`);
    this.addSql(`create index \`backup_status_index\` on \`backup\` (\`status\`);`);
    this.addSql(`create index \`backup_volume_id_status_created_at_index\` on \`backup\` (\`volume_id\`, \`status\`, \`created_at\`);`);
    this.addSql(`create index \`backup_project_id_created_at_id_index\` on \`backup\` (\`project_id\`, \`created_at\`, \`id\`);`);
    this.addSql(`create unique index \`backup_project_id_idempotency_key_unique\` on \`backup\` (\`project_id\`, \`idempotency_key\`);`);

    this.addSql(`create table \`volume_type_access\` (\`volume_type_id\` text not null, \`project_id\` text not null, \`created_at\` datetime not null, primary key (\`volume_type_id\`, \`project_id\`));`);
    this.addSql(`create index \`volume_type_access_project_id_index\` on \`volume_type_access\` (\`project_id\`);`);

    this.addSql(`alter table \`volume\` add column \`migration_status\` text null;`);
    this.addSql(`alter table \`volume\` add column \`multiattach\` integer not null default false;`);

    this.addSql(`alter table \`volume_type\` add column \`version\` integer not null default 1;`);
    this.addSql(`alter table \`volume_type\` add column \`updated_at\` datetime null;`);
  }

}
