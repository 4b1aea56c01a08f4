/** Projects named on the command line by id or by name (admins). */
import { ApiTokensDocument, type FlintClient } from '../../client/index.js';
import { isUuid } from './args.js';
import { CliError } from './exit-codes.js';

/**
 * The id of the project `ref` names: an id (a UUID) as it is, a name through the
 * admin's token list (Flint keeps no other list of projects); undefined for undefined.
 * @throws CliError `NOT_FOUND` when no token of a project of that name is known.
 */
export async function projectId(client: FlintClient, ref: string | undefined): Promise<string | undefined> {
  if (ref === undefined || isUuid(ref)) return ref;
  const { apiTokens } = await client.request(ApiTokensDocument, { first: 1, filter: { project: ref, includeRevoked: true } });
  const id = apiTokens.edges[0]?.node.projectId;
  if (!id) throw new CliError('NOT_FOUND', `No project named ${ref} (none of its tokens is known); give the project's id, or check the name with \`flint token list\`.`);
  return id;
}
