/**
 * A small async wrapper over `tgtadm` (package tgt) talking to one tgtd through its control
 * port (`-C N`), and pure parsers of its `--op show` output (unit-tested with captured text).
 *
 * Error messages carry the operation, the mode and tgtadm's stderr, never the argument
 * list: `--mode account --op new` has the CHAP password in it.
 */
import { execFile } from 'node:child_process';
import { DriverError } from '../drivers/index.js';

export const DEFAULT_TGTADM = 'tgtadm';
const TGTADM_TIMEOUT_MS = 30_000;

/** tgtadm failed; `detail` is its stderr (e.g. "can't find the target"). */
export class TgtadmError extends DriverError {
  constructor(
    readonly op: string,
    readonly detail: string,
    cause?: unknown,
  ) {
    super(`tgtadm ${op} failed: ${detail}`, { cause });
    this.name = 'TgtadmError';
  }
  /** The object to act on does not exist (the idempotent "already gone"). */
  get notFound(): boolean {
    return /can't find/i.test(this.detail);
  }
  get alreadyExists(): boolean {
    return /already exists/i.test(this.detail);
  }
  /** The target still has a session: its connections must go first. */
  get stillActive(): boolean {
    return /still active/i.test(this.detail);
  }
}

export interface Tgtadm {
  /** Runs `tgtadm -C <port> --lld iscsi <args>`; resolves stdout. */
  (args: readonly string[]): Promise<string>;
}

/** A runner bound to one tgtd control port. */
export function tgtadm(controlPort: number, binary = DEFAULT_TGTADM): Tgtadm {
  return (args) =>
    new Promise((resolve, reject) => {
      const op = describeArgs(args);
      execFile(binary, ['-C', String(controlPort), '--lld', 'iscsi', ...args], { timeout: TGTADM_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (!err) {
          resolve(stdout);
          return;
        }
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new DriverError(`${binary} is not installed or not on PATH; install the tgt package`, { retryable: false }));
          return;
        }
        const detail = stderr.replace(/^tgtadm:\s*/gm, '').trim() || `exit ${String(err.code ?? err.signal ?? '?')}`;
        // The cause is not `err`: its message repeats the command line, password included.
        reject(new TgtadmError(op, detail));
      });
    });
}

/** "--op new --mode target" style summary of an argument list, without values that may be secret. */
export function describeArgs(args: readonly string[]): string {
  const pick = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  return [`--op ${pick('--op') ?? '?'}`, `--mode ${pick('--mode') ?? '?'}`, ...(pick('--tid') ? [`--tid ${pick('--tid')}`] : [])].join(' ');
}

export interface TgtLun {
  lun: number;
  /** The backing file (undefined for `None`). */
  backingPath: string | undefined;
  readonly: boolean;
}

export interface TgtTarget {
  tid: number;
  iqn: string;
  state: string;
  /** LUNs other than the controller LUN 0. */
  luns: TgtLun[];
  accounts: string[];
  acls: string[];
}

/** Parses `--op show --mode target` (all targets). */
export function parseTargets(text: string): TgtTarget[] {
  const targets: TgtTarget[] = [];
  let current: TgtTarget | undefined;
  let section = '';
  let lun: TgtLun | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const head = /^Target (\d+): (\S+)$/.exec(line);
    if (head) {
      current = { tid: Number(head[1]), iqn: head[2]!, state: '', luns: [], accounts: [], acls: [] };
      targets.push(current);
      section = '';
      lun = undefined;
      continue;
    }
    if (!current) continue;
    const text4 = line.trim();
    if (/^ {4}\S/.test(line)) {
      section = text4.replace(/:$/, '');
      lun = undefined;
      continue;
    }
    if (section === 'System information') {
      const state = /^State: (\S+)/.exec(text4);
      if (state) current.state = state[1]!;
    } else if (section === 'LUN information') {
      const l = /^LUN: (\d+)$/.exec(text4);
      if (l) {
        const n = Number(l[1]);
        lun = { lun: n, backingPath: undefined, readonly: false };
        if (n !== 0) current.luns.push(lun);
        continue;
      }
      if (!lun) continue;
      const path = /^Backing store path: (.*)$/.exec(text4);
      if (path) lun.backingPath = path[1] === 'None' ? undefined : path[1];
      const ro = /^Readonly: (\S+)$/.exec(text4);
      if (ro) lun.readonly = ro[1] === 'Yes';
    } else if (section === 'Account information') {
      if (text4) current.accounts.push(text4.replace(/\s*\(outgoing\)$/, ''));
    } else if (section === 'ACL information') {
      if (text4) current.acls.push(text4);
    }
  }
  return targets;
}

export interface TgtConnection {
  sid: number;
  cid: number;
  initiator: string | undefined;
}

/** Parses `--op show --mode conn --tid N`. */
export function parseConnections(text: string): TgtConnection[] {
  const conns: TgtConnection[] = [];
  let sid: number | undefined;
  let conn: TgtConnection | undefined;
  for (const line of text.split('\n').map((l) => l.trim())) {
    const s = /^Session: (\d+)$/.exec(line);
    if (s) {
      sid = Number(s[1]);
      continue;
    }
    const c = /^Connection: (\d+)$/.exec(line);
    if (c && sid !== undefined) {
      conn = { sid, cid: Number(c[1]), initiator: undefined };
      conns.push(conn);
      continue;
    }
    const i = /^Initiator: (\S+)/.exec(line);
    if (i && conn) conn.initiator = i[1];
  }
  return conns;
}

/** Parses `--op show --mode account`. */
export function parseAccounts(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** Parses `--op show --mode portal` into `host:port` strings. */
export function parsePortals(text: string): string[] {
  return [...text.matchAll(/^Portal: (.+),\d+$/gm)].map((m) => m[1]!);
}
