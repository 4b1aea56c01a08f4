import { Migration } from '@mikro-orm/migrations';

export class Migration20261206120741 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "volume" add column "encryption_key" text null;`);

    this.addSql(`alter table "volume_type" add column "encryption" jsonb null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "volume" drop column "encryption_key";`);

    this.addSql(`alter table "volume_type" drop column "encryption";`);
  }

}
