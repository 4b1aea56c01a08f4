/**
 * The payload of a mutation on one resource: the resource as the mutation left it and its
 * operation. One factory for every resource, so that what a payload promises (which work to
 * follow, what null means, `alreadyDeleted`) is worded and typed once.
 */
import { Field, ObjectType, type ClassType } from 'type-graphql';
import { OperationObject } from './operation.js';

/** The resource a payload carries: its field, its GraphQL type, and the subscription that follows it. */
export interface PayloadResource {
  field: 'volume' | 'snapshot' | 'attachment' | 'backup';
  type: () => ClassType;
  /** e.g. "`volumeChanged`". */
  follow: string;
}

/**
 * - `work`: the mutation always records an operation (a create, an attach).
 * - `change`: an update that may have nothing to do: then no operation (null).
 * - `delete`: an idempotent delete (`alreadyDeleted`, and the operation that deleted it).
 */
export type PayloadMode = 'work' | 'change' | 'delete';

const OPERATION: Record<PayloadMode, (follow: string, field: string) => string> = {
  work: (follow, field) => `The work started; follow it with \`operation(id)\`, or the ${field} with ${follow}, until it ends.`,
  change: (follow, field) =>
    `The work started; follow it with \`operation(id)\`, or the ${field} with ${follow}, until it ends. ` +
    `Null when there was nothing to change: the ${field} already was as asked (a retried request), and no operation was recorded (nor the \`idempotencyKey\`, if one was given). ` +
    `A request repeated with its \`idempotencyKey\` returns the operation that key recorded, as it is now.`,
  delete: (follow, field) =>
    `The operation deleting it; follow it with \`operation(id)\`, or the ${field} with ${follow}, until it ends. ` +
    `A delete repeated while the ${field} is being deleted returns the operation under way; when it was already deleted (\`alreadyDeleted\`), the one that deleted it, or null when none is recorded.`,
};

/**
 * The description of the `idempotencyKey` of a change to an existing resource (`what`: e.g.
 * "update", "extend"; `resource`: e.g. "volume"); src/gateway/mutations/kernel.ts implements it.
 */
export function changeKeyDescription(what: string, resource: string): string {
  return (
    `Makes the ${what} safe to retry (1 to 255 characters). The same key with the same request, from the ${resource}'s project, returns the operation the first request recorded (as it is now) and the ${resource} as it is now; ` +
    'nothing is done or sent again, even when the first request already finished (or failed), or when both ran at once. ' +
    `The same key with another request (other parameters, another ${resource}, or another mutation: keys of updates, extends, retypes and migrations share one namespace per project) is CONFLICT with \`extensions.operationId\`: use a new key. ` +
    'A key answers for one day after its operation was recorded (FLINT_IDEMPOTENCY_TTL_SECONDS), then it is free again. `expectedVersion` is not part of the request compared. ' +
    `A request that has nothing to do (no operation) records no key.`
  );
}

export function resourcePayload(name: string, description: string, resource: PayloadResource, mode: PayloadMode = 'work'): ClassType {
  @ObjectType(name, { description })
  class Payload {}
  Field(resource.type, { description: `The ${resource.field} as the mutation left it${mode === 'delete' ? ' (DELETED when `alreadyDeleted`)' : ''}.` })(Payload.prototype, resource.field);
  Field(() => OperationObject, { nullable: mode !== 'work', description: OPERATION[mode](resource.follow, resource.field) })(Payload.prototype, 'operation');
  if (mode === 'delete') {
    Field(() => Boolean, {
      description:
        `True when the ${resource.field} was already deleted before this request: nothing was done, and that is success (deletes are idempotent, ` +
        'as CSI and Terraform expect). False when this request started the delete or found it under way.',
    })(Payload.prototype, 'alreadyDeleted');
  }
  return Payload;
}
