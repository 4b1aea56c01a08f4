import { Migration } from '@mikro-orm/migrations';

export class Migration20261206182022 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`snapshot\` add column \`generation\` integer not null default 1;`);

    this.addSql(`alter table \`volume\` add column \`generation\` integer not null default 1;`);
  }

}
