import test from 'ava';
import { createLogger } from '../../../src/config/logger.js';

function capture(): { lines: string[]; write(s: string): void } {
  const lines: string[] = [];
  return { lines, write: (s: string) => lines.push(s) };
}

test('secrets are masked wherever a log line carries them, one or two levels deep', (t) => {
  const out = capture();
  const log = createLogger('test', 'info', out);
  log.info({ token: 'flint_AAA', authorization: 'Bearer flint_BBB' }, 'top level');
  log.info({ req: { headers: { authorization: 'Bearer flint_CCC' } } }, 'request');
  log.info({ ctx: { connectionParams: { authorization: 'Bearer flint_DDD' } } }, 'ws');
  log.info({ attachment: { data: { authPassword: 'chap-EEE', password: 'pw-FFF' } } }, 'chap');
  const all = out.lines.join('\n');
  for (const secret of ['flint_AAA', 'flint_BBB', 'flint_CCC', 'flint_DDD', 'chap-EEE', 'pw-FFF']) t.false(all.includes(secret), secret);
  t.is(out.lines.length, 4);
  t.true(all.includes('[redacted]'));
});
