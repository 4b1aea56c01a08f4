/**
 * The quota counters' triggers and recount, in SQL, generated from the charge rules of
 * src/domain/quotas.ts. Every insert, update and delete of a volume, snapshot or backup row
 * moves its project's counters in the same transaction, whatever code wrote the row: a
 * mutation, an agent's outcome, a deadline, an admin's reset or force-delete, a transfer.
 * So the counters cannot drift from the tables, and a create's check (which reads them after
 * its insert) sees every committed create before it: in PostgreSQL the trigger's upsert holds
 * the project's row lock until the commit; SQLite has one writer.
 *
 * The same expressions recount a project from its rows (`recountStatements`), for the
 * migration that adds the counters and for `syncQuotaUsage`.
 */
import { CHILD_RESERVED_STATUSES, RELEASED_STATUS, VOLUME_GROWING_STATUS, VOLUME_RESERVED_STATUSES, VOLUME_RETYPING_STATUS } from '../domain/quotas.js';

export type QuotaDialect = 'sqlite' | 'postgresql';

/** `quota_usage` columns: a pair (in use, reserved) per counted resource. */
export const USAGE_COLUMNS = {
  volumes: ['volumes', 'volumes_reserved'],
  gigabytes: ['gigabytes', 'gigabytes_reserved'],
  snapshots: ['snapshots', 'snapshots_reserved'],
  backups: ['backups', 'backups_reserved'],
  backupGigabytes: ['backup_gigabytes', 'backup_gigabytes_reserved'],
} as const;

const list = (xs: readonly string[]): string => xs.map((x) => `'${x}'`).join(', ');
const RESERVED = list(VOLUME_RESERVED_STATUSES);
const CHILD_RESERVED = list(CHILD_RESERVED_STATUSES);

/** One counter row's share of a resource row: its table, key columns, and column → expression. */
interface Share {
  table: 'quota_usage' | 'quota_type_usage';
  keys: Record<string, string>;
  /** When the row has this share at all (a type row needs a type). */
  when: string;
  values: Record<string, string>;
}

/** The shares of a volume row `r` (NEW, OLD, or a table alias). */
function volumeShares(r: string): Share[] {
  const inUse = `${r}.status NOT IN ('${RELEASED_STATUS}', ${RESERVED})`;
  const reserved = `${r}.status IN (${RESERVED})`;
  const growth = `${r}.status = '${VOLUME_GROWING_STATUS}' AND ${r}.pending_size_gib > ${r}.size_gib`;
  const counts = {
    volumes: `CASE WHEN ${inUse} THEN 1 ELSE 0 END`,
    volumes_reserved: `CASE WHEN ${reserved} THEN 1 ELSE 0 END`,
    gigabytes: `CASE WHEN ${inUse} THEN ${r}.size_gib ELSE 0 END`,
    gigabytes_reserved: `CASE WHEN ${reserved} THEN ${r}.size_gib WHEN ${growth} THEN ${r}.pending_size_gib - ${r}.size_gib ELSE 0 END`,
  };
  return [
    { table: 'quota_usage', keys: { project_id: `${r}.project_id` }, when: `${r}.status <> '${RELEASED_STATUS}'`, values: counts },
    { table: 'quota_type_usage', keys: { project_id: `${r}.project_id`, volume_type: `${r}.volume_type` }, when: `${r}.status <> '${RELEASED_STATUS}' AND ${r}.volume_type IS NOT NULL`, values: counts },
    {
      table: 'quota_type_usage',
      keys: { project_id: `${r}.project_id`, volume_type: `${r}.pending_volume_type` },
      when: `${r}.status = '${VOLUME_RETYPING_STATUS}' AND ${r}.pending_volume_type IS NOT NULL AND (${r}.volume_type IS NULL OR ${r}.pending_volume_type <> ${r}.volume_type)`,
      values: { volumes_reserved: '1', gigabytes_reserved: `${r}.size_gib` },
    },
  ];
}

/** The share of a snapshot (count, and its size in gigabytes) or backup row `r`. */
function childShares(kind: 'snapshot' | 'backup', r: string): Share[] {
  const [count, size] = kind === 'snapshot' ? [USAGE_COLUMNS.snapshots, USAGE_COLUMNS.gigabytes] : [USAGE_COLUMNS.backups, USAGE_COLUMNS.backupGigabytes];
  const inUse = `${r}.status NOT IN ('${RELEASED_STATUS}', ${CHILD_RESERVED})`;
  const reserved = `${r}.status IN (${CHILD_RESERVED})`;
  return [
    {
      table: 'quota_usage',
      keys: { project_id: `${r}.project_id` },
      when: `${r}.status <> '${RELEASED_STATUS}'`,
      values: {
        [count[0]]: `CASE WHEN ${inUse} THEN 1 ELSE 0 END`,
        [count[1]]: `CASE WHEN ${reserved} THEN 1 ELSE 0 END`,
        [size[0]]: `CASE WHEN ${inUse} THEN ${r}.size_gib ELSE 0 END`,
        [size[1]]: `CASE WHEN ${reserved} THEN ${r}.size_gib ELSE 0 END`,
      },
    },
  ];
}

/** The counted tables: their shares, and the columns a change of which moves them. */
const COUNTED = {
  volume: { shares: volumeShares, columns: ['project_id', 'status', 'size_gib', 'volume_type', 'pending_size_gib', 'pending_volume_type'] },
  snapshot: { shares: (r: string) => childShares('snapshot', r), columns: ['project_id', 'status', 'size_gib'] },
  backup: { shares: (r: string) => childShares('backup', r), columns: ['project_id', 'status', 'size_gib'] },
} as const;

/** Adds (sign 1) or takes away (sign -1) one row's share: an upsert of its counter row. */
function upsert(s: Share, sign: 1 | -1): string {
  const keyCols = Object.keys(s.keys);
  const cols = Object.keys(s.values);
  const signed = (e: string) => (sign === 1 ? e : `-(${e})`);
  return (
    `INSERT INTO ${s.table} (${[...keyCols, ...cols].join(', ')}) ` +
    `SELECT ${[...Object.values(s.keys), ...Object.values(s.values).map(signed)].join(', ')} WHERE ${s.when} ` +
    `ON CONFLICT (${keyCols.join(', ')}) DO UPDATE SET ${cols.map((c) => `${c} = ${s.table}.${c} + excluded.${c}`).join(', ')};`
  );
}

/** The statements that create the counting triggers of every counted table. */
export function quotaTriggerStatements(dialect: QuotaDialect): string[] {
  const out: string[] = [];
  for (const [table, t] of Object.entries(COUNTED)) {
    const add = (r: string) => t.shares(r).map((s) => upsert(s, 1));
    const remove = (r: string) => t.shares(r).map((s) => upsert(s, -1));
    const changed = t.columns.map((c) => (dialect === 'sqlite' ? `OLD.${c} IS NOT NEW.${c}` : `OLD.${c} IS DISTINCT FROM NEW.${c}`)).join(' OR ');
    if (dialect === 'sqlite') {
      out.push(`CREATE TRIGGER ${table}_quota_insert AFTER INSERT ON ${table} BEGIN ${add('NEW').join(' ')} END;`);
      out.push(`CREATE TRIGGER ${table}_quota_update AFTER UPDATE OF ${t.columns.join(', ')} ON ${table} WHEN ${changed} BEGIN ${[...remove('OLD'), ...add('NEW')].join(' ')} END;`);
      out.push(`CREATE TRIGGER ${table}_quota_delete AFTER DELETE ON ${table} BEGIN ${remove('OLD').join(' ')} END;`);
    } else {
      out.push(
        `CREATE OR REPLACE FUNCTION ${table}_quota() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
          `IF TG_OP = 'UPDATE' AND NOT (${changed}) THEN RETURN NULL; END IF; ` +
          `IF TG_OP <> 'INSERT' THEN ${remove('OLD').join(' ')} END IF; ` +
          `IF TG_OP <> 'DELETE' THEN ${add('NEW').join(' ')} END IF; ` +
          `RETURN NULL; END $$;`,
      );
      out.push(`CREATE TRIGGER ${table}_quota AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_quota();`);
    }
  }
  return out;
}

/** The statements that drop them (a migration's down). */
export function dropQuotaTriggerStatements(dialect: QuotaDialect): string[] {
  return Object.keys(COUNTED).flatMap((table) =>
    dialect === 'sqlite'
      ? [`DROP TRIGGER IF EXISTS ${table}_quota_insert;`, `DROP TRIGGER IF EXISTS ${table}_quota_update;`, `DROP TRIGGER IF EXISTS ${table}_quota_delete;`]
      : [`DROP TRIGGER IF EXISTS ${table}_quota ON ${table};`, `DROP FUNCTION IF EXISTS ${table}_quota();`],
  );
}

/**
 * Statements that set the counters of one project (`?` bound to its id, once per `?`), or of
 * every project (`projectId` null), to what its rows say: the counters are zeroed, then each
 * counted table's shares are summed in. Run them in one transaction.
 */
export function recountStatements(projectId: string | null): Array<{ sql: string; params: string[] }> {
  const where = (alias: string) => (projectId === null ? '' : ` AND ${alias}.project_id = ?`);
  const params = projectId === null ? [] : [projectId];
  const out: Array<{ sql: string; params: string[] }> = [];
  for (const table of ['quota_usage', 'quota_type_usage']) {
    const cols = table === 'quota_usage' ? Object.values(USAGE_COLUMNS).flat() : [...USAGE_COLUMNS.volumes, ...USAGE_COLUMNS.gigabytes];
    out.push({ sql: `UPDATE ${table} SET ${cols.map((c) => `${c} = 0`).join(', ')}${projectId === null ? '' : ' WHERE project_id = ?'};`, params });
  }
  for (const [table, t] of Object.entries(COUNTED)) {
    for (const s of t.shares('r')) {
      const keyCols = Object.keys(s.keys);
      const cols = Object.keys(s.values);
      out.push({
        sql:
          `INSERT INTO ${s.table} (${[...keyCols, ...cols].join(', ')}) ` +
          `SELECT ${[...Object.values(s.keys), ...Object.values(s.values).map((e) => `SUM(${e})`)].join(', ')} FROM ${table} r WHERE ${s.when}${where('r')} GROUP BY ${Object.values(s.keys).join(', ')} ` +
          `ON CONFLICT (${keyCols.join(', ')}) DO UPDATE SET ${cols.map((c) => `${c} = ${s.table}.${c} + excluded.${c}`).join(', ')};`,
        params,
      });
    }
  }
  return out;
}
