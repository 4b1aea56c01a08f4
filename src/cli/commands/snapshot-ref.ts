/** Snapshots named on the command line by id or, like `openstack volume snapshot`, by name. */
import { SnapshotsDocument, type FlintClient } from '../../client/index.js';
import { isUuid } from './args.js';
import { CliError } from './exit-codes.js';

/**
 * The id of the snapshot `ref` names: `ref` itself when it is a UUID, else the id of
 * the one visible snapshot with that name.
 * @throws CliError `NOT_FOUND` when no snapshot has the name, `BAD_USER_INPUT` when several do.
 */
export async function resolveSnapshotId(client: FlintClient, ref: string): Promise<string> {
  if (isUuid(ref)) return ref;
  const { snapshots } = await client.request(SnapshotsDocument, { first: 2, filter: { name: ref } });
  const [first, second] = snapshots.edges;
  if (!first) throw new CliError('NOT_FOUND', `No snapshot has the id or name "${ref}".`);
  if (second) throw new CliError('BAD_USER_INPUT', `${snapshots.totalCount} snapshots are named "${ref}"; give the id instead.`);
  return first.node.id;
}
