/**
 * Capacity reservations (src/db/capacity-store.ts) against a real SQLite file and a real
 * PostgreSQL database. Every test uses its own pool and volume ids, so they share one
 * database per backend.
 */
import 'reflect-metadata';
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { capacity, openDb, type Db } from '../../src/db/index.js';
import { BACKENDS, openDatabases, type Backend, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';

let databases: Databases | undefined;

test.before(async () => {
  databases = await openDatabases('flint-db-capacity-');
});

test.after.always(async () => {
  await databases?.close();
});

function db(kind: Backend): Db {
  if (!databases) throw new Error('databases are not open');
  return databases.get(kind);
}

const newPool = () => `host-${randomUUID().slice(0, 8)}@pool`;

/** GiB allocated on a pool; undefined when the pool has never been reserved on. */
async function allocated(d: Db, poolId: string): Promise<number | undefined> {
  return (await capacity.allocations(d.fork())).get(poolId);
}

async function holders(d: Db, poolId: string): Promise<number> {
  return (await capacity.volumeCounts(d.fork())).get(poolId) ?? 0;
}

for (const kind of BACKENDS) {
  // reserve

  test(`${kind}: a reservation within the limit succeeds and is counted`, async (t) => {
    const d = db(kind);
    const pool = newPool();
    t.true(await capacity.reserve(d.fork(), randomUUID(), pool, 30, 100));
    t.true(await capacity.reserve(d.fork(), randomUUID(), pool, 70, 100), 'filling the pool exactly to its limit is allowed');
    t.is(await allocated(d, pool), 100);
    t.is(await holders(d, pool), 2);
  });

  test(`${kind}: a reservation over the limit fails and changes nothing`, async (t) => {
    const d = db(kind);
    const pool = newPool();
    const v1 = randomUUID();
    t.true(await capacity.reserve(d.fork(), v1, pool, 60, 100));
    const v2 = randomUUID();
    t.false(await capacity.reserve(d.fork(), v2, pool, 41, 100));
    t.is(await allocated(d, pool), 60);
    t.is(await holders(d, pool), 1);
    // v2 holds nothing: growing it fails and releasing it frees nothing.
    t.false(await capacity.grow(d.fork(), v2, pool, 42, 1000));
    await capacity.release(d.fork(), v2);
    t.is(await allocated(d, pool), 60);
  });

  test(`${kind}: a reservation larger than an empty pool fails`, async (t) => {
    const d = db(kind);
    const pool = newPool();
    t.false(await capacity.reserve(d.fork(), randomUUID(), pool, 101, 100));
    t.is(await allocated(d, pool) ?? 0, 0);
    t.is(await holders(d, pool), 0);
  });

  test(`${kind}: reserving again on the same pool is idempotent and counted once`, async (t) => {
    const d = db(kind);
    const pool = newPool();
    const v = randomUUID();
    t.true(await capacity.reserve(d.fork(), v, pool, 10, 100));
    t.true(await capacity.reserve(d.fork(), v, pool, 10, 100), 'a redelivered reserve holds');
    t.true(await capacity.reserve(d.fork(), v, pool, 10, 15), 'even when the pool is now full, what is held stays held');
    t.is(await allocated(d, pool), 10);
    t.is(await holders(d, pool), 1);
  });

  test(`${kind}: reserving on another pool moves the reservation`, async (t) => {
    const d = db(kind);
    const [a, b] = [newPool(), newPool()];
    const v = randomUUID();
    const other = randomUUID();
    t.true(await capacity.reserve(d.fork(), other, a, 5, 100));
    t.true(await capacity.reserve(d.fork(), v, a, 10, 100));
    t.is(await allocated(d, a), 15);
    t.true(await capacity.reserve(d.fork(), v, b, 10, 100));
    t.is(await allocated(d, a), 5, 'the old pool gets the GiB back');
    t.is(await allocated(d, b), 10);
    t.is(await holders(d, a), 1);
    t.is(await holders(d, b), 1);
    await capacity.release(d.fork(), v);
    t.is(await allocated(d, b), 0, 'the reservation now lives on the new pool');
    t.is(await allocated(d, a), 5);
  });

  test(`${kind}: moving a reservation to a pool without room frees the old pool and holds nothing`, async (t) => {
    const d = db(kind);
    const [a, b] = [newPool(), newPool()];
    const v = randomUUID();
    t.true(await capacity.reserve(d.fork(), v, a, 10, 100));
    t.false(await capacity.reserve(d.fork(), v, b, 10, 5));
    t.is(await allocated(d, a), 0);
    t.is(await allocated(d, b), 0);
    t.true(await capacity.reserve(d.fork(), v, b, 5, 5), 'a later reserve starts from nothing');
  });

  // reservePlacement: two copies of one placement

  test(`${kind}: a placement keeps a reservation made on a pool its attempt may use, and names that pool`, async (t) => {
    const d = db(kind);
    const [a, b] = [newPool(), newPool()];
    const v = randomUUID();
    t.is(await capacity.reservePlacement(d.fork(), v, a, 10, 100, []), 'reserved');
    t.deepEqual(await capacity.reservePlacement(d.fork(), v, b, 10, 100, []), { heldOn: a }, 'the second copy finds the first one’s pool');
    t.is(await allocated(d, a), 10);
    t.is((await allocated(d, b)) ?? 0, 0, 'nothing was taken on the second pool');
    t.is(await capacity.reservePlacement(d.fork(), v, b, 10, 100, [a]), 'reserved', 'a reservation on an earlier attempt’s pool moves');
    t.is(await allocated(d, a), 0);
    t.is(await allocated(d, b), 10);
    t.is(await capacity.reservePlacement(d.fork(), randomUUID(), b, 91, 100, []), 'full');
  });

  test(`${kind}: two copies of one placement racing for two pools end with one reservation, on the pool both name`, async (t) => {
    const d = db(kind);
    for (let round = 0; round < 10; round++) {
      const [a, b] = [newPool(), newPool()];
      const v = randomUUID();
      // A copy whose insert lost the race on PostgreSQL throws; its redelivery then finds the winner.
      const place = async (pool: string): Promise<string> => {
        for (;;) {
          const r = await capacity.reservePlacement(d.fork(), v, pool, 10, 100, []).catch(() => null);
          if (r === 'reserved') return pool;
          if (r && r !== 'full') return r.heldOn;
        }
      };
      const [first, second] = await Promise.all([place(a), place(b)]);
      t.is(first, second, 'both copies send the volume to one pool');
      t.is(await capacity.reservedPool(d.fork(), v), first);
      t.is((await allocated(d, a)) ?? 0, first === a ? 10 : 0);
      t.is((await allocated(d, b)) ?? 0, first === b ? 10 : 0);
    }
  });

  // release

  test(`${kind}: a release frees the reservation and a second release is a no-op`, async (t) => {
    const d = db(kind);
    const pool = newPool();
    const [v, other] = [randomUUID(), randomUUID()];
    await capacity.reserve(d.fork(), other, pool, 7, 100);
    await capacity.reserve(d.fork(), v, pool, 20, 100);
    await capacity.release(d.fork(), v);
    t.is(await allocated(d, pool), 7);
    await capacity.release(d.fork(), v);
    t.is(await allocated(d, pool), 7, 'the second release takes nothing from the other volume');
    t.is(await holders(d, pool), 1);
  });

  test(`${kind}: releasing a volume that never reserved is a no-op`, async (t) => {
    await t.notThrowsAsync(capacity.release(db(kind).fork(), randomUUID()));
  });

  test(`${kind}: concurrent releases of one volume free its GiB once`, async (t) => {
    const d = db(kind);
    const pool = newPool();
    const [v, other] = [randomUUID(), randomUUID()];
    await capacity.reserve(d.fork(), other, pool, 3, 100);
    await capacity.reserve(d.fork(), v, pool, 20, 100);
    await Promise.all(Array.from({ length: 10 }, () => capacity.release(d.fork(), v)));
    t.is(await allocated(d, pool), 3);
  });

  // grow and shrink

  test(`${kind}: grow within the limit moves the allocation by the difference`, async (t) => {
    const d = db(kind);
    const pool = newPool();
    const v = randomUUID();
    await capacity.reserve(d.fork(), v, pool, 10, 100);
    t.true(await capacity.grow(d.fork(), v, pool, 25, 100));
    t.is(await allocated(d, pool), 25);
    t.true(await capacity.grow(d.fork(), v, pool, 25, 100), 'growing again to the same size is idempotent');
    t.true(await capacity.grow(d.fork(), v, pool, 20, 100), 'a smaller target is already satisfied');
    t.is(await allocated(d, pool), 25);
    await capacity.release(d.fork(), v);
    t.is(await allocated(d, pool), 0, 'the release frees the grown size');
  });

  test(`${kind}: grow over the limit fails and changes nothing`, async (t) => {
    const d = db(kind);
    const pool = newPool();
    const [v, other] = [randomUUID(), randomUUID()];
    await capacity.reserve(d.fork(), other, pool, 50, 100);
    await capacity.reserve(d.fork(), v, pool, 10, 100);
    t.false(await capacity.grow(d.fork(), v, pool, 51, 100), '60 + 41 > 100');
    t.is(await allocated(d, pool), 60);
    t.true(await capacity.grow(d.fork(), v, pool, 50, 100), 'growing exactly to the limit is allowed');
    t.is(await allocated(d, pool), 100);
  });

  test(`${kind}: grow on a pool the volume is not on fails`, async (t) => {
    const d = db(kind);
    const [a, b] = [newPool(), newPool()];
    const v = randomUUID();
    await capacity.reserve(d.fork(), v, a, 10, 100);
    t.false(await capacity.grow(d.fork(), v, b, 20, 100));
    t.is(await allocated(d, a), 10);
    t.is(await allocated(d, b), undefined);
  });

  test(`${kind}: shrink gives back the difference, and shrinking to a larger size is a no-op`, async (t) => {
    const d = db(kind);
    const pool = newPool();
    const v = randomUUID();
    await capacity.reserve(d.fork(), v, pool, 10, 100);
    await capacity.grow(d.fork(), v, pool, 30, 100);
    await capacity.shrink(d.fork(), v, 10);
    t.is(await allocated(d, pool), 10);
    await capacity.shrink(d.fork(), v, 10);
    await capacity.shrink(d.fork(), v, 50);
    t.is(await allocated(d, pool), 10);
    await capacity.release(d.fork(), v);
    t.is(await allocated(d, pool), 0, 'the release frees the shrunk size');
  });

  test(`${kind}: shrinking a volume without a reservation is a no-op`, async (t) => {
    await t.notThrowsAsync(capacity.shrink(db(kind).fork(), randomUUID(), 1));
  });

  // concurrency

  test(`${kind}: 50 concurrent reserves of 10 GiB against 200 GiB from separate forks allocate exactly 200 GiB to 20 volumes`, async (t) => {
    const d = db(kind);
    const pool = newPool();
    // Two schedulers, each with its own unit of work per message, working from the same stale stats.
    const schedulers = [d, d];
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => capacity.reserve(schedulers[i % 2]!.fork(), randomUUID(), pool, 10, 200)),
    );
    t.is(results.filter(Boolean).length, 20);
    t.is(await allocated(d, pool), 200);
    t.is(await holders(d, pool), 20);
  });

  test(`${kind}: concurrent reserves on a fresh pool never allocate more than the limit, whatever their sizes`, async (t) => {
    const d = db(kind);
    const pool = newPool();
    const sizes = Array.from({ length: 40 }, (_, i) => 1 + ((i * 7) % 13));
    const results = await Promise.all(sizes.map((size) => capacity.reserve(d.fork(), randomUUID(), pool, size, 100)));
    const granted = sizes.filter((_, i) => results[i]).reduce((a, b) => a + b, 0);
    const total = (await allocated(d, pool))!;
    t.is(total, granted, 'the allocation is the sum of what was granted');
    t.true(total <= 100, `allocated ${total}`);
  });

  test(`${kind}: concurrent grows of different volumes never allocate more than the limit`, async (t) => {
    const d = db(kind);
    const pool = newPool();
    const volumes = Array.from({ length: 10 }, () => randomUUID());
    for (const v of volumes) t.true(await capacity.reserve(d.fork(), v, pool, 10, 200));
    const results = await Promise.all(volumes.map((v) => capacity.grow(d.fork(), v, pool, 30, 200)));
    t.is(results.filter(Boolean).length, 5, '100 GiB left, 20 more per volume');
    t.is(await allocated(d, pool), 200);
  });
}

test('postgresql: 50 concurrent reserves from two separate connection pools (two scheduler processes) allocate exactly 200 GiB', async (t) => {
  const second = await openDb({ kind: 'postgresql', url: databases!.pgUrl });
  t.teardown(() => second.close());
  const first = db('postgresql');
  const pool = newPool();
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => capacity.reserve((i % 2 ? second : first).fork(), randomUUID(), pool, 10, 200)),
  );
  t.is(results.filter(Boolean).length, 20);
  t.is(await allocated(first, pool), 200);
  t.is(await holders(first, pool), 20);
});

test.after.always('no process is left behind', noProcessesLeft);
