import { Migration } from '@mikro-orm/migrations';

export class Migration20261125203232 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`backup\` add column \`change_tracking\` text null;`);
    this.addSql(`alter table \`backup\` add column \`read_bytes\` bigint null;`);
    this.addSql(`alter table \`backup\` add column \`repository_id\` text null;`);
  }

}
