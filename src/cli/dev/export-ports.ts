/**
 * Dev mode's export ports: the agent's iSCSI portal and NBD range on the defaults (3260,
 * 10809-10899) when they are free, else on free ones, so a second `flint dev` on the same
 * machine can attach volumes too. Ports the user set (FLINT_ISCSI_PORT, FLINT_NBD_PORTS)
 * are never moved: a taken one is an error that names the variable.
 *
 * FLINT_DEV_ISCSI_PORT and FLINT_DEV_NBD_PORTS (internal, for tests) replace the defaults
 * that dev mode prefers and moves away from; tests set them so they never touch 3260/10809.
 *
 * The choice is pure (`devExportPorts`, given which ports are free); `isFree` and `freePort`
 * are the I/O.
 */

export const DEV_ISCSI_PORT = 3260;
export const DEV_NBD_PORTS: readonly [number, number] = [10809, 10899];
/** Random starts tried for a free NBD range before giving up. @default 50 */
const RANGE_TRIES = 50;

export interface PreferredExportPorts {
  iscsiPort: number;
  nbdPorts: readonly [number, number];
  /** The user set FLINT_ISCSI_PORT: use it or fail, never move it. */
  iscsiExplicit: boolean;
  /** The user set FLINT_NBD_PORTS: use it or fail, never move it. */
  nbdExplicit: boolean;
}

export interface ExportPortsIo {
  /** Whether nothing listens on the port now. */
  isFree(port: number): Promise<boolean>;
  /** Some port that was free a moment ago (the start of a candidate range). */
  freePort(): Promise<number>;
}

export interface ChosenExportPorts {
  iscsiPort: number;
  nbdPorts: [number, number];
  /** One line per port that was moved or is partly taken, for the log. */
  notes: string[];
}

export class ExportPortsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportPortsError';
  }
}

const rangeText = ([lo, hi]: readonly [number, number]) => `${lo}-${hi}`;

async function freeIn([lo, hi]: readonly [number, number], io: ExportPortsIo, except: number): Promise<number[]> {
  const free: number[] = [];
  for (let p = lo; p <= hi; p++) if (p !== except && (await io.isFree(p))) free.push(p);
  return free;
}

/**
 * The ports dev mode's agent serves exports on. Preferred ports that are free are kept;
 * a taken preferred iSCSI port becomes a free one, a preferred NBD range with any port taken
 * becomes a free range of the same width. Explicit ones are kept as they are: a taken iSCSI
 * port, or an NBD range without one free port, throws ExportPortsError naming the variable.
 */
export async function devExportPorts(preferred: PreferredExportPorts, io: ExportPortsIo): Promise<ChosenExportPorts> {
  const notes: string[] = [];
  let iscsiPort = preferred.iscsiPort;
  if (!(await io.isFree(iscsiPort))) {
    if (preferred.iscsiExplicit) {
      throw new ExportPortsError(
        `FLINT_ISCSI_PORT=${iscsiPort}: the port is taken by another process (another flint dev, or a tgtd); free it, set another port, or unset FLINT_ISCSI_PORT and dev mode picks a free one`,
      );
    }
    const nbd = preferred.nbdPorts;
    iscsiPort = await pick(io, (p) => p < nbd[0] || p > nbd[1], `no free port for the iSCSI portal (${iscsiPort} is taken)`);
    notes.push(`iSCSI port ${preferred.iscsiPort} is taken; the iSCSI portal gets ${iscsiPort}`);
  }

  const width = preferred.nbdPorts[1] - preferred.nbdPorts[0];
  let nbdPorts: [number, number] = [preferred.nbdPorts[0], preferred.nbdPorts[1]];
  const free = await freeIn(nbdPorts, io, iscsiPort);
  if (preferred.nbdExplicit) {
    if (free.length === 0) {
      throw new ExportPortsError(`FLINT_NBD_PORTS=${rangeText(nbdPorts)}: every port in it is taken; free some, set another range, or unset FLINT_NBD_PORTS and dev mode picks a free one`);
    }
    if (free.length <= width) notes.push(`${width + 1 - free.length} of the ports in FLINT_NBD_PORTS=${rangeText(nbdPorts)} are taken; NBD exports use the ${free.length} free ones`);
  } else if (free.length <= width) {
    nbdPorts = await freeRange(width, iscsiPort, io, rangeText(nbdPorts));
    notes.push(`NBD ports ${rangeText(preferred.nbdPorts)} are partly taken; NBD exports get ${rangeText(nbdPorts)}`);
  }
  return { iscsiPort, nbdPorts, notes };
}

/** A free port that `ok` accepts. */
async function pick(io: ExportPortsIo, ok: (port: number) => boolean, failure: string): Promise<number> {
  for (let i = 0; i < RANGE_TRIES; i++) {
    const port = await io.freePort();
    if (ok(port) && (await io.isFree(port))) return port;
  }
  throw new ExportPortsError(failure);
}

/** `width + 1` consecutive free ports, not including `avoid`. */
async function freeRange(width: number, avoid: number, io: ExportPortsIo, preferred: string): Promise<[number, number]> {
  for (let i = 0; i < RANGE_TRIES; i++) {
    const lo = await io.freePort();
    const hi = lo + width;
    if (hi > 65535 || (avoid >= lo && avoid <= hi)) continue;
    if ((await freeIn([lo, hi], io, avoid)).length === width + 1) return [lo, hi];
  }
  throw new ExportPortsError(`no ${width + 1} consecutive free ports for NBD exports (${preferred} is partly taken)`);
}

/** Dev mode's preferred ports from the environment and the loaded config (which holds FLINT_ISCSI_PORT/FLINT_NBD_PORTS or their defaults). */
export function preferredExportPorts(env: NodeJS.ProcessEnv, config: { iscsiPort: number; nbdPorts: readonly [number, number] }): PreferredExportPorts {
  // Set in the environment, or in FLINT_CONFIG_FILE (then the value differs from the default).
  const iscsiExplicit = Boolean(env.FLINT_ISCSI_PORT) || config.iscsiPort !== DEV_ISCSI_PORT;
  const nbdExplicit = Boolean(env.FLINT_NBD_PORTS) || config.nbdPorts[0] !== DEV_NBD_PORTS[0] || config.nbdPorts[1] !== DEV_NBD_PORTS[1];
  const devIscsi = Number(env.FLINT_DEV_ISCSI_PORT);
  const devNbd = /^(\d{1,5})-(\d{1,5})$/.exec(env.FLINT_DEV_NBD_PORTS ?? '');
  return {
    iscsiPort: iscsiExplicit || !(devIscsi > 0 && devIscsi <= 65535) ? config.iscsiPort : devIscsi,
    nbdPorts: nbdExplicit || !devNbd || Number(devNbd[1]) > Number(devNbd[2]) ? config.nbdPorts : [Number(devNbd[1]), Number(devNbd[2])],
    iscsiExplicit,
    nbdExplicit,
  };
}
