/** The execution timeout of src/gateway/limits/deadline.ts: resolvers refuse to start past the deadline, and the race answers at it. */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { execute, GraphQLList, GraphQLObjectType, GraphQLSchema, GraphQLString, parse } from 'graphql';
import { QueryTooComplexError } from '../../../src/domain/errors.js';
import { enforceDeadline, raceDeadline, TIMED_OUT } from '../../../src/gateway/limits/index.js';

/** A schema whose resolvers record their calls: `items` (a list of objects) and their `child` (an object). */
function recordingSchema(calls: string[]): GraphQLSchema {
  const Item: GraphQLObjectType = new GraphQLObjectType({
    name: 'Item',
    fields: () => ({
      name: { type: GraphQLString, resolve: (s: { name: string }) => s.name },
      child: { type: Item, resolve: (s: { name: string }) => (calls.push(`child of ${s.name}`), { name: `${s.name}.child` }) },
    }),
  });
  return new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: {
        items: { type: new GraphQLList(Item), resolve: () => (calls.push('items'), [{ name: 'a' }, { name: 'b' }]) },
        hello: { type: GraphQLString, resolve: () => (calls.push('hello'), 'hi') },
      },
    }),
  });
}

test('past the deadline no fetching resolver starts, and each refusal is QUERY_TOO_COMPLEX (timeout)', async (t) => {
  const calls: string[] = [];
  const schema = recordingSchema(calls);
  enforceDeadline(schema, 250);
  const result = await execute({ schema, document: parse('{ items { child { name } } hello }'), contextValue: { deadline: performance.now() - 1 } });
  t.deepEqual(calls, []);
  t.is(result.errors?.length, 2);
  for (const e of result.errors ?? []) {
    t.true(e.originalError instanceof QueryTooComplexError);
    t.like((e.originalError as QueryTooComplexError).details, { limit: 'timeout', max: 250 });
  }
});

test('before the deadline, and without one, resolvers run as usual', async (t) => {
  const calls: string[] = [];
  const schema = recordingSchema(calls);
  enforceDeadline(schema, 250);
  const query = parse('{ items { child { name } } }');
  t.falsy((await execute({ schema, document: query, contextValue: { deadline: performance.now() + 60_000 } })).errors);
  t.falsy((await execute({ schema, document: query, contextValue: {} })).errors);
  t.deepEqual(calls, ['items', 'child of a', 'child of b', 'items', 'child of a', 'child of b']);
});

test('a deadline passing mid-operation stops the levels below it', async (t) => {
  const calls: string[] = [];
  const schema = recordingSchema(calls);
  enforceDeadline(schema, 5);
  const context = { deadline: performance.now() + 60_000 };
  const items = schema.getQueryType()!.getFields().items!;
  const original = items.resolve!;
  // The list is read, then the deadline passes before its items' children start.
  items.resolve = (...args) => {
    const r = original(...args);
    context.deadline = performance.now() - 1;
    return r;
  };
  const result = await execute({ schema, document: parse('{ items { child { name } } }'), contextValue: context });
  t.deepEqual(calls, ['items']);
  t.is(result.errors?.length, 2);
});

test('enforcing twice wraps once', async (t) => {
  const calls: string[] = [];
  const schema = recordingSchema(calls);
  enforceDeadline(schema, 1);
  const once = schema.getQueryType()!.getFields().items!.resolve;
  enforceDeadline(schema, 1);
  t.is(schema.getQueryType()!.getFields().items!.resolve, once);
});

test('the race answers TIMED_OUT at the deadline when the work is slower', async (t) => {
  const work = sleep(1000).then(() => 'late');
  t.is(await raceDeadline(work, performance.now() + 20), TIMED_OUT);
});

test('the race answers the work when it is done first', async (t) => {
  t.is(await raceDeadline(Promise.resolve('done'), performance.now() + 1000), 'done');
  await t.throwsAsync(raceDeadline(Promise.reject(new Error('boom')), performance.now() + 1000), { message: 'boom' });
});

test('a failure of the work after the deadline is dropped, not left unhandled', async (t) => {
  const work = sleep(30).then(() => {
    throw new Error('too late to matter');
  });
  t.is(await raceDeadline(work, performance.now() + 1), TIMED_OUT);
  await sleep(60);
  t.pass();
});
