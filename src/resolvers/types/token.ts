/** GraphQL types of API tokens (admins only): the token without its secret, and the inputs and payloads of its mutations. */
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import type { TokenView } from '../../db/index.js';
import { tokenStatus } from '../../domain/index.js';
import { RoleEnum } from './enums.js';
import { relayConnection } from './relay.js';

export enum ApiTokenStatusEnum {
  ACTIVE = 'active',
  EXPIRED = 'expired',
  REVOKED = 'revoked',
}
registerEnumType(ApiTokenStatusEnum, {
  name: 'ApiTokenStatus',
  description: 'Whether a token authenticates now.',
  valuesConfig: {
    ACTIVE: { description: 'It authenticates requests.' },
    EXPIRED: { description: 'Its `expiresAt` has passed: refused everywhere.' },
    REVOKED: { description: 'Revoked by an admin: refused everywhere, its WebSockets closed.' },
  },
});

@ObjectType('ApiToken', {
  description:
    'An API token, as admins see it: who it is for, its role and its dates. Never its secret (shown once, by `createApiToken` or `flint token create`) nor its hash.',
})
export class ApiTokenObject {
  @Field(() => ID, { description: 'Id of the token (a UUID): what `revokeApiToken` and `flint token revoke` take.' })
  id!: string;

  @Field(() => ID, { description: 'Id of its project.' })
  projectId!: string;

  @Field({ description: 'Name of its project.' })
  project!: string;

  @Field(() => RoleEnum, { description: 'What it may do: ADMIN, MEMBER or READER.' })
  role!: RoleEnum;

  @Field(() => String, { nullable: true, description: 'The label given at creation, if any.' })
  name!: string | null;

  @Field(() => ApiTokenStatusEnum, { description: 'ACTIVE, EXPIRED or REVOKED, at the time of the query.' })
  status!: ApiTokenStatusEnum;

  @Field({ description: 'When it was created (UTC).' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it stops working (UTC); null: never.' })
  expiresAt!: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'When it last authenticated a request (UTC), to within about a minute (it is written at most once a minute); null: never used.',
  })
  lastUsedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it was revoked (UTC); null: not revoked.' })
  revokedAt!: Date | null;

  static from(t: TokenView, now: Date = new Date()): ApiTokenObject {
    return Object.assign(new ApiTokenObject(), {
      id: t.id,
      projectId: t.projectId,
      project: t.projectName,
      role: t.role as RoleEnum,
      name: t.name,
      status: tokenStatus(t, now) as ApiTokenStatusEnum,
      createdAt: t.createdAt,
      expiresAt: t.expiresAt,
      lastUsedAt: t.lastUsedAt,
      revokedAt: t.revokedAt,
    });
  }
}

const apiTokenPage = relayConnection(ApiTokenObject, { name: 'ApiToken', one: 'API token', many: 'API tokens', order: 'newest first' });
export const ApiTokenConnection = apiTokenPage.Connection;
export type ApiTokenConnection = InstanceType<typeof ApiTokenConnection>;

@InputType({ description: 'Which tokens to list; all given conditions apply.' })
export class ApiTokenFilter {
  @Field(() => ID, { nullable: true, description: 'Only the tokens of the project with this id.' })
  projectId?: string | null;

  @Field(() => String, { nullable: true, description: 'Only the tokens of the project with this name.' })
  project?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Also list revoked tokens (default false). Expired ones are always listed.' })
  includeRevoked?: boolean | null;
}

@InputType({ description: 'A new API token (`createApiToken`).' })
export class CreateApiTokenInput {
  @Field({ description: 'Name of its project: 1 to 64 letters, digits, ".", "-" or "_". A new name creates the project.' })
  project!: string;

  @Field(() => RoleEnum, { description: 'What it may do: ADMIN (everything, every project), MEMBER (its project) or READER (read its project).' })
  role!: RoleEnum;

  @Field(() => String, { nullable: true, description: 'A label for people, 1 to 128 characters, e.g. who or what uses it.' })
  name?: string | null;

  @Field(() => Date, {
    nullable: true,
    description: 'When it stops working (UTC, in the future, at most ten years ahead); default never. Its WebSockets are closed at that time.',
  })
  expiresAt?: Date | null;
}

@ObjectType({ description: 'A new token: its secret, shown this once, and the token as listed.' })
export class CreateApiTokenPayload {
  @Field({
    description: 'The secret to send as "Authorization: Bearer <token>". Shown only here: Flint keeps its sha256, never the secret. Store it now.',
  })
  token!: string;

  @Field(() => ApiTokenObject, { description: 'The token as `apiTokens` lists it.' })
  apiToken!: ApiTokenObject;
}

@InputType({ description: 'Which token to revoke (`revokeApiToken`).' })
export class RevokeApiTokenInput {
  @Field(() => ID, { description: 'Id of the token (`ApiToken.id`, `flint token list`).' })
  id!: string;
}

@ObjectType({ description: 'The revoked token.' })
export class RevokeApiTokenPayload {
  @Field(() => ApiTokenObject, { description: 'The token, REVOKED, with the time it was first revoked.' })
  apiToken!: ApiTokenObject;
}
