import { Migration } from '@mikro-orm/migrations';
import { quotaTriggerStatements, recountStatements } from '../../quota-sql.js';

/** Quotas (issue 12): the counters, the triggers that keep them, and a first count of what exists. */
export class Migration20261206115736 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`quota_type_usage\` (\`project_id\` text not null, \`volume_type\` text not null, \`volumes\` integer not null default 0, \`volumes_reserved\` integer not null default 0, \`gigabytes\` integer not null default 0, \`gigabytes_reserved\` integer not null default 0, primary key (\`project_id\`, \`volume_type\`));`);

    this.addSql(`create table \`quota_usage\` (\`project_id\` text not null, \`volumes\` integer not null default 0, \`volumes_reserved\` integer not null default 0, \`gigabytes\` integer not null default 0, \`gigabytes_reserved\` integer not null default 0, \`snapshots\` integer not null default 0, \`snapshots_reserved\` integer not null default 0, \`backups\` integer not null default 0, \`backups_reserved\` integer not null default 0, \`backup_gigabytes\` integer not null default 0, \`backup_gigabytes_reserved\` integer not null default 0, primary key (\`project_id\`));`);

    this.addSql(`alter table \`project\` add column \`quota_limits\` json null;`);

    this.addSql(`alter table \`volume\` add column \`pending_size_gib\` integer null;`);
    this.addSql(`alter table \`volume\` add column \`pending_volume_type\` text null;`);

    for (const sql of quotaTriggerStatements('sqlite')) this.addSql(sql);
    for (const { sql } of recountStatements(null)) this.addSql(sql);
  }

}
