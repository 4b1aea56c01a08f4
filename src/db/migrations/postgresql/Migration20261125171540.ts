import { Migration } from '@mikro-orm/migrations';

export class Migration20261125171540 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "volume" add column "migration_status" varchar(16) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "volume" drop column "migration_status";`);
  }

}
