/** GraphQL types of the operation and message lists and of the dashboard subscriptions. */
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import type { OperationView, UserMessageView } from '../../bus/index.js';
import { OperationStatusEnum } from './enums.js';
import { OperationType, UserMessageType } from './operation.js';
import { PageInfo } from './volume.js';

@InputType({ description: 'Conditions an operation must meet; all given ones apply.' })
export class OperationFilter {
  @Field(() => [OperationStatusEnum], { nullable: true, description: 'Any of these statuses (default: all), e.g. [PENDING, RUNNING] for work in progress.' })
  status?: OperationStatusEnum[];

  @Field(() => String, { nullable: true, description: 'Exact kind, e.g. create_volume.' })
  kind?: string | null;
}

@ObjectType({ description: 'An operation in a page of operations.' })
export class OperationEdge {
  @Field(() => OperationType, { description: 'The operation.' })
  node!: OperationType;

  @Field({ description: 'Where this operation is in the list; pass it as `after` to continue after it.' })
  cursor!: string;
}

@ObjectType({ description: 'A page of operations, newest first.' })
export class OperationConnection {
  @Field(() => [OperationEdge], { description: 'The operations of this page.' })
  edges!: OperationEdge[];

  @Field(() => PageInfo, { description: 'Whether more operations follow, and the cursor to get them.' })
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Operations matching the filter, over all pages.' })
  totalCount!: number;
}

@InputType({ description: 'Which resource the messages are about; all given conditions apply.' })
export class UserMessageFilter {
  @Field(() => String, { nullable: true, description: 'Type of the resource, e.g. volume.' })
  resourceType?: string | null;

  @Field(() => ID, { nullable: true, description: 'Id of the resource.' })
  resourceId?: string | null;
}

@ObjectType({ description: 'A user message in a page of messages.' })
export class UserMessageEdge {
  @Field(() => UserMessageType, { description: 'The message.' })
  node!: UserMessageType;

  @Field({ description: 'Where this message is in the list; pass it as `after` to continue after it.' })
  cursor!: string;
}

@ObjectType({ description: 'A page of user messages, newest first.' })
export class UserMessageConnection {
  @Field(() => [UserMessageEdge], { description: 'The messages of this page.' })
  edges!: UserMessageEdge[];

  @Field(() => PageInfo, { description: 'Whether more messages follow, and the cursor to get them.' })
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Messages matching the filter, over all pages.' })
  totalCount!: number;
}

/** The GraphQL operation of a live event (reuses the row mapping of `OperationType.from`). */
export function operationFromView(v: OperationView): OperationType {
  return OperationType.from({
    ...v,
    command: null,
    dispatchedAt: null,
    deadlineAt: null,
    createdAt: new Date(v.createdAt),
    finishedAt: v.finishedAt ? new Date(v.finishedAt) : null,
  });
}

/** The GraphQL message of a live event (reuses the row mapping of `UserMessageType.from`). */
export function messageFromView(v: UserMessageView): UserMessageType {
  return UserMessageType.from({ ...v, createdAt: new Date(v.createdAt), expiresAt: new Date(v.expiresAt) });
}
