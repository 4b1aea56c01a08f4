import { Migration } from '@mikro-orm/migrations';

export class Migration20261206022833 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`api_token\` add column \`expires_at\` datetime null;`);
    this.addSql(`alter table \`api_token\` add column \`last_used_at\` datetime null;`);
  }

}
