/** The `--wait` spinner: one self-rewriting line on stderr, only when stderr is a terminal. */
import { progressLine } from '../output.js';

/** A progress line that can be updated and removed. */
export interface Progress {
  /** Shows the latest status. */
  update(status: string): void;
  /** Erases the line and stops the timer. Safe to call twice. */
  stop(): void;
}

const QUIET: Progress = { update: () => {}, stop: () => {} };

/** Starts a spinner labelled `label` on `stream`; does nothing when the stream is not a TTY. */
export function startProgress(stream: NodeJS.WriteStream, label: string, status: string): Progress {
  if (!stream.isTTY) return QUIET;
  const started = Date.now();
  let tick = 0;
  let current = status;
  const draw = () => void stream.write(`\r\x1b[2K${progressLine(tick++, label, current, Date.now() - started)}`);
  draw();
  const timer = setInterval(draw, 100);
  let stopped = false;
  return {
    update: (s) => {
      current = s;
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      stream.write('\r\x1b[2K');
    },
  };
}
