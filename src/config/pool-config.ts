/**
 * The agent's pools in the configuration (FLINT_POOLS): their schema, their type, the
 * export kinds they offer, and `parsePools`, which checks and completes the list.
 */
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';

/** Cinder's default `max_over_subscription_ratio`. */
export const DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO = 20;

/** What a host name (FLINT_AGENT_HOST, a pool's backendHost) may be. */
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

const capabilityValue = z.union([z.string(), z.number(), z.boolean()]);
/** How a pool's volumes can be exported to consumers (src/node-agent/targets/). */
export const POOL_TARGET_KINDS = ['iscsi', 'nbd'] as const;
export type PoolTargetKind = (typeof POOL_TARGET_KINDS)[number];
/** A pool offers both kinds unless its config says otherwise. */
export const DEFAULT_POOL_TARGETS: readonly PoolTargetKind[] = ['iscsi', 'nbd'];
/** The target of an attachment that asks for none, when the pool offers it (else the pool's first). */
export const DEFAULT_POOL_TARGET: PoolTargetKind = 'iscsi';

const poolSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "-" and "_" only, at most 64'),
  driver: z.enum(['file', 'rbd']).default('file'),
  /** file pools: relative directories are under the data dir. */
  directory: z.string().min(1).optional(),
  /** file pools: default qcow2; rbd pools: raw only. */
  imageFormat: z.enum(['raw', 'qcow2']).optional(),
  /** rbd pools: the Ceph cluster and the cephx user. */
  cluster: z
    .object({
      conf: z.string().min(1, 'the path of the ceph.conf'),
      user: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a cephx user name without "client." (letters, digits, ".", "-", "_")'),
      keyring: z.string().min(1).optional(),
    })
    .strict()
    .optional(),
  /** rbd pools: the Ceph pool holding the images. */
  rbdPool: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'a Ceph pool name (letters, digits, ".", "-", "_")').optional(),
  capabilities: z.record(z.string(), capabilityValue).default({}),
  maxOverSubscriptionRatio: z.number().min(1).default(DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO),
  reservedPercentage: z.number().min(0).max(100).default(0),
  thinProvisioning: z.boolean().default(true),
  /** Caps the pool's total size (GiB) below the filesystem's, e.g. to share a disk; default: the filesystem. */
  capacityGiB: z.number().positive().optional(),
  /** Export kinds the pool offers to attachments; default both. */
  targets: z.array(z.enum(POOL_TARGET_KINDS)).min(1, 'name at least one of "iscsi", "nbd"').optional(),
  /** The kind of an attachment that asks for none; must be among `targets`. */
  defaultTarget: z.enum(POOL_TARGET_KINDS).optional(),
  /** Bandwidth cap of copies into the pool (a migration's import), MiB/s, like Cinder's volume_copy_bps_limit; default unlimited. */
  copyMiBps: z.number().positive().max(1_000_000).optional(),
  /**
   * The backend host this pool belongs to (Cinder's active-active `cluster@backend`): pools of
   * the same name and backendHost on several agents are one pool on shared storage, served
   * under host identity `backendHost` by whichever of those agents takes each command.
   */
  backendHost: z.string().regex(HOST_NAME, 'a host name: letters, digits, ".", "-" and "_" (at most 128), starting with a letter or digit').optional(),
});
export type PoolConfigInput = z.input<typeof poolSchema>;

/** What every pool has, whatever its driver. */
export interface PoolConfigBase {
  readonly name: string;
  readonly capabilities: Readonly<Record<string, string | number | boolean>>;
  readonly maxOverSubscriptionRatio: number;
  readonly reservedPercentage: number;
  readonly thinProvisioning: boolean;
  readonly capacityGiB: number | undefined;
  /** Export kinds the pool offers to attachments (`loadConfig` always sets it; read it with `poolTargetsOf`). @default ['iscsi', 'nbd'] */
  readonly targets?: readonly PoolTargetKind[];
  /** The kind an attachment gets when it asks for none. @default 'iscsi' when offered, else the first of `targets` */
  readonly defaultTarget?: PoolTargetKind;
  /** Bandwidth cap of copies into the pool (migration imports), MiB/s (`qemu-img convert -r`). @default unlimited */
  readonly copyMiBps?: number;
  /**
   * The backend host (a virtual host several agents share) whose pool this is; absent: the
   * pool is the agent's own, `agentHost@name`. With it the pool is `backendHost@name`.
   */
  readonly backendHost?: string;
}

/** The distinct backend hosts `pools` name, in name order. */
export function backendHostsOf(pools: readonly Pick<PoolConfig, 'backendHost'>[]): string[] {
  return [...new Set(pools.map((p) => p.backendHost).filter((b): b is string => b !== undefined))].sort();
}

/** A pool of image files in a directory (the `file` driver). */
export interface FilePoolConfig extends PoolConfigBase {
  readonly driver: 'file';
  /** Absolute (`parsePools` resolves a relative one under the data dir). */
  readonly directory: string;
  readonly imageFormat: 'raw' | 'qcow2';
}

/** How to reach a Ceph cluster: what `rbd -c CONF --id USER [--keyring KEYRING]` takes. */
export interface RbdCluster {
  /** Path of the ceph.conf (mon addresses). */
  readonly conf: string;
  /** The cephx user, without `client.` (caps: `mon 'profile rbd' osd 'profile rbd pool=<rbdPool>'`). */
  readonly user: string;
  /** Path of the user's keyring. @default whatever the conf finds (`keyring` setting, /etc/ceph/ceph.client.USER.keyring) */
  readonly keyring?: string;
}

/** A pool of RBD images in one Ceph pool (the `rbd` driver, docs/design/rbd-driver.md). */
export interface RbdPoolConfig extends PoolConfigBase {
  readonly driver: 'rbd';
  readonly cluster: RbdCluster;
  /** The Ceph pool (`rbd pool init` done). */
  readonly rbdPool: string;
  /** RBD images are raw block devices. */
  readonly imageFormat: 'raw';
}

/** A configured pool: narrow on `driver`. */
export type PoolConfig = FilePoolConfig | RbdPoolConfig;

/** Where a pool keeps its volumes, for logs: the directory or `rbd:POOL`. */
export function poolLocation(pool: PoolConfig): string {
  return pool.driver === 'rbd' ? `rbd:${pool.rbdPool}` : pool.directory;
}

/** A pool's export kinds and default kind, with the defaults for what it leaves out. */
export function poolTargetsOf(pool: Pick<PoolConfig, 'targets' | 'defaultTarget'>): { targets: readonly PoolTargetKind[]; defaultTarget: PoolTargetKind } {
  const targets = pool.targets && pool.targets.length > 0 ? pool.targets : DEFAULT_POOL_TARGETS;
  return { targets, defaultTarget: pool.defaultTarget ?? (targets.includes(DEFAULT_POOL_TARGET) ? DEFAULT_POOL_TARGET : targets[0]!) };
}

export function parsePools(input: unknown, dataDir: string, problems: string[], agentHost?: string): PoolConfig[] {
  if (!Array.isArray(input) || input.length === 0) {
    problems.push('FLINT_POOLS: must be a non-empty JSON array of pools');
    return [];
  }
  const pools: PoolConfig[] = [];
  const names = new Set<string>();
  input.forEach((p, i) => {
    const parsed = poolSchema.strict().safeParse(p);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`FLINT_POOLS[${i}].${issue.path.join('.') || '(pool)'}: ${issue.message}`);
      return;
    }
    const v = parsed.data;
    if (names.has(v.name)) problems.push(`FLINT_POOLS[${i}].name: "${v.name}" is declared twice`);
    names.add(v.name);
    const targets = poolTargets(v, i, problems);
    if (v.backendHost !== undefined && agentHost !== undefined && v.backendHost.toLowerCase() === agentHost.toLowerCase()) {
      problems.push(`FLINT_POOLS[${i}].backendHost: "${v.backendHost}" is this agent's own host (FLINT_AGENT_HOST); name the shared backend, e.g. "${v.backendHost}-shared", or leave backendHost out`);
    }
    const { directory, imageFormat, cluster, rbdPool, ...common } = v;
    if (v.driver === 'rbd') {
      const rbd = rbdPoolProblems(v, i, problems);
      if (rbd) pools.push({ ...common, driver: 'rbd', cluster: rbd.cluster, rbdPool: rbd.rbdPool, imageFormat: 'raw', capacityGiB: v.capacityGiB, ...targets });
      return;
    }
    if (cluster !== undefined) problems.push(`FLINT_POOLS[${i}].cluster: only rbd pools name a Ceph cluster; remove it, or set "driver": "rbd"`);
    if (rbdPool !== undefined) problems.push(`FLINT_POOLS[${i}].rbdPool: only rbd pools name a Ceph pool; remove it, or set "driver": "rbd"`);
    const format = imageFormat ?? 'qcow2';
    if (!v.thinProvisioning && format === 'qcow2') {
      problems.push(`FLINT_POOLS[${i}]: thick provisioning needs imageFormat "raw" (qcow2 images grow on write)`);
    }
    if (v.backendHost !== undefined && format === 'qcow2') {
      // A snapshot or grow of an in-use qcow2 image goes through the qemu-storage-daemon that holds
      // it, on the one agent exporting it; another member would find the image locked.
      problems.push(`FLINT_POOLS[${i}]: a file pool several agents serve (backendHost) needs imageFormat "raw"; qcow2 images in use are held by one agent's qemu`);
    }
    const dir = directory ?? join('pools', v.name);
    pools.push({ ...common, driver: 'file', imageFormat: format, directory: isAbsolute(dir) ? dir : join(dataDir, dir), capacityGiB: v.capacityGiB, ...targets });
  });
  return pools;
}

/** The checks only an rbd pool has; its cluster and Ceph pool when they are there. */
function rbdPoolProblems(v: z.output<typeof poolSchema>, i: number, problems: string[]): { cluster: RbdCluster; rbdPool: string } | null {
  const at = `FLINT_POOLS[${i}]`;
  if (v.cluster === undefined) problems.push(`${at}.cluster: an rbd pool needs its Ceph cluster, e.g. { "conf": "/etc/ceph/ceph.conf", "user": "flint" }`);
  if (v.rbdPool === undefined) problems.push(`${at}.rbdPool: an rbd pool needs the name of the Ceph pool holding its images, e.g. "volumes"`);
  if (v.directory !== undefined) problems.push(`${at}.directory: an rbd pool keeps its volumes in Ceph, not in a directory; remove it`);
  if (v.imageFormat === 'qcow2') problems.push(`${at}.imageFormat: rbd images are raw block devices; remove imageFormat or set it to "raw"`);
  if (!v.thinProvisioning) problems.push(`${at}.thinProvisioning: rbd images are always thin; remove thinProvisioning or set it to true`);
  if (v.cluster === undefined || v.rbdPool === undefined) return null;
  const { keyring, ...cluster } = v.cluster;
  return { cluster: keyring === undefined ? cluster : { ...cluster, keyring }, rbdPool: v.rbdPool };
}

/** A pool's `targets` and `defaultTarget` with their defaults; a repeated kind or a default the pool does not offer is a problem. */
function poolTargets(v: { targets?: PoolTargetKind[] | undefined; defaultTarget?: PoolTargetKind | undefined }, i: number, problems: string[]): { targets: PoolTargetKind[]; defaultTarget: PoolTargetKind } {
  const { targets, defaultTarget } = poolTargetsOf(v);
  const repeated = targets.filter((k, at) => targets.indexOf(k) !== at);
  if (repeated.length > 0) problems.push(`FLINT_POOLS[${i}].targets: "${repeated[0]}" is listed twice; list each of "iscsi", "nbd" at most once`);
  if (!targets.includes(defaultTarget)) {
    problems.push(`FLINT_POOLS[${i}].defaultTarget: "${defaultTarget}" is not among the pool's targets (${targets.map((k) => `"${k}"`).join(', ')}); add it to targets or pick one of them`);
  }
  return { targets: [...new Set(targets)], defaultTarget };
}
