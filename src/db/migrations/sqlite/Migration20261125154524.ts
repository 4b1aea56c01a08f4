import { Migration } from '@mikro-orm/migrations';

export class Migration20261125154524 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`snapshot\` (\`id\` text not null, \`project_id\` text not null, \`volume_id\` text not null, \`name\` text not null, \`description\` text null, \`size_gib\` integer not null, \`status\` text not null, \`version\` integer not null default 1, \`idempotency_key\` text null, \`request_hash\` text null, \`created_at\` datetime not null, \`updated_at\` datetime not null, \`deleted_at\` datetime null, primary key (\`id\`));`);
    this.addSql(`create index \`snapshot_volume_id_index\` on \`snapshot\` (\`volume_id\`);`);
    this.addSql(`create index \`snapshot_status_index\` on \`snapshot\` (\`status\`);`);
    this.addSql(`create index \`snapshot_project_id_created_at_id_index\` on \`snapshot\` (\`project_id\`, \`created_at\`, \`id\`);`);
    this.addSql(`create unique index \`snapshot_project_id_idempotency_key_unique\` on \`snapshot\` (\`project_id\`, \`idempotency_key\`);`);
  }

}
