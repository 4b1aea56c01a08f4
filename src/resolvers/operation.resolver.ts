/**
 * Operations as the handle a client waits on (issue 16): `operation(id, waitSeconds)`, a
 * bounded long-poll for clients without WebSocket; `operationChanged(id)`, which sends the
 * state first and completes when the operation ends; and `Operation.resource`.
 */
import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { LiveOperation } from '../bus/index.js';
import { BadInputError, requirePrincipal } from '../domain/index.js';
import { operationEnded } from '../domain/operations.js';
import type { Context } from './context.js';
import { nodeObject } from './node-objects.js';
import { operationFromView } from './types/dashboard.js';
import { Node } from './types/node.js';
import { OperationObject, OperationProgressObject } from './types/operation.js';
import { OperationStatusEnum } from './types/enums.js';

/** The longest `operation(id, waitSeconds)` waits. */
export const MAX_WAIT_SECONDS = 60;
/** Kept between the end of a long-poll and the API timeout, to answer before it cuts the request off. */
const ANSWER_MARGIN_MS = 500;

interface SubscribeData<A> {
  args: A;
  context: Context;
}

@Resolver(() => OperationObject)
export class OperationResolver {
  @Query(() => OperationObject, {
    nullable: true,
    description:
      'An operation by id (from a mutation\'s payload), or null when it does not exist or belongs to another project. ' +
      'With `waitSeconds`, a bounded long-poll: the answer comes when the operation ends (SUCCEEDED or FAILED) or when the seconds pass, whichever is first, ' +
      'so a client without WebSocket waits without polling. Errors: BAD_USER_INPUT (waitSeconds not 0 to 60).',
  })
  async operation(
    @Arg('id', () => ID, { description: 'Id of the operation.' }) id: string,
    @Arg('waitSeconds', () => Int, {
      nullable: true,
      description: `Wait up to this many seconds (0 to ${MAX_WAIT_SECONDS}) for the operation to end before answering; never past the API timeout (FLINT_API_TIMEOUT_MS). Default 0: answer at once.`,
    })
    waitSeconds: number | null | undefined,
    @Ctx() ctx: Context,
  ): Promise<OperationObject | null> {
    const p = requirePrincipal(ctx.principal);
    const wait = waitSeconds ?? 0;
    if (!Number.isInteger(wait) || wait < 0 || wait > MAX_WAIT_SECONDS) throw new BadInputError([`waitSeconds must be 0 to ${MAX_WAIT_SECONDS}, got ${wait}`]);
    const op = await ctx.ports.volumes.operation(p, id);
    if (!op) return null;
    const budgetMs = Math.min(wait * 1000, ctx.deadline === undefined ? Infinity : ctx.deadline - performance.now() - ANSWER_MARGIN_MS);
    if (budgetMs <= 0 || operationEnded(op.status)) return OperationObject.from(op);
    await untilEnded(await ctx.ports.watches.operation(p, id), budgetMs);
    return OperationObject.from((await ctx.ports.volumes.operation(p, id)) ?? op);
  }

  @Subscription(() => OperationObject, {
    description:
      'One operation: its state now, then each change, until it is SUCCEEDED or FAILED (the last event; then the subscription completes). ' +
      'The one thing to wait on after any mutation. Over graphql-ws, like `volumeChanged`. NOT_FOUND when it is not visible to you.',
    subscribe: ({ args, context }: SubscribeData<{ id: string }>) => context.ports.watches.operation(context.principal, args.id),
  })
  operationChanged(@Root() ev: LiveOperation, @Arg('id', () => ID, { description: 'Id of the operation to follow.' }) _id: string): OperationObject {
    return operationFromView(ev.operation);
  }

  @FieldResolver(() => OperationProgressObject, {
    nullable: true,
    description:
      'How far the work has come while it runs: backups, restores, verifies and migration copies report it about once a second. ' +
      'Null for work without progress (creates, deletes, updates), before the first report, and once it has ended.',
  })
  progress(@Root() op: OperationObject, @Ctx() ctx: Context): OperationProgressObject | null {
    if (op.status !== OperationStatusEnum.PENDING && op.status !== OperationStatusEnum.RUNNING) return null;
    return ctx.ports.reads.progressOf(op);
  }

  @FieldResolver(() => Node, {
    nullable: true,
    description: 'The resource it acts on, as it is now (`... on Volume { … }`); null when it is no longer visible to you (a DELETED volume, snapshot or backup).',
  })
  async resource(@Root() op: OperationObject, @Ctx() ctx: Context): Promise<Node | null> {
    const found = await ctx.ports.reads.node(ctx.principal, op.resourceId);
    return found ? nodeObject(found) : null;
  }
}

/** Waits until `events` yields an ended operation or `ms` pass, then closes it. */
async function untilEnded(events: AsyncIterableIterator<LiveOperation>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  const ended = (async () => {
    for (let r = await events.next(); !r.done; r = await events.next()) if (operationEnded(r.value.operation.status)) return;
  })();
  try {
    await Promise.race([timedOut, ended]);
  } finally {
    clearTimeout(timer);
    await events.return?.();
  }
}
