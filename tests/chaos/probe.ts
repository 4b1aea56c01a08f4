/**
 * The checker's eyes, independent of the code under test where it can be: the database through
 * the API's lists, the agents' pools through their directories, the canaries' bytes through
 * qemu-io on the image files, every qcow2 image's metadata through `qemu-img check`.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RunningCluster } from '../../src/cli/cluster/cluster.js';
import { markedPids } from '../../src/cli/cluster/processes.js';
import type { Api } from './api.js';
import { isTransitional, type EndState, type SeenVolume } from './verdict.js';

const run = promisify(execFile);
/** Where images found corrupt are copied. */
export const EVIDENCE_DIR = join(tmpdir(), 'flint-chaos-evidence');
const IMAGE = /^\.?volume-([A-Za-z0-9_-]+)\.(qcow2|raw)(\.tmp-[0-9a-f]+)?$/;

export interface Canary {
  id: string;
  pattern: number;
  bytes: number;
}

/** Each agent's pool directory, by pool id (`agent-1@pool`). */
export function poolDirs(cluster: RunningCluster): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of cluster.state.processes.filter((x) => x.role === 'agent')) {
    for (const pool of JSON.parse(p.env.FLINT_POOLS!) as Array<{ name: string; directory: string }>) out.set(`${p.host}@${pool.name}`, pool.directory);
  }
  return out;
}

/** Volume ids of the image files (and leftover temporary files) in each pool directory. */
export function poolImages(dirs: Map<string, string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [pool, dir] of dirs) {
    const ids: string[] = [];
    for (const f of readdirSync(dir)) {
      const m = IMAGE.exec(f);
      if (m) ids.push(m[3] ? `${m[1]} (leftover ${f})` : m[1]!);
    }
    out.set(pool, ids);
  }
  return out;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * The exports the agents serve: every qemu-nbd and qemu-storage-daemon of the cluster (with
 * the ids its command line names), and every tgt target of the agents' tgtds.
 */
export async function exportsOf(cluster: RunningCluster): Promise<EndState['exports']> {
  const out: EndState['exports'] = [];
  for (const pid of markedPids(cluster.state.dir)) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const bin = argv[0]?.split('/').pop() ?? '';
    if (bin === 'qemu-nbd' || bin === 'qemu-storage-daemon') out.push({ what: `${bin} pid ${pid}`, ids: [...new Set(argv.join(' ').match(UUID) ?? [])] });
    if (bin === 'tgtd') {
      const control = argv[argv.indexOf('-C') + 1];
      const { stdout } = await run('tgtadm', ['-C', control!, '--lld', 'iscsi', '--op', 'show', '--mode', 'target']).catch(() => ({ stdout: '' }));
      for (const line of stdout.split('\n').filter((l) => l.startsWith('Target '))) out.push({ what: `tgt ${line.trim()}`, ids: [...new Set(line.match(UUID) ?? [])] });
    }
  }
  return out;
}

/** Whether a canary's image reads back its pattern (read-only, sharing the image's lock). */
export async function canaryIntact(c: Canary, image: string): Promise<boolean> {
  try {
    const { stdout } = await run('qemu-io', ['-r', '-U', '-f', image.endsWith('.raw') ? 'raw' : 'qcow2', '-c', `read -P ${c.pattern} 0 ${c.bytes}`, image]);
    return !/fail|error/i.test(stdout) && stdout.includes(`read ${c.bytes}/${c.bytes} bytes`);
  } catch {
    return false;
  }
}

/**
 * The qcow2 images of the pools that `qemu-img check` finds corrupt (exit 2) or cannot check
 * (exit 1), with its words. Leaked clusters (exit 3) are space lost to a failed write, not harm
 * to data, and are not counted. Read-only, sharing the image's lock.
 */
export async function unsoundImages(dirs: Map<string, string>): Promise<string[]> {
  const out: string[] = [];
  for (const [pool, dir] of dirs) {
    for (const f of readdirSync(dir).filter((x) => !x.startsWith('.') && /^volume-.+\.qcow2$/.test(x))) {
      try {
        await run('qemu-img', ['check', '-U', '-f', 'qcow2', join(dir, f)]);
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        // The image went between the listing and the check (a delete): nothing to judge.
        if (e.code === 1 && /No such file/.test(e.stderr ?? '')) continue;
        if (e.code === 3) continue;
        const lines = `${e.stderr ?? ''}${e.stdout ?? ''}`.trim().split('\n').filter(Boolean);
        const said = [...lines.filter((l) => /ERROR|corrupt|Leaked/i.test(l)).slice(0, 3), ...lines.slice(-1)].join(' / ');
        // Kept for a look afterwards: the pool may delete the image before anyone reads the report.
        const kept = join(EVIDENCE_DIR, `${Date.now()}-${f}`);
        mkdirSync(EVIDENCE_DIR, { recursive: true });
        await run('cp', ['--sparse=always', join(dir, f), kept]).catch(() => undefined);
        out.push(`image ${f} in ${pool}: qemu-img check exits ${e.code ?? '?'}: ${said} (a copy: ${kept})`);
      }
    }
  }
  return out;
}

export function imageOf(dirs: Map<string, string>, pool: string, id: string): string | undefined {
  const dir = dirs.get(pool);
  if (!dir) return undefined;
  const f = readdirSync(dir).find((x) => x === `volume-${id}.qcow2` || x === `volume-${id}.raw`);
  return f ? join(dir, f) : undefined;
}

interface Lists {
  volumes: SeenVolume[];
  snapshots: EndState['snapshots'];
  backups: EndState['backups'];
  attachments: EndState['attachments'];
}

export async function lists(api: Api): Promise<Lists> {
  const [volumes, snapshots, backups, attachments] = await Promise.all([
    api.all<Omit<SeenVolume, 'pool'> & { host: string | null; pool: string | null }>('volumes', 'id status sizeGiB host pool changeSeq'),
    api.all<EndState['snapshots'][number]>('snapshots', 'id volumeId status sizeGiB'),
    api.all<EndState['backups'][number]>('backups', 'id volumeId status'),
    api.all<EndState['attachments'][number]>('attachments', 'id volumeId status'),
  ]);
  // A pool's id is `host@name`, as `pools` lists it.
  const placed = volumes.items.map(({ host, pool, ...v }) => ({ ...v, pool: host && pool ? `${host}@${pool}` : null }));
  return { volumes: placed, snapshots: snapshots.items, backups: backups.items, attachments: attachments.items };
}

/** Waits until nothing is in a transitional status (or the deadline); returns what is still moving. */
export async function settle(api: Api, deadlineMs: number): Promise<number> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const l = await lists(api);
    const moving = [...l.volumes, ...l.snapshots, ...l.backups, ...l.attachments].filter((x) => isTransitional(x.status)).length;
    if (moving === 0 || Date.now() > until) return moving;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * What the checker compares. `admin` lists (hosts are shown to admins only; the cluster has
 * one project), `api` is the project's member (its quota usage).
 */
export async function endState(api: Api, admin: Api, cluster: RunningCluster, canaries: readonly Canary[], events: Map<string, number[]>): Promise<EndState> {
  const l = await lists(admin);
  const { pools } = await admin.must<{ pools: Array<{ id: string; allocatedCapacityGiB: number }> }>('{ pools { id allocatedCapacityGiB } }');
  type U = { inUse: number; reserved: number };
  const { quotaSet: q } = await api.must<{ quotaSet: { volumes: U; gigabytes: U; snapshots: U; backups: U } }>('{ quotaSet { volumes { inUse reserved } gigabytes { inUse reserved } snapshots { inUse reserved } backups { inUse reserved } } }');
  const dirs = poolDirs(cluster);
  const canaryState = new Map<string, boolean>();
  for (const c of canaries) {
    const v = l.volumes.find((x) => x.id === c.id);
    const image = v?.pool ? imageOf(dirs, v.pool, c.id) : undefined;
    canaryState.set(c.id, image !== undefined && (await canaryIntact(c, image)));
  }
  return {
    ...l,
    // Canaries are the checker's own: not the workload's, not to be judged as its volumes.
    pools,
    quota: { volumes: q.volumes.inUse, gigabytes: q.gigabytes.inUse, snapshots: q.snapshots.inUse, backups: q.backups.inUse, reserved: q.volumes.reserved + q.gigabytes.reserved + q.snapshots.reserved + q.backups.reserved },
    poolImages: poolImages(dirs),
    exports: await exportsOf(cluster),
    canaries: canaryState,
    unsoundImages: await unsoundImages(dirs),
    events,
  };
}
