/**
 * Picks the repository a spec names (`dir:/path` or `nats:<bucket>`) and opens it. The
 * storage kinds are loaded only when asked for, so an agent without a NATS repository never
 * loads the object store client.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { isAbsolute, join } from 'node:path';
import { DriverError } from '../drivers/index.js';
import type { RepoStore } from './repository.js';

/** A NATS object store bucket name: letters, digits, '-' and '_'. */
const BUCKET_RE = /^[A-Za-z0-9_-]{1,64}$/;

export async function openRepositoryImpl(spec: string, deps: { nats?: NatsConnection; dataDir: string; replicas?: number }): Promise<RepoStore> {
  if (spec.startsWith('dir:')) {
    const raw = spec.slice(4);
    if (raw === '') throw new DriverError(`backup repository "${spec}" names no directory; use dir:/absolute/path`, { retryable: false });
    const path = isAbsolute(raw) ? raw : join(deps.dataDir, raw);
    const { DirRepository } = await import('./dir-repository.js');
    return DirRepository.open(spec, path);
  }
  if (spec.startsWith('nats:')) {
    const bucket = spec.slice(5);
    if (!BUCKET_RE.test(bucket)) {
      throw new DriverError(`backup repository "${spec}": "${bucket}" is not a NATS object store bucket name (letters, digits, '-', '_')`, { retryable: false });
    }
    if (!deps.nats) throw new DriverError(`backup repository "${spec}" needs a NATS connection; pass deps.nats`, { retryable: false });
    const { NatsRepository } = await import('./nats-repository.js');
    return NatsRepository.open(spec, deps.nats, bucket, deps.replicas ?? 1);
  }
  throw new DriverError(`backup repository "${spec}" has an unknown kind; use dir:/path or nats:<bucket>`, { retryable: false });
}
