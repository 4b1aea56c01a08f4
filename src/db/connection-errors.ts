/**
 * Whether an error from the database means the connection to it failed (the server is down,
 * restarting, unreachable, or it ended the connection) rather than that the statement was
 * wrong. Pure: it reads the error chain's codes and messages (pg, better-sqlite3, knex and
 * MikroORM wrap them differently).
 */

/** Socket errors of a connection that could not be made or broke. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** PostgreSQL SQLSTATEs: 08xxx connection exceptions; 57P01-57P03 the server shutting down or starting. */
const SQLSTATE = /^(08...|57P0[123])$/;
const MESSAGES = [/\bECONN(REFUSED|RESET)\b/, /connection terminated/i, /connection error/i, /timeout exceeded when trying to connect/i, /timeout acquiring a connection/i, /the database system is (starting up|shutting down|in recovery mode)/i, /terminating connection/i];

export interface LostConnection {
  /** The connection broke on COMMIT: the transaction may have been committed or not. */
  atCommit: boolean;
}

/** The lost connection `err` reports, or undefined when it is another kind of error. */
export function lostConnection(err: unknown): LostConnection | undefined {
  let atCommit = false;
  let lost = false;
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown; previous?: unknown }).cause ?? (e as { previous?: unknown }).previous, depth++) {
    const x = e as { code?: unknown; message?: unknown };
    const message = typeof x.message === 'string' ? x.message : '';
    if (/^\s*commit\b/i.test(message)) atCommit = true;
    if ((typeof x.code === 'string' && (SOCKET_CODES.has(x.code) || SQLSTATE.test(x.code))) || MESSAGES.some((m) => m.test(message))) lost = true;
  }
  return lost ? { atCommit } : undefined;
}
