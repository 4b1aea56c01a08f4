/**
 * The change feed's triggers (issue 16), in SQL, in the manner of quota-sql.ts: every insert
 * and update of a volume, snapshot, backup or attachment row takes the next number of its
 * project's sequence (`change_counter.seq`), logs it in `change_event`, and leaves it on the
 * row (`change_seq`), whatever code wrote the row: a mutation, an agent's outcome, a sweeper,
 * an admin's reset, a transfer. So the feed cannot miss a write path.
 *
 * Order: in PostgreSQL the counter's upsert holds the project's row lock until the commit, so
 * the project's changes commit in seq order: once a seq is visible, every smaller one is too
 * (what lets a list read the seq first and a replay read the log without a gap). SQLite has
 * one writer.
 *
 * A row that moves to another project (an accepted transfer) logs DELETED in the project it
 * left and CREATED in the one it joined; its `change_seq` is the new project's. Rows are
 * never deleted by the application (they end as DELETED or DETACHED): a DELETE is not logged.
 *
 * PostgreSQL sets the row's seq in a BEFORE trigger (NEW.change_seq). SQLite cannot change NEW:
 * an AFTER trigger writes `change_seq` with an UPDATE, which the update trigger ignores (its
 * WHEN asks that `change_seq` did not change) and the quota triggers do not watch.
 */

export type ChangeFeedDialect = 'sqlite' | 'postgresql';

/** The tables whose rows are in the feed; the name is the event's `resource_type`. All have id, project_id, status, version, change_seq. */
export const FEED_TABLES = ['volume', 'snapshot', 'backup', 'attachment'] as const;
export type FeedResourceType = (typeof FEED_TABLES)[number];

const SQLITE_NOW_MS = `CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)`;

/** `type` of a row's own event: DELETED once its status is deleted, else UPDATED (CREATED for inserts and moves in). */
const sqliteKind = `CASE WHEN OLD.project_id IS NOT NEW.project_id THEN 'CREATED' WHEN NEW.status = 'deleted' THEN 'DELETED' ELSE 'UPDATED' END`;

function sqliteBump(project: string, when = 'true'): string {
  return `INSERT INTO change_counter (project_id, seq, pruned_seq) SELECT ${project}, 1, 0 WHERE ${when} ON CONFLICT (project_id) DO UPDATE SET seq = change_counter.seq + 1;`;
}

function sqliteLog(table: string, project: string, row: 'NEW' | 'OLD', kind: string, when = 'true'): string {
  return (
    `INSERT INTO change_event (project_id, seq, resource_type, resource_id, type, version, at) ` +
    `SELECT ${project}, c.seq, '${table}', ${row}.id, ${kind}, NEW.version, ${SQLITE_NOW_MS} FROM change_counter c WHERE c.project_id = ${project} AND ${when};`
  );
}

function sqliteStamp(table: string): string {
  return `UPDATE ${table} SET change_seq = (SELECT seq FROM change_counter WHERE project_id = NEW.project_id) WHERE id = NEW.id;`;
}

/** The statements that create the feed's triggers on every feed table. */
export function changeFeedTriggerStatements(dialect: ChangeFeedDialect): string[] {
  if (dialect === 'sqlite') {
    return FEED_TABLES.flatMap((t) => {
      const moved = 'OLD.project_id IS NOT NEW.project_id';
      return [
        `CREATE TRIGGER ${t}_change_insert AFTER INSERT ON ${t} BEGIN ` +
          `${sqliteBump('NEW.project_id')} ${sqliteLog(t, 'NEW.project_id', 'NEW', `'CREATED'`)} ${sqliteStamp(t)} END;`,
        `CREATE TRIGGER ${t}_change_update AFTER UPDATE ON ${t} WHEN NEW.change_seq IS OLD.change_seq BEGIN ` +
          `${sqliteBump('OLD.project_id', moved)} ${sqliteLog(t, 'OLD.project_id', 'OLD', `'DELETED'`, moved)} ` +
          `${sqliteBump('NEW.project_id')} ${sqliteLog(t, 'NEW.project_id', 'NEW', sqliteKind)} ${sqliteStamp(t)} END;`,
      ];
    });
  }
  return [
    `CREATE OR REPLACE FUNCTION change_feed_row() RETURNS trigger LANGUAGE plpgsql AS $$ ` +
      `DECLARE s bigint; kind text; now_ms bigint := (extract(epoch from clock_timestamp()) * 1000)::bigint; BEGIN ` +
      `IF TG_OP = 'UPDATE' THEN ` +
      // The row's own seq is not a change (nothing writes it but this trigger; no-op updates neither).
      `NEW.change_seq := OLD.change_seq; ` +
      `IF NEW IS NOT DISTINCT FROM OLD THEN RETURN NEW; END IF; ` +
      `IF NEW.project_id IS DISTINCT FROM OLD.project_id THEN ` +
      // Both counters, locked in one order: two transfers crossing each other wait, not deadlock.
      `INSERT INTO change_counter (project_id, seq, pruned_seq) VALUES (OLD.project_id, 0, 0), (NEW.project_id, 0, 0) ON CONFLICT (project_id) DO NOTHING; ` +
      `PERFORM 1 FROM change_counter WHERE project_id IN (OLD.project_id, NEW.project_id) ORDER BY project_id FOR UPDATE; ` +
      `UPDATE change_counter SET seq = seq + 1 WHERE project_id = OLD.project_id RETURNING seq INTO s; ` +
      `INSERT INTO change_event (project_id, seq, resource_type, resource_id, type, version, at) VALUES (OLD.project_id, s, TG_TABLE_NAME, OLD.id, 'DELETED', NEW.version, now_ms); ` +
      `kind := 'CREATED'; ` +
      `ELSIF NEW.status = 'deleted' THEN kind := 'DELETED'; ELSE kind := 'UPDATED'; END IF; ` +
      `ELSE kind := 'CREATED'; END IF; ` +
      `INSERT INTO change_counter AS c (project_id, seq, pruned_seq) VALUES (NEW.project_id, 1, 0) ON CONFLICT (project_id) DO UPDATE SET seq = c.seq + 1 RETURNING c.seq INTO s; ` +
      `INSERT INTO change_event (project_id, seq, resource_type, resource_id, type, version, at) VALUES (NEW.project_id, s, TG_TABLE_NAME, NEW.id, kind, NEW.version, now_ms); ` +
      `NEW.change_seq := s; ` +
      `RETURN NEW; END $$;`,
    ...FEED_TABLES.map((t) => `CREATE TRIGGER ${t}_change BEFORE INSERT OR UPDATE ON ${t} FOR EACH ROW EXECUTE FUNCTION change_feed_row();`),
  ];
}

/** The statements that drop them (a migration's down). */
export function dropChangeFeedTriggerStatements(dialect: ChangeFeedDialect): string[] {
  if (dialect === 'sqlite') return FEED_TABLES.flatMap((t) => [`DROP TRIGGER IF EXISTS ${t}_change_insert;`, `DROP TRIGGER IF EXISTS ${t}_change_update;`]);
  return [...FEED_TABLES.map((t) => `DROP TRIGGER IF EXISTS ${t}_change ON ${t};`), 'DROP FUNCTION IF EXISTS change_feed_row();'];
}
