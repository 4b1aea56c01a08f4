/**
 * The page's state and how each piece of news changes it. Events and the initial query
 * race (both follow the same socket, and the query runs again after each reconnect), so
 * every merge keeps the newest: volumes by version, operations by stage, and ids that an
 * event touched while a snapshot was loading are not undone by that snapshot.
 */
import { MESSAGES_SHOWN, type Operation, type Pool, type QuotaSet, type Service, type UserMessage, type Viewer, type Volume, type VolumeEvent } from './api';
import type { Phase } from './connection';

export interface DashboardState {
  phase: Phase;
  phaseDetail: string | null;
  viewer: Viewer | null;
  /** The project's limits and usage, read with the snapshot and again after work ends. */
  quota: QuotaSet | null;
  /** Visible volumes by id. */
  volumes: Map<string, Volume>;
  /** Deleted volumes (id → version), so a late snapshot does not bring them back. */
  gone: Map<string, number>;
  pools: Pool[] | null;
  poolsError: string | null;
  services: Service[] | null;
  servicesError: string | null;
  /** PENDING and RUNNING operations by id. */
  operations: Map<string, Operation>;
  /** Operations seen finished, so a late snapshot does not list them as running again. */
  finished: Set<string>;
  /** Newest first. */
  messages: UserMessage[];
  /** Ids changed by events since the current snapshot was requested; null when none is loading. */
  touched: Set<string> | null;
  error: string | null;
}

export type Action =
  | { type: 'phase'; phase: Phase; detail?: string | undefined }
  | { type: 'snapshot-begin' }
  | { type: 'snapshot'; viewer: Viewer; volumes: Volume[]; operations: Operation[]; messages: UserMessage[] }
  | { type: 'volume'; event: VolumeEvent }
  | { type: 'quota'; quota: QuotaSet }
  | { type: 'pools'; pools: Pool[] }
  | { type: 'services'; services: Service[] }
  | { type: 'feed-error'; feed: 'pools' | 'services'; message: string }
  | { type: 'operation'; operation: Operation }
  | { type: 'message'; message: UserMessage }
  | { type: 'error'; message: string | null };

/** Tombstones kept per kind; older ones are forgotten. */
const REMEMBER = 1000;

const STAGE: Record<Operation['status'], number> = { PENDING: 0, RUNNING: 1, SUCCEEDED: 2, FAILED: 2 };

export function initialState(): DashboardState {
  return {
    phase: 'connecting',
    phaseDetail: null,
    viewer: null,
    quota: null,
    volumes: new Map(),
    gone: new Map(),
    pools: null,
    poolsError: null,
    services: null,
    servicesError: null,
    operations: new Map(),
    finished: new Set(),
    messages: [],
    touched: null,
    error: null,
  };
}

export function reduce(s: DashboardState, a: Action): DashboardState {
  switch (a.type) {
    case 'phase':
      return { ...s, phase: a.phase, phaseDetail: a.detail ?? null };
    case 'snapshot-begin':
      return { ...s, touched: new Set() };
    case 'snapshot':
      return applySnapshot(s, a);
    case 'volume':
      return applyVolume(s, a.event);
    case 'quota':
      return { ...s, quota: a.quota };
    case 'pools':
      return { ...s, pools: a.pools, poolsError: null };
    case 'services':
      return { ...s, services: a.services, servicesError: null };
    case 'feed-error':
      return a.feed === 'pools' ? { ...s, poolsError: a.message } : { ...s, servicesError: a.message };
    case 'operation':
      return applyOperation(s, a.operation);
    case 'message':
      return { ...s, messages: mergeMessages([a.message], s.messages) };
    case 'error':
      return { ...s, error: a.message };
  }
}

function touch(s: DashboardState, id: string): Set<string> | null {
  if (!s.touched) return null;
  const t = new Set(s.touched);
  t.add(id);
  return t;
}

function applyVolume(s: DashboardState, ev: VolumeEvent): DashboardState {
  const v = ev.volume;
  if (s.gone.has(v.id)) return s;
  const current = s.volumes.get(v.id);
  if (ev.type !== 'DELETED' && current && current.version >= v.version) return s;
  const volumes = new Map(s.volumes);
  let gone = s.gone;
  if (ev.type === 'DELETED' || v.status === 'DELETED') {
    volumes.delete(v.id);
    gone = remember(new Map(s.gone), v.id, v.version);
  } else {
    volumes.set(v.id, v);
  }
  return { ...s, volumes, gone, touched: touch(s, v.id) };
}

function applyOperation(s: DashboardState, op: Operation): DashboardState {
  if (s.finished.has(op.id)) return s;
  const operations = new Map(s.operations);
  let finished = s.finished;
  if (STAGE[op.status] === 2) {
    operations.delete(op.id);
    finished = new Set(s.finished);
    finished.add(op.id);
    if (finished.size > REMEMBER) finished.delete(finished.values().next().value as string);
  } else {
    const current = s.operations.get(op.id);
    if (current && STAGE[current.status] > STAGE[op.status]) return s;
    operations.set(op.id, op);
  }
  return { ...s, operations, finished, touched: touch(s, op.id) };
}

function applySnapshot(s: DashboardState, a: Extract<Action, { type: 'snapshot' }>): DashboardState {
  const touched = s.touched ?? new Set<string>();
  const volumes = new Map<string, Volume>();
  for (const v of a.volumes) {
    if (s.gone.has(v.id)) continue;
    const current = s.volumes.get(v.id);
    volumes.set(v.id, current && current.version > v.version ? current : v);
  }
  for (const [id, v] of s.volumes) if (!volumes.has(id) && touched.has(id)) volumes.set(id, v);

  const operations = new Map<string, Operation>();
  for (const op of a.operations) {
    if (s.finished.has(op.id)) continue;
    const current = s.operations.get(op.id);
    operations.set(op.id, current && STAGE[current.status] > STAGE[op.status] ? current : op);
  }
  for (const [id, op] of s.operations) if (!operations.has(id) && touched.has(id)) operations.set(id, op);

  return { ...s, viewer: a.viewer, quota: a.viewer.quotaSet ?? s.quota, volumes, operations, messages: mergeMessages(a.messages, s.messages), touched: null, error: null };
}

function mergeMessages(incoming: UserMessage[], current: UserMessage[]): UserMessage[] {
  const byId = new Map<string, UserMessage>();
  for (const m of [...incoming, ...current]) if (!byId.has(m.id)) byId.set(m.id, m);
  return [...byId.values()].sort((x, y) => y.createdAt.localeCompare(x.createdAt)).slice(0, MESSAGES_SHOWN);
}

function remember(m: Map<string, number>, id: string, version: number): Map<string, number> {
  m.set(id, version);
  if (m.size > REMEMBER) m.delete(m.keys().next().value as string);
  return m;
}

/** Volumes for the table: newest first. */
export function volumeRows(s: DashboardState): Volume[] {
  return [...s.volumes.values()].sort((x, y) => y.createdAt.localeCompare(x.createdAt) || x.name.localeCompare(y.name));
}

/** Running operations for the table: oldest first (the longest-running on top). */
export function operationRows(s: DashboardState): Operation[] {
  return [...s.operations.values()].sort((x, y) => x.createdAt.localeCompare(y.createdAt));
}
