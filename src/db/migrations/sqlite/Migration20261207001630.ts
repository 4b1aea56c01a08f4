import { Migration } from '@mikro-orm/migrations';

export class Migration20261207001630 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`snapshot\` add column \`metadata\` json not null default '{}';`);
  }

}
