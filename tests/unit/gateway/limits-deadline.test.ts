/** The execution timeout of src/gateway/limits/deadline.ts: resolvers refuse to start past the deadline, and the race answers at it. */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { execute, GraphQLList, GraphQLObjectType, GraphQLSchema, GraphQLString, parse } from 'graphql';
import { QueryTooComplexError } from '../../../src/domain/errors.js';
import { DeadlineWatch, enforceDeadline, raceDeadline, TIMED_OUT } from '../../../src/gateway/limits/index.js';

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

test('the watch calls back what is still running at its deadline, once', async (t) => {
  const watch = new DeadlineWatch(5);
  let calls = 0;
  const h = watch.watch(performance.now() + 10, () => (calls += 1));
  await sleep(60);
  t.is(calls, 1);
  t.true(h.fired);
  h.done();
  t.is(calls, 1);
});

test('work done before its deadline is not called back', async (t) => {
  const watch = new DeadlineWatch(5);
  let calls = 0;
  const h = watch.watch(performance.now() + 20, () => (calls += 1));
  h.done();
  await sleep(60);
  t.is(calls, 0);
  t.false(h.fired);
});

test('without a deadline nothing is watched', async (t) => {
  const watch = new DeadlineWatch(5);
  let calls = 0;
  const h = watch.watch(undefined, () => (calls += 1));
  await sleep(30);
  t.is(calls, 0);
  t.false(h.fired);
});

test('of many watched, those past their deadline are called back and the others wait', async (t) => {
  const watch = new DeadlineWatch(5);
  const fired: string[] = [];
  const now = performance.now();
  watch.watch(now + 5, () => fired.push('a'));
  const b = watch.watch(now + 10, () => fired.push('b'));
  watch.watch(now + 15, () => fired.push('c'));
  watch.watch(now + 10_000, () => fired.push('late'));
  b.done();
  await sleep(80);
  t.deepEqual(fired, ['a', 'c']);
});
