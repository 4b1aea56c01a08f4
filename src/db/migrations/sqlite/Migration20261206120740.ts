import { Migration } from '@mikro-orm/migrations';

export class Migration20261206120740 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`volume\` add column \`encryption_key\` text null;`);

    this.addSql(`alter table \`volume_type\` add column \`encryption\` json null;`);
  }

}
