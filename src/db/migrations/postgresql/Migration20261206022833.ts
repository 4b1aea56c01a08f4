import { Migration } from '@mikro-orm/migrations';

export class Migration20261206022833 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "api_token" add column "expires_at" timestamptz null, add column "last_used_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "api_token" drop column "expires_at", drop column "last_used_at";`);
  }

}
