/**
 * The short chaos run inside `npm test`: one trial of every fault kind and then some (10),
 * on the real production topology. `npm run chaos -- --trials 100` is the long one.
 */
import test from 'ava';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { runChaos } from './run.js';

test('10 trials of faults under a mixed workload: nothing lost, stuck, orphaned, corrupted, drifted or missed', async (t) => {
  t.timeout(1_500_000);
  const dir = await tempDir('flint-chaos-');
  try {
    // Each trial is also written as it ends: the CI watchdog stops a run that prints nothing for 5 minutes.
    const trials = Number(process.env.FLINT_CHAOS_TRIALS ?? 10);
    const report = await runChaos({
      trials,
      dir: dir.path,
      say: (l) => {
        t.log(l);
        process.stderr.write(`chaos: ${l}\n`);
      },
    });
    t.log(report.summary);
    t.true(report.workload.acked > 20, `the workload did work (${report.workload.acked} acknowledged mutations)`);
    t.is(report.trials, trials, 'every trial ran');
    t.is(report.faults, trials);
    const { errored: _errored, failed: _failed, ...failures } = report.counts;
    t.deepEqual(failures, { lost: 0, stuck: 0, orphaned: 0, corrupted: 0, drift: 0, missed: 0, disordered: 0 }, report.runs.flatMap((r) => r.details.filter((d) => !d.startsWith('errored') && !d.startsWith('failed')).map((d) => `trial ${r.trial} (${r.fault}): ${d}`)).join('\n'));
  } finally {
    await dir.cleanup();
  }
});

test.after.always('no process is left behind', noProcessesLeft);
