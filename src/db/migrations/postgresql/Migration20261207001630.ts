import { Migration } from '@mikro-orm/migrations';

export class Migration20261207001630 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "snapshot" add column "metadata" jsonb not null default '{}';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "snapshot" drop column "metadata";`);
  }

}
