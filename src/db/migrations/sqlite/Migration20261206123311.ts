import { Migration } from '@mikro-orm/migrations';

export class Migration20261206123311 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`volume_transfer\` (\`id\` text not null, \`volume_id\` text not null, \`project_id\` text not null, \`name\` text not null, \`auth_key_hash\` text not null, \`status\` text not null default 'pending', \`accepted_project_id\` text null, \`created_at\` datetime not null, \`expires_at\` datetime not null, \`finished_at\` datetime null, primary key (\`id\`));`);
    this.addSql(`create index \`volume_transfer_volume_id_index\` on \`volume_transfer\` (\`volume_id\`);`);
    this.addSql(`create index \`volume_transfer_status_expires_at_index\` on \`volume_transfer\` (\`status\`, \`expires_at\`);`);
    this.addSql(`create index \`volume_transfer_project_id_created_at_id_index\` on \`volume_transfer\` (\`project_id\`, \`created_at\`, \`id\`);`);
  }

}
