/** GraphQL types of the operation and message lists and of the dashboard subscriptions. */
import type { OperationKind, OperationResourceType } from '../../domain/operations.js';
import { Field, ID, InputType } from 'type-graphql';
import type { OperationView, UserMessageView } from '../../bus/index.js';
import { OperationStatusEnum } from './enums.js';
import { OperationObject, UserMessageObject } from './operation.js';
import { relayConnection } from './relay.js';

@InputType({ description: 'Conditions an operation must meet; all given ones apply.' })
export class OperationFilter {
  @Field(() => [OperationStatusEnum], { nullable: true, description: 'Any of these statuses (default: all), e.g. [PENDING, RUNNING] for work in progress.' })
  status?: OperationStatusEnum[];

  @Field(() => String, { nullable: true, description: 'Exact kind, e.g. create_volume.' })
  kind?: string | null;

  @Field(() => ID, { nullable: true, description: 'Only the operations on this resource (a volume\'s, snapshot\'s, backup\'s or attachment\'s id): its history, newest first.' })
  resourceId?: string | null;
}

const operationPage = relayConnection(OperationObject, { name: 'Operation', one: 'operation', many: 'operations', order: 'newest first' });
export const OperationConnection = operationPage.Connection;
export type OperationConnection = InstanceType<typeof OperationConnection>;

@InputType({ description: 'Which resource the messages are about; all given conditions apply.' })
export class UserMessageFilter {
  @Field(() => String, { nullable: true, description: 'Type of the resource, e.g. volume.' })
  resourceType?: string | null;

  @Field(() => ID, { nullable: true, description: 'Id of the resource.' })
  resourceId?: string | null;
}

const userMessagePage = relayConnection(UserMessageObject, { name: 'UserMessage', one: 'user message', many: 'user messages', order: 'newest first' });
export const UserMessageConnection = userMessagePage.Connection;
export type UserMessageConnection = InstanceType<typeof UserMessageConnection>;

/** The GraphQL operation of a live event (reuses the row mapping of `OperationObject.from`). */
export function operationFromView(v: OperationView): OperationObject {
  return OperationObject.from({
    ...v,
    kind: v.kind as OperationKind,
    resourceType: v.resourceType as OperationResourceType,
    command: null,
    dispatchedAt: null,
    deadlineAt: v.deadlineAt ? new Date(v.deadlineAt) : null,
    createdAt: new Date(v.createdAt),
    finishedAt: v.finishedAt ? new Date(v.finishedAt) : null,
    idempotencyKey: null,
    requestHash: null,
  });
}

/** The GraphQL message of a live event (reuses the row mapping of `UserMessageObject.from`). */
export function messageFromView(v: UserMessageView): UserMessageObject {
  return UserMessageObject.from({ ...v, createdAt: new Date(v.createdAt), expiresAt: new Date(v.expiresAt) });
}
