/**
 * The floor of the read benchmark: a bare Apollo Server 5 answering `{ hello }` with its
 * standalone HTTP server, as its docs start one, and nothing else (no schema of Flint's, no
 * authentication, no database). Run as a process of its own, as a gateway is; it prints its
 * URL on stdout when it listens.
 *
 *   node dist/bench/bare-apollo.js
 */
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

const server = new ApolloServer({ typeDefs: 'type Query { hello: String }', resolvers: { Query: { hello: () => 'world' } } });
const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
process.stdout.write(`${url}\n`);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void server.stop().then(() => process.exit(0)));
