/**
 * CPU time used by this process and by the Flint processes it started (children of
 * this process, found in /proc), grouped by role, so a result shows where the time
 * went and whether the benchmark client itself was the bottleneck. Linux only;
 * elsewhere the snapshots are empty.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

export type CpuSnapshot = Map<string, number>;

function cpuSeconds(pid: string): { ppid: string; seconds: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces:
    // utime, stime, and cutime, cstime (children waited for, e.g. the agent's qemu-img).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: f[1]!, seconds: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

function roleOf(pid: string): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    if (argv.some((a) => a.endsWith('nats-server'))) return 'nats-server';
    const i = argv.findIndex((a) => a.endsWith('flint.js'));
    return i >= 0 ? (argv[i + 1] ?? 'flint') : 'other';
  } catch {
    return 'other';
  }
}

/** CPU seconds so far: `bench` (this process) and one entry per role of its children. */
export function cpuSnapshot(): CpuSnapshot {
  const snap: CpuSnapshot = new Map();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return snap;
  }
  const me = String(process.pid);
  for (const pid of pids) {
    const s = cpuSeconds(pid);
    if (!s) continue;
    const role = pid === me ? 'bench' : s.ppid === me ? roleOf(pid) : undefined;
    if (role) snap.set(role, (snap.get(role) ?? 0) + s.seconds);
  }
  return snap;
}

/** Share of one CPU each role used between two snapshots taken `wallMs` apart (1.0 = one core busy). */
export function cpuShare(before: CpuSnapshot, after: CpuSnapshot, wallMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [role, s] of after) out[role] = Math.round(((s - (before.get(role) ?? 0)) / (wallMs / 1000)) * 100) / 100;
  return out;
}
