/**
 * A transaction that finds, part-way, that another writer got there first (the operation was
 * ended by an outcome, a deadline or an admin meanwhile) must leave nothing behind: its work
 * throws `Overtaken`, which rolls it back, and `commitUnlessOvertaken` answers false.
 */
import type { EntityManager } from '@mikro-orm/knex';

export class Overtaken extends Error {
  constructor() {
    super('overtaken by another writer: rolled back');
  }
}

/** Runs `work` in a transaction: true when it committed, false when it threw `Overtaken` (rolled back). */
export async function commitUnlessOvertaken(em: EntityManager, work: (tx: EntityManager) => Promise<void>): Promise<boolean> {
  try {
    await em.transactional(work);
    return true;
  } catch (err) {
    if (err instanceof Overtaken) return false;
    throw err;
  }
}
