/**
 * Tests of other features run without quota limits (Cinder's defaults of 10 volumes and 10
 * snapshots would refuse their setups); the quota tests set each project's limits themselves.
 */
export const UNLIMITED_QUOTAS = JSON.stringify({ volumes: -1, gigabytes: -1, snapshots: -1, backups: -1, backupGigabytes: -1 });
