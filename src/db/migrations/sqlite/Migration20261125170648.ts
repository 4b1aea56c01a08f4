import { Migration } from '@mikro-orm/migrations';

export class Migration20261125170648 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`volume_type_access\` (\`volume_type_id\` text not null, \`project_id\` text not null, \`created_at\` datetime not null, primary key (\`volume_type_id\`, \`project_id\`));`);
    this.addSql(`create index \`volume_type_access_project_id_index\` on \`volume_type_access\` (\`project_id\`);`);

    this.addSql(`alter table \`volume_type\` add column \`version\` integer not null default 1;`);
    this.addSql(`alter table \`volume_type\` add column \`updated_at\` datetime null;`);
  }

}
