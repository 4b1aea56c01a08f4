/**
 * One QMP command to a running qemu-storage-daemon over its monitor socket: read the
 * greeting, `qmp_capabilities`, the command, its answer (events in between are skipped).
 */
import { connect } from 'node:net';
import { DriverError } from '../drivers/index.js';

/** @default 30 s */
export const QMP_TIMEOUT_MS = 30_000;

/** A QMP command answered with `error` (its class and description). */
export class QmpError extends DriverError {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command} failed: ${desc} (${errorClass})`);
    this.name = 'QmpError';
  }
}

export function qmpExecute(socket: string, command: string, args: Record<string, unknown> = {}, timeoutMs = QMP_TIMEOUT_MS): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    const steps: Array<Record<string, unknown>> = [{ execute: 'qmp_capabilities' }, { execute: command, arguments: args }];
    let buf = '';
    let sent = 0;
    const timer = setTimeout(() => finish(new DriverError(`QMP ${command} on ${socket}: no answer in ${timeoutMs} ms`)), timeoutMs);
    const finish = (err: Error | null, value?: unknown) => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    s.setEncoding('utf8');
    s.on('error', (err) => finish(new DriverError(`QMP ${command}: cannot reach ${socket}: ${err.message}`, { cause: err })));
    s.on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line) continue;
        let msg: { QMP?: unknown; return?: unknown; error?: { class?: string; desc?: string }; event?: string };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          return finish(new DriverError(`QMP ${command}: not JSON: ${line.slice(0, 200)}`));
        }
        if (msg.event) continue;
        if (msg.error) return finish(new QmpError(sent === 1 ? 'qmp_capabilities' : command, msg.error.class ?? 'GenericError', msg.error.desc ?? 'no description'));
        if (msg.QMP === undefined && sent === steps.length) return finish(null, msg.return);
        s.write(`${JSON.stringify(steps[sent++])}\n`);
      }
    });
  });
}
