/**
 * A JetStream request on a busy or restarting server can time out or find no responder;
 * asked again a moment later it works. `askAgain` retries such failures a few times (bounded,
 * so a stop during a start never waits for NATS for long) and lets any other failure through
 * at once.
 */
import { worthAskingAgain } from './connection.js';

export interface AskAgainOptions {
  /** Tries in all. @default 4 */
  attempts?: number;
  /** Pause before the second try; doubled for each one after. @default 500 */
  delayMs?: number;
}

export async function askAgain<T>(work: () => Promise<T>, opts: AskAgainOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 4;
  let delay = opts.delayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= attempts || !worthAskingAgain(err)) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay *= 2;
    }
  }
}
