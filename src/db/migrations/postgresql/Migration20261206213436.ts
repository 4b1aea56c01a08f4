import { Migration } from '@mikro-orm/migrations';

export class Migration20261206213436 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "operation" add column "idempotency_key" varchar(255) null, add column "request_hash" varchar(64) null;`);
    this.addSql(`alter table "operation" add constraint "operation_project_id_idempotency_key_unique" unique ("project_id", "idempotency_key");`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "operation" drop constraint "operation_project_id_idempotency_key_unique";`);
    this.addSql(`alter table "operation" drop column "idempotency_key", drop column "request_hash";`);
  }

}
