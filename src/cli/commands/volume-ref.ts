/** Volumes named on the command line by id or, like `openstack volume`, by name. */
import { VolumesDocument, type FlintClient } from '../../client/index.js';
import { isUuid } from './args.js';
import { CliError } from './exit-codes.js';

/**
 * The id of the volume `ref` names: `ref` itself when it is a UUID, else the id of
 * the one visible volume with that name.
 * @throws CliError `NOT_FOUND` when no volume has the name, `BAD_USER_INPUT` when several do.
 */
export async function resolveVolumeId(client: FlintClient, ref: string): Promise<string> {
  if (isUuid(ref)) return ref;
  const { volumes } = await client.request(VolumesDocument, { first: 2, filter: { name: ref } });
  const [first, second] = volumes.edges;
  if (!first) throw new CliError('NOT_FOUND', `No volume has the id or name "${ref}".`);
  if (second) throw new CliError('BAD_USER_INPUT', `${volumes.totalCount} volumes are named "${ref}"; give the id instead.`);
  return first.node.id;
}
