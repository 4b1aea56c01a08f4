/** Ports for test agents: never the defaults (3260, 10809…), which a real agent or a parallel test may hold. */
import { freePort } from '../../src/net/free-port.js';

/** NBD ports per test agent. @default 16 */
const NBD_RANGE = 16;

/** FLINT_ISCSI_PORT and FLINT_NBD_PORTS for one agent: a free portal port and a range starting at a free port. */
export async function agentPortsEnv(): Promise<{ FLINT_ISCSI_PORT: string; FLINT_NBD_PORTS: string }> {
  const iscsi = await freePort();
  const nbd = await freePort();
  return { FLINT_ISCSI_PORT: String(iscsi), FLINT_NBD_PORTS: `${nbd}-${Math.min(65535, nbd + NBD_RANGE - 1)}` };
}
