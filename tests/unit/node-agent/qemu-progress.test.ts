/** Reading `qemu-img -p` output (src/node-agent/drivers/qemu-img.ts): the last percentage of a chunk. */
import test from 'ava';
import { parseQemuProgress } from '../../../src/node-agent/drivers/qemu-img.js';

test('the last percentage of a chunk, with qemu\'s carriage returns', (t) => {
  t.is(parseQemuProgress('    (0.00/100%)\r    (1.01/100%)\r    (42.17/100%)\r'), 42.17);
  t.is(parseQemuProgress('    (100.00/100%)\n'), 100);
  t.is(parseQemuProgress('    (7/100%)'), 7);
});

test('a chunk without a whole percentage says nothing', (t) => {
  t.is(parseQemuProgress(''), null);
  t.is(parseQemuProgress('    (12.3'), null);
  t.is(parseQemuProgress('Images are identical.\n'), null);
});
