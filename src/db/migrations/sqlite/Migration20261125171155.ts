import { Migration } from '@mikro-orm/migrations';

export class Migration20261125171155 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`attachment\` (\`id\` text not null, \`project_id\` text not null, \`volume_id\` text not null, \`instance_id\` text not null, \`status\` text not null, \`mode\` text not null, \`target_kind\` text not null, \`connector\` json null, \`connection\` json null, \`chap_username\` text null, \`chap_secret\` text null, \`host\` text null, \`pool\` text null, \`export_requested\` integer not null default false, \`idempotency_key\` text null, \`request_hash\` text null, \`version\` integer not null default 1, \`attached_at\` datetime null, \`detached_at\` datetime null, \`created_at\` datetime not null, \`updated_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create index \`attachment_volume_id_index\` on \`attachment\` (\`volume_id\`);`);
    this.addSql(`create index \`attachment_status_index\` on \`attachment\` (\`status\`);`);
    this.addSql(`create index \`attachment_host_index\` on \`attachment\` (\`host\`);`);
    this.addSql(`create index \`attachment_project_id_created_at_id_index\` on \`attachment\` (\`project_id\`, \`created_at\`, \`id\`);`);
    this.addSql(`create unique index \`attachment_project_id_idempotency_key_unique\` on \`attachment\` (\`project_id\`, \`idempotency_key\`);`);

    this.addSql(`alter table \`volume\` add column \`multiattach\` integer not null default false;`);
  }

}
