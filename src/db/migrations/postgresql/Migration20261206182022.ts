import { Migration } from '@mikro-orm/migrations';

export class Migration20261206182022 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "snapshot" add column "generation" int not null default 1;`);

    this.addSql(`alter table "volume" add column "generation" int not null default 1;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "snapshot" drop column "generation";`);

    this.addSql(`alter table "volume" drop column "generation";`);
  }

}
