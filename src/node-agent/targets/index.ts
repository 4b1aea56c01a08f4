/**
 * Export targets: the public face of `src/node-agent/targets/`.
 */
import type { Target, TargetKind, TargetOptions } from './target.js';
import { IscsiTarget } from './iscsi-target.js';
import { NbdTarget } from './nbd-target.js';

export * from './target.js';
export { IscsiTarget } from './iscsi-target.js';
export { NbdTarget } from './nbd-target.js';
export { loadNbdTls, NBD_TLS_FILES, type NbdTls } from './nbd-tls.js';

/** Builds one target of each kind (not yet set up: call `setup()` on those you use). */
export function createTargets(opts: TargetOptions): Map<TargetKind, Target> {
  return new Map<TargetKind, Target>([
    ['iscsi', new IscsiTarget(opts)],
    ['nbd', new NbdTarget(opts)],
  ]);
}
