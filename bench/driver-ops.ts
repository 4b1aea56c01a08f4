/**
 * Driver operation latency, without the rest of Flint: for each pool given (FLINT_POOLS
 * syntax), `runs` times: create a 1 GiB volume, snapshot it, make a volume from the snapshot,
 * clone the volume, then delete all (snapshot included). Prints the p50 and max of each, ms.
 *
 *   node dist/bench/driver-ops.js '[{"name":"f","directory":"/tmp/f","imageFormat":"raw"}]' 10
 */
import { parsePools } from '../src/config/pool-config.js';
import { createDriver } from '../src/node-agent/drivers/index.js';
import { summarize, timeMs } from './stats.js';

const OPS = ['create', 'snapshot', 'fromSnapshot', 'clone', 'deleteSnapshot', 'delete'] as const;

async function main(): Promise<void> {
  const problems: string[] = [];
  const pools = parsePools(JSON.parse(process.argv[2] ?? '[]'), '/tmp/flint-bench', problems);
  if (problems.length) throw new Error(problems.join('\n'));
  const runs = Number(process.argv[3] ?? 10);
  for (const pool of pools) {
    const driver = createDriver(pool);
    await driver.setup();
    const samples: Record<(typeof OPS)[number], number[]> = { create: [], snapshot: [], fromSnapshot: [], clone: [], deleteSnapshot: [], delete: [] };
    for (let i = 0; i < runs; i++) {
      const id = `bench-${process.pid}-${i}`;
      samples.create.push(await timeMs(() => driver.createVolume(id, 1)));
      samples.snapshot.push(await timeMs(() => driver.createSnapshot(id, 's')));
      samples.fromSnapshot.push(await timeMs(() => driver.createVolumeFromSnapshot(`${id}-fs`, 1, id, 's')));
      samples.clone.push(await timeMs(() => driver.cloneVolume(`${id}-cl`, 1, id)));
      samples.deleteSnapshot.push(await timeMs(() => driver.deleteSnapshot(id, 's')));
      samples.delete.push(await timeMs(() => driver.deleteVolume(id)));
      await driver.deleteVolume(`${id}-fs`);
      await driver.deleteVolume(`${id}-cl`);
    }
    const row = OPS.map((op) => {
      const s = summarize(samples[op]);
      return `${op} p50 ${Math.round(s.p50)} max ${Math.round(s.max)}`;
    });
    console.log(`${pool.name} (${pool.driver}${pool.driver === 'file' ? ` ${pool.imageFormat}` : ''}, ${runs} runs, ms): ${row.join(' | ')}`);
  }
}

await main();
