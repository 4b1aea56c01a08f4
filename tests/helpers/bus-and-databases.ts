/**
 * What an integration test of a gateway part needs on both databases: its own nats-server (with
 * JetStream), a bus connected to it, and SQLite and PostgreSQL migrated (databases.ts).
 */
import { connectBus, type Bus } from '../../src/bus/index.js';
import { openDatabases, type Databases } from './databases.js';
import { withNats } from './nats.js';

export interface BusAndDatabases {
  bus: Bus;
  dbs: Databases;
  /** Closes the bus and the databases, then stops the nats-server. */
  close(): Promise<void>;
}

export async function withBusAndDatabases(name: string): Promise<BusAndDatabases> {
  const nats = await withNats();
  const bus = await connectBus(nats.url, name);
  const dbs = await openDatabases(`flint-${name}-`);
  return {
    bus,
    dbs,
    close: async () => {
      await bus.close();
      await dbs.close();
      await nats.stop();
    },
  };
}
