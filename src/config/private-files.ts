/**
 * Flint's files are for its own user only: the data dir (SQLite database, secret key,
 * admin token, NATS store, pools) is 0700, the SQLite database and its -wal and -shm
 * files 0600. Created that way, and tightened (and logged) when found wider, as older
 * versions left them (0755 and 0644 under the usual umask).
 *
 * A directory that is plainly shared (sticky, like /tmp, or the filesystem root) is never
 * changed: that would break other users. It is logged instead.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, parse, resolve } from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** What happened to one path, for the log. */
export interface PermissionNote {
  path: string;
  /** `created`: made with the private mode; `tightened`: its mode was wider; `left`: wider, but not ours to change (why in `reason`). */
  action: 'created' | 'tightened' | 'left';
  /** Octal modes, e.g. `0755`. */
  from?: string;
  to?: string;
  reason?: string;
}

export type PermissionLog = (note: PermissionNote) => void;

const octal = (mode: number): string => `0${(mode & 0o777).toString(8)}`;

/** Group or others have any access. */
const wider = (mode: number, wanted: number): boolean => (mode & 0o777 & ~wanted) !== 0;

/**
 * Makes `dir` private: created 0700 (with missing parents) when `create`; tightened to
 * 0700 when it exists with a wider mode and `tighten` (default true). Returns false when
 * it does not exist (and was not created).
 */
export function ensurePrivateDir(dir: string, opts: { create: boolean; tighten?: boolean }, note: PermissionLog = () => undefined): boolean {
  const path = resolve(dir);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !opts.create) return false;
    mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
    // mkdir's mode passes through the umask, which can only narrow it; say it once more.
    chmodSync(path, PRIVATE_DIR_MODE);
    note({ path, action: 'created', to: octal(PRIVATE_DIR_MODE) });
    return true;
  }
  if (!st.isDirectory() || !wider(st.mode, PRIVATE_DIR_MODE) || opts.tighten === false) return true;
  if ((st.mode & 0o1000) !== 0 || parse(path).root === path) {
    note({ path, action: 'left', from: octal(st.mode), reason: 'a shared directory (sticky bit, or the root): give Flint a directory of its own' });
    return true;
  }
  tighten(path, st.mode, PRIVATE_DIR_MODE, note);
  return true;
}

/** Tightens an existing file to 0600 when wider; a missing file is fine. */
export function ensurePrivateFile(file: string, note: PermissionLog = () => undefined): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch {
    return;
  }
  if (st.isFile() && wider(st.mode, PRIVATE_FILE_MODE)) tighten(file, st.mode, PRIVATE_FILE_MODE, note);
}

/**
 * Before SQLite opens `dbFile`: its directory is created 0700 when missing (an existing
 * one is left as it is: it may be shared), the file is created 0600 when missing (SQLite
 * gives its -wal and -shm the database file's mode), and the file, -wal and -shm are
 * tightened to 0600 when wider.
 */
export function prepareSqliteFile(dbFile: string, note: PermissionLog = () => undefined): void {
  ensurePrivateDir(dirname(dbFile), { create: true, tighten: false }, note);
  try {
    closeSync(openSync(dbFile, 'wx', PRIVATE_FILE_MODE));
    note({ path: dbFile, action: 'created', to: octal(PRIVATE_FILE_MODE) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (const f of sqliteFiles(dbFile)) ensurePrivateFile(f, note);
}

/** The database file and the two SQLite keeps beside it in WAL mode. */
export function sqliteFiles(dbFile: string): string[] {
  return [dbFile, `${dbFile}-wal`, `${dbFile}-shm`];
}

function tighten(path: string, mode: number, to: number, note: PermissionLog): void {
  try {
    chmodSync(path, to);
    note({ path, action: 'tightened', from: octal(mode), to: octal(to) });
  } catch (err) {
    note({ path, action: 'left', from: octal(mode), reason: `chmod failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
  }
}
