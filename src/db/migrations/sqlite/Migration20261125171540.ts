import { Migration } from '@mikro-orm/migrations';

export class Migration20261125171540 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`volume\` add column \`migration_status\` text null;`);
  }

}
