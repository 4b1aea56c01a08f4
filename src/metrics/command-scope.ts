/**
 * The scope of one command in the scheduler or an agent: a child logger bound to
 * `{requestId, operationId}`, the request id that what it publishes carries on, and
 * the messages it published (for its outcome metric). Code that only has the role's
 * logger (the agent core) logs through `scopedLogger` and gets the bound one.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { withRequestId } from '../bus/index.js';
import type { Logger } from '../config/logger.js';
import type { Emitted } from './labels.js';

export interface CommandScope {
  /** The role's logger bound to this command's `requestId` and `operationId`. */
  readonly log: Logger;
  /** Messages published while handling it, in order. */
  readonly emitted: Emitted[];
}

const scopes = new AsyncLocalStorage<CommandScope>();

/** Runs `fn` in a new command scope; what it publishes carries `requestId`. */
export function inCommandScope<T>(log: Logger, ids: { requestId?: string | undefined; operationId?: string | undefined }, fn: (scope: CommandScope) => Promise<T>): Promise<T> {
  const bound: Record<string, string> = {};
  if (ids.requestId) bound.requestId = ids.requestId;
  if (ids.operationId) bound.operationId = ids.operationId;
  const scope: CommandScope = { log: log.child(bound), emitted: [] };
  return scopes.run(scope, () => withRequestId(ids.requestId, () => fn(scope)));
}

/** Records a message published in the current command scope (no-op outside one). */
export function noteEmitted(kind: string, payload: unknown): void {
  scopes.getStore()?.emitted.push({ kind, payload });
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/** A logger that logs through the current command scope's logger, or `base` outside one. */
export function scopedLogger(base: Logger): Pick<Logger, Level> {
  const at = (level: Level) =>
    ((...args: unknown[]) => {
      const l = scopes.getStore()?.log ?? base;
      Reflect.apply(l[level], l, args);
    }) as Logger[Level];
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
