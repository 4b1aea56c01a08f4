/** CHAP credentials of attachments (issue 4) never reach a log line, however they are nested. */
import test from 'ava';
import { createLogger } from '../../../src/config/logger.js';

test('CHAP secrets in commands, rows and replies are masked', (t) => {
  const lines: string[] = [];
  const log = createLogger('test', 'info', { write: (s: string) => lines.push(s) });
  log.info({ chap: { username: 'u', password: 'top-AAA' } }, 'top');
  log.info({ payload: { chap: { username: 'u', password: 'cmd-BBB' } } }, 'command');
  log.info({ env: { payload: { chap: { password: 'env-CCC' } } } }, 'envelope');
  log.info({ attachment: { chapSecret: 'row-DDD' } }, 'row');
  log.info({ reply: { attachments: { chapSecret: 'deep-EEE' } } }, 'reply');
  const all = lines.join('\n');
  for (const s of ['top-AAA', 'cmd-BBB', 'env-CCC', 'row-DDD', 'deep-EEE']) t.false(all.includes(s), s);
  t.is(lines.length, 5);
});
