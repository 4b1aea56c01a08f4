import { Migration } from '@mikro-orm/migrations';

export class Migration20261125173107 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`backup\` (\`id\` text not null, \`project_id\` text not null, \`volume_id\` text not null, \`snapshot_id\` text null, \`name\` text not null, \`description\` text null, \`status\` text not null, \`size_gib\` integer not null, \`size_bytes\` bigint null, \`parent_id\` text null, \`incremental\` integer not null default false, \`full_reason\` text null, \`forced\` integer not null default false, \`repository\` text not null, \`host\` text null, \`pool\` text null, \`sha256\` text null, \`chunk_size\` integer null, \`chunk_count\` integer null, \`codec\` text null, \`data_bytes\` bigint null, \`stored_bytes\` bigint null, \`dedup_bytes\` bigint null, \`duration_ms\` integer null, \`progress_done_bytes\` bigint null, \`progress_total_bytes\` bigint null, \`fail_reason\` text null, \`operation_id\` text null, \`restore_volume_id\` text null, \`idempotency_key\` text null, \`request_hash\` text null, \`version\` integer not null default 1, \`created_at\` datetime not null, \`updated_at\` datetime not null, \`deleted_at\` datetime null, primary key (\`id\`));`);
    this.addSql(`create index \`backup_status_index\` on \`backup\` (\`status\`);`);
    this.addSql(`create index \`backup_volume_id_status_created_at_index\` on \`backup\` (\`volume_id\`, \`status\`, \`created_at\`);`);
    this.addSql(`create index \`backup_project_id_created_at_id_index\` on \`backup\` (\`project_id\`, \`created_at\`, \`id\`);`);
    this.addSql(`create unique index \`backup_project_id_idempotency_key_unique\` on \`backup\` (\`project_id\`, \`idempotency_key\`);`);
  }

}
