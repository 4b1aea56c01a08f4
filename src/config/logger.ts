/**
 * Structured JSON logs (pino) on stderr. Secrets never go in: the fields listed in
 * `REDACT` are masked wherever they appear.
 */
import { pino, type Logger } from 'pino';
import type { FlintConfig } from './config.js';

export type { Logger };

const REDACT = ['token', 'authorization', 'password', 'secret', 'req.headers.authorization', '*.token', '*.password', '*.secret'];

export function createLogger(role: string, level: FlintConfig['logLevel'] = 'info'): Logger {
  return pino({ level, base: { role }, redact: { paths: REDACT, censor: '[redacted]' } }, pino.destination(2));
}
