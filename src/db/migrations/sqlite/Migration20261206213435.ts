import { Migration } from '@mikro-orm/migrations';

export class Migration20261206213435 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`operation\` add column \`idempotency_key\` text null;`);
    this.addSql(`alter table \`operation\` add column \`request_hash\` text null;`);
    this.addSql(`create unique index \`operation_project_id_idempotency_key_unique\` on \`operation\` (\`project_id\`, \`idempotency_key\`);`);
  }

}
