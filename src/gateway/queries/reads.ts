/**
 * The read side of the API: every list query and `node(id)`. Each list checks who asks (a
 * token; the audit: an admin), scopes rows to the caller's project unless it is an admin,
 * checks the page request, and reads one keyset page from its store.
 */
import type { ProgressBoard } from '../live/progress-board.js';
import type { OperationProgress, ProgressKeyed } from '../../domain/operation-progress.js';
import {
  findAttachment,
  findBackup,
  findOperation,
  findSnapshot,
  findVolume,
  findVolumeType,
  findVolumeView,
  feedPosition,
  listAttachments,
  listAudits,
  listBackups,
  listMessages,
  listOperations,
  listSnapshots,
  listVolumes,
  mayUseVolumeType,
  type Db,
  type Page,
  type PageRequest,
  type Principal,
  type SnapshotListFilter,
  type VolumeListFilter,
} from '../../db/index.js';
import type { EntityManager } from '@mikro-orm/knex';
import type { VolumeView } from '../../bus/contract/index.js';
import { canSee, checkMetadata, projectScope, requireAdmin, requirePrincipal, type Problems } from '../../domain/index.js';
import type { FoundNode, ListRequest, ReadsPort, UncheckedMetadata } from '../../resolvers/ports/index.js';
import { pageRequest } from './page.js';

/** What the status audit records changes of. */
const AUDITED = ['volume', 'snapshot', 'quota_set'];

type List<K extends keyof ReadsPort> = ReadsPort[K];

/** What every project-scoped list takes: the caller's project (none for admins), the checked page, the filter (`checkFilter` adds its problems). */
function scoped<F>(p: Principal | null, { filter, ...page }: ListRequest<F>, checkFilter?: (problems: Problems) => void) {
  return { projectId: projectScope(requirePrincipal(p)), ...pageRequest(page, checkFilter), filter: filter ?? ({} as F) };
}

/**
 * A list request whose `filter.metadata` (any JSON object as sent) is checked as metadata is,
 * its problems reported with the page's (BAD_USER_INPUT); once checked it is what the store takes.
 */
function metadataChecked<F extends { metadata?: Record<string, string> }>(r: ListRequest<UncheckedMetadata<F>>): [ListRequest<F>, (problems: Problems) => void] {
  return [r as ListRequest<F>, (problems) => void checkMetadata(problems, r.filter?.metadata, 'filter.metadata')];
}

/**
 * A list in the change feed: the project's seq, then the page, in that order. A change
 * committed between the two reads has a larger seq, so a subscription from that seq replays
 * it (it may also show on the page: the client keeps the higher version); read the other way
 * round, a change could be on neither. The seq is the caller's project's, or for an admin the
 * one `filter.projectId` names; none for a list over every project.
 */
async function withChangeSeq<F, T>(
  db: Db,
  p: Principal | null,
  r: ListRequest<F>,
  list: (em: EntityManager, req: PageRequest & { projectId: string | null; filter: F }) => Promise<Page<T>>,
  checkFilter?: (problems: Problems) => void,
): Promise<Page<T>> {
  const req = scoped(p, r, checkFilter);
  const em = db.fork();
  const project = req.projectId ?? (req.filter as { projectId?: string | null }).projectId ?? null;
  const changeSeq = project === null ? null : (await feedPosition(em, project)).seq;
  return { ...(await list(em, req)), changeSeq };
}

export class Reads implements ReadsPort {
  /** @param progress the latest progress of work in progress (Operation.progress); none: no operation shows progress. */
  constructor(
    private readonly db: Db,
    private readonly progress?: ProgressBoard,
  ) {}

  progressOf(op: ProgressKeyed): OperationProgress | null {
    return this.progress?.of(op) ?? null;
  }

  /** As `visibleVolume` (not DELETED, the caller may see it), read without the ORM: `volume(id)` is the hottest read. */
  async volume(principal: Principal | null, id: string): Promise<VolumeView | null> {
    const p = requirePrincipal(principal);
    const v = await findVolumeView(this.db, id);
    return v && v.status !== 'deleted' && canSee(p, v.projectId) ? v : null;
  }

  volumes: List<'volumes'> = async (p, r) => {
    const [request, checkFilter] = metadataChecked<VolumeListFilter>(r);
    return withChangeSeq(this.db, p, request, (_, req) => listVolumes(this.db, req), checkFilter);
  };
  snapshots: List<'snapshots'> = async (p, r) => {
    const [request, checkFilter] = metadataChecked<SnapshotListFilter>(r);
    return withChangeSeq(this.db, p, request, listSnapshots, checkFilter);
  };
  backups: List<'backups'> = async (p, r) => withChangeSeq(this.db, p, r, listBackups);
  attachments: List<'attachments'> = async (p, r) => withChangeSeq(this.db, p, r, listAttachments);
  operations: List<'operations'> = async (p, r) => listOperations(this.db.fork(), scoped(p, r));
  messages: List<'messages'> = async (p, r) => listMessages(this.db.fork(), scoped(p, r));

  audits: List<'audits'> = async (p, { filter, ...args }) => {
    requireAdmin(p, 'Reading the status audit');
    const page = pageRequest(args, (problems) => {
      const type = filter?.resourceType;
      if (type !== undefined && !AUDITED.includes(type)) problems.add(`filter.resourceType must be volume, snapshot or quota_set (got ${JSON.stringify(type)})`);
    });
    return listAudits(this.db.fork(), { ...page, filter: filter ?? {} });
  };

  async node(principal: Principal | null, id: string): Promise<FoundNode | null> {
    const p = requirePrincipal(principal);
    const em = this.db.fork();
    const v = await findVolume(em, id);
    if (v) return v.status !== 'deleted' && canSee(p, v.projectId) ? { kind: 'volume', row: v } : null;
    const s = await findSnapshot(em, id);
    if (s) return s.status !== 'deleted' && canSee(p, s.projectId) ? { kind: 'snapshot', row: s } : null;
    const b = await findBackup(em, id);
    if (b) return b.status !== 'deleted' && canSee(p, b.projectId) ? { kind: 'backup', row: b } : null;
    // As `attachment(id)`: DETACHED ones too; another project's is null.
    const a = await findAttachment(em, id);
    if (a) return canSee(p, a.projectId) ? { kind: 'attachment', row: a } : null;
    const op = await findOperation(em, id);
    if (op) return canSee(p, op.projectId) ? { kind: 'operation', row: op } : null;
    const t = await findVolumeType(em, id);
    return t && (await mayUseVolumeType(em, p, t)) ? { kind: 'volumeType', row: t } : null;
  }
}
