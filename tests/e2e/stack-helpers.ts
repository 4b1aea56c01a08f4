/**
 * What the `flint plan|apply|import` end-to-end suites share: a cluster of one agent and a
 * member token, started before the file's tests and stopped after; the real CLI run in a
 * directory of its own; stack files written there; the project's operation count (to see
 * that an apply sent nothing).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestFn } from 'ava';
import { OperationsDocument, type FlintClient } from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { runFlint, type Run } from '../helpers/flint-cli.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';

export interface StackCtx {
  cluster: Cluster;
  member: string;
  sdk: FlintClient;
  cwd: TempDir;
}

/** Starts the cluster (agent `host`, one qcow2 pool of 40 GiB) and a member of `team` before the tests of `test`; stops it after. */
export function stackSuite(test: TestFn<StackCtx>, opts: { host: string; pool: string; team: string }): void {
  test.before(async (t) => {
    const cluster = await startCluster({ database: 'sqlite', agents: [{ host: opts.host, pools: [{ name: opts.pool, imageFormat: 'qcow2', capacityGiB: 40 }] }] });
    const member = await cluster.token(opts.team, 'member');
    t.context = { cluster, member, sdk: cluster.client(member), cwd: await tempDir(`flint-${opts.team}-`) };
  });
  test.after.always(async (t) => {
    await t.context.cluster?.stop();
    await t.context.cwd?.cleanup();
  });
}

/** `flint …args` as the member, in the suite's directory. */
export function flint(t: { context: StackCtx }, args: string[]): Promise<Run> {
  return runFlint({ cwd: t.context.cwd.path, url: t.context.cluster.url, token: t.context.member }, args);
}

/** Writes `text` as stack file `name` in the CLI's directory; returns its name. */
export function stackFile(t: { context: StackCtx }, name: string, text: string): string {
  writeFileSync(join(t.context.cwd.path, name), text);
  return name;
}

/** How many operations the member's project has recorded. */
export async function operationCount(t: { context: StackCtx }): Promise<number> {
  return (await t.context.sdk.request(OperationsDocument, { first: 1 })).operations.totalCount;
}
