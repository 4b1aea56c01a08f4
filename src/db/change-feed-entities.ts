/**
 * The change feed's tables (issue 16). Only the triggers of change-feed-sql.ts write
 * `change_counter.seq` and `change_event`; the retention sweeper deletes old events and
 * records how far it went (`prunedSeq`); change-feed.ts reads them.
 */
import 'reflect-metadata';
import { BigIntType, Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/** A project's change sequence: the seq of its latest change, and the latest seq the retention sweeper deleted. */
@Entity({ tableName: 'change_counter' })
export class ChangeCounter {
  @PrimaryKey({ type: 'string', length: 36 }) projectId!: string;
  /** The seq of the project's latest change (0: none since the feed began). */
  @Property({ type: new BigIntType('number'), default: 0 }) seq: number = 0;
  /** Every event of the project up to this seq was deleted by the retention sweeper: a `sinceSeq` below it cannot be replayed. */
  @Property({ type: new BigIntType('number'), default: 0 }) prunedSeq: number = 0;
}

/** One change of one row: which project's sequence number it took, what changed, and when. */
@Entity({ tableName: 'change_event' })
@Index({ properties: ['at'] })
export class ChangeEvent {
  @PrimaryKey({ type: 'string', length: 36 }) projectId!: string;
  @PrimaryKey({ type: new BigIntType('number') }) seq!: number;
  /** The table of the changed row: volume, snapshot, backup, attachment. */
  @Property({ type: 'string', length: 32 }) resourceType!: string;
  @Property({ type: 'string', length: 36 }) resourceId!: string;
  /** CREATED (inserted, or moved into the project), UPDATED, or DELETED (status deleted, or moved out of the project). */
  @Property({ type: 'string', length: 16 }) type!: string;
  /** The row's version after the change. */
  @Property({ type: 'integer' }) version!: number;
  /** When, in milliseconds since the epoch (the database's clock). */
  @Property({ type: new BigIntType('number') }) at!: number;
}
