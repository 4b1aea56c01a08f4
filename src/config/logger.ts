/**
 * Structured JSON logs (pino) on stderr. Secrets never go in: the fields listed in
 * `REDACT` are masked wherever they appear.
 */
import { pino, type Logger } from 'pino';
import type { FlintConfig } from './config.js';

export type { Logger };

const REDACT = [
  'token',
  'authorization',
  'password',
  'secret',
  'connectionParams',
  'headers.authorization',
  'req.headers.authorization',
  '*.token',
  '*.authorization',
  '*.password',
  '*.secret',
  '*.connectionParams',
  '*.headers.authorization',
  '*.*.token',
  '*.*.password',
  '*.*.secret',
  // CHAP credentials of attachments (issue 4) carry these names.
  'authPassword',
  '*.authPassword',
  '*.*.authPassword',
  'chap',
  '*.chap',
  '*.*.chap',
  '*.*.*.password',
  'chapSecret',
  '*.chapSecret',
  '*.*.chapSecret',
];

/** A role's logger, writing to stderr (or to `destination`, for tests). */
export function createLogger(role: string, level: FlintConfig['logLevel'] = 'info', destination: { write(s: string): void } = pino.destination(2)): Logger {
  return pino({ level, base: { role }, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}
