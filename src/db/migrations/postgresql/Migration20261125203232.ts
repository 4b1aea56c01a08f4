import { Migration } from '@mikro-orm/migrations';

export class Migration20261125203232 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "attachment" alter column "chap_secret" type varchar(255) using ("chap_secret"::varchar(255));`);

    this.addSql(`alter table "backup" add column "change_tracking" varchar(16) null, add column "read_bytes" bigint null, add column "repository_id" varchar(64) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "attachment" alter column "chap_secret" type varchar(64) using ("chap_secret"::varchar(64));`);

    this.addSql(`alter table "backup" drop column "change_tracking", drop column "read_bytes", drop column "repository_id";`);
  }

}
