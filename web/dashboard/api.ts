/**
 * What the dashboard asks the gateway, and the shapes it gets back (a subset of
 * schema/schema.graphql). One initial query, then only subscriptions.
 */

export type VolumeStatus = string;
export type OperationStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
export type State = 'UP' | 'DOWN';

export interface Viewer {
  projectName: string;
  role: 'ADMIN' | 'MEMBER' | 'READER';
  quotaSet?: QuotaSet;
}

export interface QuotaUsage {
  /** -1: no limit. */
  limit: number;
  inUse: number;
  reserved: number;
}

/** The caller's project's limits and usage (`viewer.quotaSet`). */
export interface QuotaSet {
  volumes: QuotaUsage;
  gigabytes: QuotaUsage;
  snapshots: QuotaUsage;
  backups: QuotaUsage;
  backupGigabytes: QuotaUsage;
}

export interface Volume {
  id: string;
  name: string;
  sizeGiB: number;
  status: VolumeStatus;
  availabilityZone: string;
  version: number;
  createdAt: string;
  /** Admins only (null for others). */
  host: string | null;
  pool: string | null;
}

export interface VolumeEvent {
  type: 'CREATED' | 'UPDATED' | 'DELETED';
  volume: Volume;
}

export interface Pool {
  id: string;
  name: string;
  host: string;
  availabilityZone: string;
  totalCapacityGiB: number;
  freeCapacityGiB: number;
  allocatedCapacityGiB: number;
  maxOverSubscriptionRatio: number;
  volumeCount: number;
  state: State;
  updatedAt: string;
}

export interface Service {
  role: string;
  host: string;
  zone: string;
  state: State;
  lastHeartbeatAt: string;
  version: string;
}

export interface Operation {
  id: string;
  kind: string;
  status: OperationStatus;
  resourceType: string;
  resourceId: string;
  createdAt: string;
  finishedAt: string | null;
  error: { code: string; message: string } | null;
  /**
   * Percent done, once the API reports it (backups will); ask for it in OPERATION
   * below then. Until then running operations show an indeterminate bar.
   */
  progress?: number | null;
}

export interface UserMessage {
  id: string;
  resourceType: string;
  resourceId: string;
  event: string;
  message: string;
  level: string;
  createdAt: string;
}

interface Page<T> {
  edges: Array<{ node: T }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const VOLUME = 'id name sizeGiB status availabilityZone version createdAt host pool';
const OPERATION = 'id kind status resourceType resourceId createdAt finishedAt error { code message }';
const MESSAGE = 'id resourceType resourceId event message level createdAt';
const USAGE = '{ limit inUse reserved }';
const QUOTA = `quotaSet { volumes ${USAGE} gigabytes ${USAGE} snapshots ${USAGE} backups ${USAGE} backupGigabytes ${USAGE} }`;

/** Volumes per page of the initial load (the API's largest page). */
export const VOLUME_PAGE = 500;
/** Messages kept on screen. */
export const MESSAGES_SHOWN = 20;

export const SNAPSHOT = `query DashboardSnapshot {
  viewer { projectName role ${QUOTA} }
  volumes(first: ${VOLUME_PAGE}) { edges { node { ${VOLUME} } } pageInfo { hasNextPage endCursor } }
  operations(first: 100, filter: { status: [PENDING, RUNNING] }) { edges { node { ${OPERATION} } } pageInfo { hasNextPage endCursor } }
  messages(first: ${MESSAGES_SHOWN}) { edges { node { ${MESSAGE} } } pageInfo { hasNextPage endCursor } }
}`;
export interface SnapshotData {
  viewer: Viewer;
  volumes: Page<Volume>;
  operations: Page<Operation>;
  messages: Page<UserMessage>;
}

/** The quota again, after work ended (usage moves with every create, extend and delete). */
export const QUOTA_QUERY = `query DashboardQuota { viewer { ${QUOTA} } }`;
export interface QuotaData {
  viewer: { quotaSet: QuotaSet };
}

/** Further volumes when a project has more than one page of them. */
export const MORE_VOLUMES = `query DashboardMoreVolumes($after: String!) {
  volumes(first: ${VOLUME_PAGE}, after: $after) { edges { node { ${VOLUME} } } pageInfo { hasNextPage endCursor } }
}`;
export interface MoreVolumesData {
  volumes: Page<Volume>;
}

export const VOLUME_EVENTS = `subscription DashboardVolumes { volumeEvents { type volume { ${VOLUME} } } }`;
export const POOLS_CHANGED = `subscription DashboardPools {
  poolsChanged { id name host availabilityZone totalCapacityGiB freeCapacityGiB allocatedCapacityGiB maxOverSubscriptionRatio volumeCount state updatedAt }
}`;
export const SERVICES_CHANGED = `subscription DashboardServices { servicesChanged { role host zone state lastHeartbeatAt version } }`;
export const OPERATION_EVENTS = `subscription DashboardOperations { operationEvents { ${OPERATION} } }`;
export const MESSAGE_ADDED = `subscription DashboardMessages { messageAdded { ${MESSAGE} } }`;

export function nodes<T>(page: Page<T>): T[] {
  return page.edges.map((e) => e.node);
}
