import { Migration } from '@mikro-orm/migrations';

export class Migration20261125155849 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`status_audit\` (\`id\` text not null, \`resource_type\` text not null, \`resource_id\` text not null, \`project_id\` text not null, \`action\` text not null, \`from_status\` text not null, \`to_status\` text not null, \`reason\` text null, \`actor_token_id\` text not null, \`actor_project_id\` text not null, \`created_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create index \`status_audit_project_id_index\` on \`status_audit\` (\`project_id\`);`);
    this.addSql(`create index \`status_audit_resource_type_resource_id_created_at_index\` on \`status_audit\` (\`resource_type\`, \`resource_id\`, \`created_at\`);`);

    this.addSql(`alter table \`operation\` add column \`deadline_at\` datetime null;`);
    this.addSql(`create index \`operation_deadline_at_index\` on \`operation\` (\`deadline_at\`);`);

    this.addSql(`alter table \`volume\` add column \`snapshot_id\` text null;`);
    this.addSql(`alter table \`volume\` add column \`source_volume_id\` text null;`);
  }

}
