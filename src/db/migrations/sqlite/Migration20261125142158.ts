import { Migration } from '@mikro-orm/migrations';

export class Migration20261125142158 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`api_token\` (\`id\` text not null, \`project_id\` text not null, \`role\` text not null, \`token_hash\` text not null, \`name\` text null, \`created_at\` datetime not null, \`revoked_at\` datetime null, primary key (\`id\`));`);
    this.addSql(`create index \`api_token_project_id_index\` on \`api_token\` (\`project_id\`);`);
    this.addSql(`create unique index \`api_token_token_hash_unique\` on \`api_token\` (\`token_hash\`);`);

    this.addSql(`create table \`operation\` (\`id\` text not null, \`project_id\` text not null, \`kind\` text not null, \`resource_type\` text not null, \`resource_id\` text not null, \`status\` text not null default 'pending', \`error_code\` text null, \`error_message\` text null, \`command\` json null, \`dispatched_at\` datetime null, \`created_at\` datetime not null, \`finished_at\` datetime null, primary key (\`id\`));`);
    this.addSql(`create index \`operation_project_id_index\` on \`operation\` (\`project_id\`);`);
    this.addSql(`create index \`operation_resource_id_index\` on \`operation\` (\`resource_id\`);`);
    this.addSql(`create index \`operation_dispatched_at_created_at_index\` on \`operation\` (\`dispatched_at\`, \`created_at\`);`);

    this.addSql(`create table \`pool_allocation\` (\`pool_id\` text not null, \`allocated_gib\` integer not null default 0, primary key (\`pool_id\`));`);

    this.addSql(`create table \`project\` (\`id\` text not null, \`name\` text not null, \`created_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create unique index \`project_name_unique\` on \`project\` (\`name\`);`);

    this.addSql(`create table \`reservation\` (\`volume_id\` text not null, \`pool_id\` text not null, \`size_gib\` integer not null, \`created_at\` datetime not null, primary key (\`volume_id\`));`);
    this.addSql(`create index \`reservation_pool_id_index\` on \`reservation\` (\`pool_id\`);`);

    this.addSql(`create table \`user_message\` (\`id\` text not null, \`project_id\` text not null, \`resource_type\` text not null, \`resource_id\` text not null, \`event\` text not null, \`message\` text not null, \`level\` text not null default 'ERROR', \`created_at\` datetime not null, \`expires_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create index \`user_message_project_id_index\` on \`user_message\` (\`project_id\`);`);
    this.addSql(`create index \`user_message_resource_type_resource_id_index\` on \`user_message\` (\`resource_type\`, \`resource_id\`);`);

    this.addSql(`create table \`volume\` (\`id\` text not null, \`project_id\` text not null, \`name\` text not null, \`description\` text null, \`size_gib\` integer not null, \`status\` text not null, \`volume_type\` text null, \`availability_zone\` text not null, \`metadata\` json not null, \`version\` integer not null default 1, \`host\` text null, \`pool\` text null, \`idempotency_key\` text null, \`request_hash\` text null, \`created_at\` datetime not null, \`updated_at\` datetime not null, \`deleted_at\` datetime null, primary key (\`id\`));`);
    this.addSql(`create index \`volume_status_index\` on \`volume\` (\`status\`);`);
    this.addSql(`create index \`volume_project_id_created_at_id_index\` on \`volume\` (\`project_id\`, \`created_at\`, \`id\`);`);
    this.addSql(`create unique index \`volume_project_id_idempotency_key_unique\` on \`volume\` (\`project_id\`, \`idempotency_key\`);`);

    this.addSql(`create table \`volume_type\` (\`id\` text not null, \`name\` text not null, \`description\` text null, \`extra_specs\` json not null, \`is_public\` integer not null default true, \`created_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create unique index \`volume_type_name_unique\` on \`volume_type\` (\`name\`);`);
  }

}
