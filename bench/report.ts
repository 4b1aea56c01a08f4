/** The table on stdout and the JSON file under bench/results/. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { round, summarize, type Summary } from './stats.js';

export interface Row {
  metric: string;
  summary: Summary;
}

export function row(metric: string, samples: readonly number[]): Row {
  return { metric, summary: summarize(samples) };
}

export function table(rows: Row[]): string {
  const head = ['metric', 'p50 ms', 'p99 ms', 'mean ms', 'max ms', 'n'];
  const body = rows.map((r) => [r.metric, ...[r.summary.p50, r.summary.p99, r.summary.mean, r.summary.max].map((v) => fmt(v)), String(r.summary.n)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '-';
  return v >= 100 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);
}

function cmd(file: string, args: string[], cwd: string): string | null {
  try {
    return execFileSync(file, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0] ?? null;
  } catch {
    return null;
  }
}

export function machineInfo(root: string): Record<string, unknown> {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? null,
    memoryGiB: round(totalmem() / 1024 ** 3, 1),
    platform: `${platform()} ${release()}`,
    node: process.version,
    gitCommit: cmd('git', ['rev-parse', 'HEAD'], root),
    natsServer: cmd('nats-server', ['--version'], root) ?? cmd('/usr/sbin/nats-server', ['--version'], root),
    qemuImg: cmd('qemu-img', ['--version'], root),
    /** Other work on the machine skews every figure: 1/5/15-minute load averages at the end of the run. */
    loadAvgAtEnd: loadavg().map((v) => round(v, 2)),
  };
}

/** Writes `bench/results/<ISO date>-<database>.json` and returns its path. */
export function writeResult(root: string, database: string, startedAt: Date, result: unknown): string {
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${startedAt.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}-${database}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

/** Summaries with values rounded for the JSON file (raw samples are not kept). */
export function jsonRows(rows: Row[]): Array<Record<string, unknown>> {
  return rows.map((r) => ({
    metric: r.metric,
    n: r.summary.n,
    p50Ms: round(r.summary.p50),
    p99Ms: round(r.summary.p99),
    meanMs: round(r.summary.mean),
    minMs: round(r.summary.min),
    maxMs: round(r.summary.max),
  }));
}
