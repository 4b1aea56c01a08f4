#!/usr/bin/env node
// Makes sure the system tools Flint shells out to are installed.
//
// Runs before every `npm start`, `npm test` and `npm run bench`, so the happy
// path (everything present) must print nothing and cost a few stat() calls.
// When something is missing it installs it with apt-get if it can (root +
// apt), otherwise it says exactly what to install and exits 1, because a test
// run without these tools only produces confusing ENOENT failures later.
//
// Always without recommends: with them, the rows below pulled 144 packages
// (366 MB) on a fresh Debian 12, most of them gstreamer, VA-API and Vulkan
// drivers recommended by qemu-system-common's libraries; without, 34 (72 MB).
// When another apt-get or dpkg holds the package locks, it waits for them
// (up to FLINT_APT_LOCK_TIMEOUT seconds, 600 by default) and says so.
//
// Plain Node ESM without dependencies: it must work before `npm ci` finished.

import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';

/**
 * Binaries Flint needs, the Debian package that provides each, and why.
 * Add rows here (e.g. qemu-block-extra, tgt, libiscsi-bin, libnbd-bin) as
 * features start to depend on them; several rows may name the same package.
 * `probe` is the file looked up in PATH, /usr/sbin and /usr/bin.
 */
const REQUIRED = [
  { probe: 'nats-server', pkg: 'nats-server', why: 'message bus with JetStream for dev mode and tests' },
  { probe: 'qemu-img', pkg: 'qemu-utils', why: 'the file driver creates, snapshots and converts volume images' },
  { probe: 'qemu-nbd', pkg: 'qemu-utils', why: 'NBD exports of volumes (attachments, migration between agents)' },
  { probe: 'qemu-io', pkg: 'qemu-utils', why: 'reads and writes of images and exports (tests, backups)' },
  { probe: 'dpkg:qemu-block-extra', pkg: 'qemu-block-extra', why: 'qemu\'s iSCSI and NBD block drivers' },
  { probe: 'qemu-storage-daemon', pkg: 'qemu-system-common', why: 'exports qcow2 volumes as raw files for the iSCSI target' },
  { probe: 'fusermount3', pkg: 'fuse3', why: 'FUSE mounts of qemu-storage-daemon exports' },
  { probe: 'tgtd', pkg: 'tgt', why: 'the iSCSI target that exports attached volumes' },
  { probe: 'tgtadm', pkg: 'tgt', why: 'configures the iSCSI target' },
  // Only with --ceph (or FLINT_DEV_CEPH=1), --test and --bench: Ceph RBD pools (dev mode boots a
  // single-node cluster; the tests share one).
  { probe: 'ceph-mon', pkg: 'ceph-mon', why: 'the monitor of the single-node Ceph cluster of dev mode and tests', ceph: true },
  { probe: 'ceph-osd', pkg: 'ceph-osd', why: 'the OSD of the single-node Ceph cluster of dev mode and tests', ceph: true },
  { probe: 'rbd', pkg: 'ceph-common', why: 'the rbd driver manages RBD images with the rbd and ceph tools', ceph: true },
  { probe: 'dpkg:tgt-rbd', pkg: 'tgt-rbd', why: 'tgt\'s rbd backing store: iSCSI exports of RBD volumes', ceph: true },
  // Only with --test: what the test suite needs beyond running Flint.
  { probe: 'chromium', pkg: 'chromium', why: 'browser tests of GraphiQL and the dashboard (headless)', testOnly: true },
  { probe: 'iscsi-inq', pkg: 'libiscsi-bin', why: 'an independent iSCSI initiator that checks the exports', testOnly: true },
  { probe: 'nbdinfo', pkg: 'libnbd-bin', why: 'an independent NBD client that checks the exports', testOnly: true },
  // Only with --bench: baselines the benchmarks compare Flint with.
  { probe: 'restic', pkg: 'restic', why: 'baseline for the backup benchmark', benchOnly: true },
];

const forTests = process.argv.includes('--test');
const forBench = process.argv.includes('--bench');
const forCeph = forTests || forBench || process.argv.includes('--ceph') || process.env.FLINT_DEV_CEPH === '1';

// Debian keeps daemons such as nats-server in /usr/sbin, which is often not
// in a non-root user's PATH; looking there too avoids a needless install.
const EXTRA_DIRS = ['/usr/sbin', '/usr/bin'];

function searchDirs() {
  const fromPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return [...new Set([...fromPath, ...EXTRA_DIRS])];
}

/** Absolute path of an executable file named `name`, or undefined. */
function which(name) {
  for (const dir of searchDirs()) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined;
}

/** `dpkg:<package>` probes a package that installs no binary (plug-ins, libraries). */
function present(probe) {
  if (!probe.startsWith('dpkg:')) return which(probe) !== undefined;
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', probe.slice(5)], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

function wanted(r) {
  if (r.ceph) return forCeph;
  if (r.testOnly) return forTests;
  if (r.benchOnly) return forBench;
  return true;
}

function missingRequirements() {
  return REQUIRED.filter((r) => wanted(r) && !present(r.probe));
}

function unique(values) {
  return [...new Set(values)];
}

function describe(missing) {
  return missing.map((r) => `${r.probe.replace(/^dpkg:/, '')} (${r.pkg}: ${r.why})`).join('; ');
}

function printManualInstructions(missing, reason) {
  const pkgs = unique(missing.map((r) => r.pkg)).join(' ');
  const sudo = isRoot() ? '' : 'sudo ';
  console.error(`flint: missing system tools: ${describe(missing)}.`);
  console.error(`flint: ${reason}. Install them with:`);
  console.error(`  ${sudo}apt-get update && ${sudo}DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkgs}`);
  console.error(`flint: (Debian/Ubuntu package names; on other systems install the equivalents of: ${pkgs})`);
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function run(cmd, args, env) {
  // Send apt's chatter to stderr: stdout of `npm test` is parsed by .ci/run.
  const result = spawnSync(cmd, args, { stdio: ['ignore', 2, 2], env: { ...process.env, ...env } });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

const LOCK_TIMEOUT_S = Number(process.env.FLINT_APT_LOCK_TIMEOUT ?? 600);
// `apt-get update` takes the lists lock, `apt-get install` dpkg's; apt 2.6
// waits for the latter with DPkg::Lock::Timeout but not for the former.
const LISTS_LOCK = '/var/lib/apt/lists/lock';
const DPKG_LOCKS = ['/var/lib/dpkg/lock-frontend', '/var/lib/dpkg/lock'];

/** The process holding a lock on `path` (from /proc/locks), as "name (pid N)", or undefined. */
function lockHolder(path) {
  let ino;
  let locks;
  try {
    ino = statSync(path).ino;
    locks = readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of locks.split('\n')) {
    // "1: POSIX  ADVISORY  WRITE 3811 fe:00:1474578 0 EOF": pid, then major:minor:inode.
    const fields = line.trim().split(/\s+/);
    const pid = Number(fields[4]);
    const inode = Number(fields[5]?.split(':')[2]);
    if (inode !== ino || !(pid > 0) || pid === process.pid) continue;
    let name = '?';
    try {
      name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      // Gone meanwhile.
    }
    return `${name} (pid ${pid})`;
  }
  return undefined;
}

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Waits until no other process holds any of `paths`; false after LOCK_TIMEOUT_S. */
function waitForLocks(paths) {
  const deadline = Date.now() + LOCK_TIMEOUT_S * 1000;
  let told = false;
  for (;;) {
    const held = paths.map((p) => [p, lockHolder(p)]).find(([, holder]) => holder !== undefined);
    if (held === undefined) return true;
    if (Date.now() >= deadline) {
      console.error(`flint: ${held[1]} still holds ${held[0]} after ${LOCK_TIMEOUT_S} s; giving up`);
      return false;
    }
    if (!told) {
      console.error(`flint: another package manager, ${held[1]}, holds ${held[0]}: waiting up to ${LOCK_TIMEOUT_S} s for it to finish (FLINT_APT_LOCK_TIMEOUT)`);
      told = true;
    }
    sleepMs(1000);
  }
}

/** `apt-get update`, retried while someone else holds the lists lock (apt does not wait for it). */
function aptUpdate(aptGet, env) {
  const deadline = Date.now() + LOCK_TIMEOUT_S * 1000;
  for (;;) {
    if (!waitForLocks([LISTS_LOCK])) return 1;
    const status = run(aptGet, ['-q', '-o', `DPkg::Lock::Timeout=${LOCK_TIMEOUT_S}`, 'update'], env);
    if (status === 0 || lockHolder(LISTS_LOCK) === undefined || Date.now() >= deadline) return status;
  }
}

function main() {
  const missing = missingRequirements();
  if (missing.length === 0) return 0;

  const aptGet = which('apt-get');
  if (!isRoot() || aptGet === undefined) {
    printManualInstructions(missing, !isRoot() ? 'not running as root, so not installing them myself' : 'apt-get not found');
    return 1;
  }

  const pkgs = unique(missing.map((r) => r.pkg));
  console.error(`flint: installing ${pkgs.join(' ')} with apt-get (without recommends), because these are missing: ${describe(missing)}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  // One update per run: package lists in fresh containers are often empty.
  if (aptUpdate(aptGet, env) !== 0) {
    printManualInstructions(missing, '`apt-get update` failed');
    return 1;
  }
  // apt-get waits for dpkg's lock itself (printing "Waiting for cache lock"); the message first says why.
  const holder = DPKG_LOCKS.map(lockHolder).find((h) => h !== undefined);
  if (holder !== undefined) console.error(`flint: another package manager, ${holder}, is running: apt-get waits up to ${LOCK_TIMEOUT_S} s for it to finish (FLINT_APT_LOCK_TIMEOUT)`);
  const install = ['-q', '-o', `DPkg::Lock::Timeout=${LOCK_TIMEOUT_S}`, 'install', '-y', '--no-install-recommends', ...pkgs];
  if (run(aptGet, install, env) !== 0) {
    printManualInstructions(missing, '`apt-get install` failed');
    return 1;
  }

  const still = missingRequirements();
  if (still.length > 0) {
    printManualInstructions(still, 'still missing after apt-get install');
    return 1;
  }
  return 0;
}

process.exitCode = main();
