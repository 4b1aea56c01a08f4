import { Field, ID, ObjectType } from 'type-graphql';
import type { Operation, UserMessage } from '../../db/index.js';
import { Node } from './node.js';
import { OperationStatusEnum } from './enums.js';

@ObjectType({ description: 'Why an operation failed.' })
export class OperationError {
  @Field({ description: 'One of the error codes of the API (e.g. NO_VALID_BACKEND).' })
  code!: string;

  @Field({ description: 'What happened and what to do.' })
  message!: string;
}

@ObjectType('Operation', { implements: Node, description: 'An asynchronous piece of work started by a mutation.' })
export class OperationType extends Node {
  @Field({ description: 'What the operation does, e.g. create_volume.' })
  kind!: string;

  @Field(() => OperationStatusEnum)
  status!: OperationStatusEnum;

  @Field({ description: 'Type of the resource it acts on, e.g. volume.' })
  resourceType!: string;

  @Field(() => ID, { description: 'Id of the resource it acts on.' })
  resourceId!: string;

  @Field(() => OperationError, { nullable: true, description: 'Set when status is FAILED.' })
  error!: OperationError | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it succeeded or failed.' })
  finishedAt!: Date | null;

  static from(o: Operation): OperationType {
    return Object.assign(new OperationType(), {
      id: o.id,
      kind: o.kind,
      status: o.status as OperationStatusEnum,
      resourceType: o.resourceType,
      resourceId: o.resourceId,
      error: o.errorCode ? { code: o.errorCode, message: o.errorMessage ?? '' } : null,
      createdAt: o.createdAt,
      finishedAt: o.finishedAt,
    });
  }
}

@ObjectType('UserMessage', { description: 'A message for the user about a failure: what failed, why, and what to do.' })
export class UserMessageType {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'Type of the resource concerned, e.g. volume.' })
  resourceType!: string;

  @Field(() => ID)
  resourceId!: string;

  @Field({ description: 'The operation that failed, e.g. create_volume.' })
  event!: string;

  @Field()
  message!: string;

  @Field({ description: 'ERROR, WARNING or INFO.' })
  level!: string;

  @Field()
  createdAt!: Date;

  @Field({ description: 'When the message stops being shown.' })
  expiresAt!: Date;

  static from(m: UserMessage): UserMessageType {
    return Object.assign(new UserMessageType(), {
      id: m.id,
      resourceType: m.resourceType,
      resourceId: m.resourceId,
      event: m.event,
      message: m.message,
      level: m.level,
      createdAt: m.createdAt,
      expiresAt: m.expiresAt,
    });
  }
}
