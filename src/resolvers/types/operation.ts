import { Field, Float, ID, ObjectType } from 'type-graphql';
import type { Operation, UserMessage } from '../../db/index.js';
import { Node } from './node.js';
import { errorCodeOf, isRetryable, type ErrorCode } from '../../domain/index.js';
import { ErrorCodeEnum, OperationStatusEnum } from './enums.js';

@ObjectType('OperationError', { description: 'Why an operation failed: a code from the API\'s error list, whether doing it again can succeed, and a message for people.' })
export class OperationErrorObject {
  @Field(() => ErrorCodeEnum, { description: 'What kind of failure, e.g. NO_VALID_BACKEND (no pool passed the filters), SERVICE_UNAVAILABLE (e.g. the operation missed its deadline) or INTERNAL.' })
  code!: ErrorCode;

  @Field({
    description:
      'True when the failure came from the moment (a service that did not answer, a deadline missed), so the same mutation sent again later, with a backoff, can succeed. ' +
      'First do what the message says to clean up (e.g. delete the volume left ERROR), then send it again; a create or a change sent with an `idempotencyKey` needs a new key (the old one answers with this failed operation). ' +
      'False when the same mutation would fail the same way: change the input, or report it (INTERNAL); retrying in a loop will not help. ' +
      'Decided by the code alone (see `ErrorCode`); a GraphQL error carries the same fact as `extensions.retryable`.',
  })
  retryable!: boolean;

  @Field({ description: 'What happened and what to do, in a sentence or two.' })
  message!: string;

  /** The error of a failed operation row; a stored code not on the list reads as INTERNAL. */
  static of(storedCode: string, message: string | null): OperationErrorObject {
    const code = errorCodeOf(storedCode);
    return Object.assign(new OperationErrorObject(), { code, retryable: isRetryable(code), message: message ?? '' });
  }
}

@ObjectType('OperationProgress', { description: 'How far an operation\'s work has come, as its agent last reported (about once a second).' })
export class OperationProgressObject {
  @Field(() => Float, { description: 'Bytes done so far.' })
  bytesDone!: number;

  @Field(() => Float, { description: 'Bytes the work has in all (a migration copies and then checks: twice the volume\'s size).' })
  bytesTotal!: number;

  @Field(() => Float, { description: 'bytesDone of bytesTotal, 0 to 100, one decimal.' })
  percent!: number;
}

@ObjectType('Operation', {
  implements: Node,
  description:
    'An asynchronous piece of work started by a mutation (create, extend, delete; updates are recorded as operations that have already SUCCEEDED). ' +
    'Poll it with `operation(id)` or follow the volume with `volumeChanged` until it is SUCCEEDED or FAILED.',
})
export class OperationObject extends Node {
  @Field({ description: 'What the operation does: create_volume, update_volume, extend_volume, delete_volume, create_snapshot, update_snapshot, delete_snapshot, or for attachments create_attachment, update_attachment, complete_attachment, delete_attachment, force_detach, refresh_attachment.' })
  kind!: string;

  @Field(() => OperationStatusEnum, { description: 'Where it is: PENDING, RUNNING, then SUCCEEDED or FAILED.' })
  status!: OperationStatusEnum;

  @Field({ description: 'Type of the resource it acts on: volume, snapshot or attachment.' })
  resourceType!: string;

  @Field(() => ID, { description: 'Id of the resource it acts on, e.g. the volume\'s or snapshot\'s id (fetch it with `volume(id)`, `snapshot(id)` or `node(id)`).' })
  resourceId!: string;

  @Field(() => OperationErrorObject, { nullable: true, description: 'Why it failed; set only when status is FAILED, null otherwise.' })
  error!: OperationErrorObject | null;

  @Field({ description: 'When the mutation recorded it (UTC, ISO 8601).' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it SUCCEEDED or FAILED (UTC, ISO 8601); null while PENDING or RUNNING.' })
  finishedAt!: Date | null;

  @Field(() => Date, {
    nullable: true,
    description:
      'When it is given up if still PENDING or RUNNING (UTC, ISO 8601): it then ends FAILED with SERVICE_UNAVAILABLE. Work that reports progress (backups, restores, migrations) pushes it forward. Null for work done at once.',
  })
  deadlineAt!: Date | null;

  static from(o: Operation): OperationObject {
    return Object.assign(new OperationObject(), {
      id: o.id,
      kind: o.kind,
      status: o.status as OperationStatusEnum,
      resourceType: o.resourceType,
      resourceId: o.resourceId,
      error: o.errorCode ? OperationErrorObject.of(o.errorCode, o.errorMessage) : null,
      createdAt: o.createdAt,
      finishedAt: o.finishedAt,
      deadlineAt: o.deadlineAt ?? null,
    });
  }
}

@ObjectType('UserMessage', {
  description: 'A message for people about a failure of asynchronous work (Cinder\'s user messages): what failed, why, and what to do. Kept 30 days.',
})
export class UserMessageObject {
  @Field(() => ID, { description: 'Id of the message (a UUID).' })
  id!: string;

  @Field({ description: 'Type of the resource concerned: volume or snapshot.' })
  resourceType!: string;

  @Field(() => ID, { description: 'Id of the resource concerned, e.g. the volume\'s id.' })
  resourceId!: string;

  @Field({ description: 'The operation that failed, e.g. create_volume, extend_volume or create_snapshot.' })
  event!: string;

  @Field({ description: 'What happened and what to do, e.g. which scheduler filter rejected which pool.' })
  message!: string;

  @Field({ description: 'Severity: ERROR, WARNING or INFO.' })
  level!: string;

  @Field({ description: 'When it was written (UTC, ISO 8601).' })
  createdAt!: Date;

  @Field({ description: 'When it stops being shown: 30 days after `createdAt`.' })
  expiresAt!: Date;

  static from(m: UserMessage): UserMessageObject {
    return Object.assign(new UserMessageObject(), {
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
