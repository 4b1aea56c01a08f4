import { Migration } from '@mikro-orm/migrations';
import { changeFeedTriggerStatements } from '../../change-feed-sql.js';

/** The change feed (issue 16): per-project sequence, the log of changes, each row's last seq, and the triggers that keep them. */
export class Migration20261206213152 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`change_counter\` (\`project_id\` text not null, \`seq\` bigint not null default 0, \`pruned_seq\` bigint not null default 0, primary key (\`project_id\`));`);

    this.addSql(`create table \`change_event\` (\`project_id\` text not null, \`seq\` bigint not null, \`resource_type\` text not null, \`resource_id\` text not null, \`type\` text not null, \`version\` integer not null, \`at\` bigint not null, primary key (\`project_id\`, \`seq\`));`);
    this.addSql(`create index \`change_event_at_index\` on \`change_event\` (\`at\`);`);

    this.addSql(`alter table \`attachment\` add column \`change_seq\` bigint not null default 0;`);

    this.addSql(`alter table \`backup\` add column \`change_seq\` bigint not null default 0;`);

    this.addSql(`alter table \`snapshot\` add column \`change_seq\` bigint not null default 0;`);

    this.addSql(`alter table \`volume\` add column \`change_seq\` bigint not null default 0;`);

    for (const sql of changeFeedTriggerStatements('sqlite')) this.addSql(sql);
  }

}
