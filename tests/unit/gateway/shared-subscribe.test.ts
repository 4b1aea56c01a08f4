import test from 'ava';
import { GraphQLID, GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, subscribe, type ExecutionResult } from 'graphql';
import { sharedSubscribe, stableJson } from '../../../src/gateway/http/shared-subscribe.js';

interface Ctx {
  role: string;
}
interface Tick {
  n: number;
}

/** A tiny hub: every subscriber's queue gets the same event object, as the live hub does. */
function hub() {
  const queues = new Set<{ push(t: Tick): void }>();
  let closed = 0;
  const listen = (): AsyncIterableIterator<Tick> => {
    const items: Tick[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const q = { push: (t: Tick) => (items.push(t), wake?.()) };
    queues.add(q);
    const it: AsyncIterableIterator<Tick> = {
      next: async () => {
        while (!items.length && !done) await new Promise<void>((r) => (wake = r));
        return done ? { done: true, value: undefined } : { done: false, value: items.shift()! };
      },
      return: async () => {
        done = true;
        closed++;
        queues.delete(q);
        wake?.();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  };
  return { listen, emit: (t: Tick) => queues.forEach((q) => q.push(t)), closed: () => closed, size: () => queues.size };
}

function schema(h: ReturnType<typeof hub>, calls: { n: number }) {
  const TickType = new GraphQLObjectType<Tick, Ctx>({
    name: 'Tick',
    fields: {
      n: { type: GraphQLInt },
      // Depends on the caller, as admin-only fields do.
      secret: {
        type: GraphQLString,
        resolve: (t, _a, ctx) => {
          calls.n++;
          return ctx.role === 'admin' ? `s${t.n}` : null;
        },
      },
      tag: { type: GraphQLString, args: { prefix: { type: GraphQLString } }, resolve: (t, a: { prefix?: string }) => `${a.prefix ?? ''}${t.n}` },
    },
  });
  return new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { x: { type: GraphQLInt } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: { ticks: { type: TickType, args: { id: { type: GraphQLID } }, subscribe: () => h.listen(), resolve: (t: Tick) => t } },
    }),
  });
}

const QUERY = 'subscription($p: String) { ticks { n secret tag(prefix: $p) } }';

async function open(sub: ReturnType<typeof sharedSubscribe>, s: GraphQLSchema, role: string, vars: Record<string, unknown> = {}, query = QUERY) {
  const r = await sub({ schema: s, document: parse(query), contextValue: { role }, variableValues: vars });
  if (!(Symbol.asyncIterator in r)) throw new Error(JSON.stringify(r));
  return r;
}

test('subscribers with the same operation, variables and audience share one execution per event', async (t) => {
  const h = hub();
  const calls = { n: 0 };
  const s = schema(h, calls);
  const sub = sharedSubscribe((c) => (c as Ctx).role);
  const subs = await Promise.all([open(sub, s, 'member', { p: 'a' }), open(sub, s, 'member', { p: 'a' }), open(sub, s, 'member', { p: 'a' })]);
  h.emit({ n: 1 });
  const results = await Promise.all(subs.map((it) => it.next()));
  t.is(calls.n, 1, 'one execution for three subscribers');
  for (const r of results) t.deepEqual((r.value as ExecutionResult).data, { ticks: { n: 1, secret: null, tag: 'a1' } });
  h.emit({ n: 2 });
  await Promise.all(subs.map((it) => it.next()));
  t.is(calls.n, 2, 'and one for the next event');
});

test('another audience or other variables get their own execution, with their own answer', async (t) => {
  const h = hub();
  const calls = { n: 0 };
  const s = schema(h, calls);
  const sub = sharedSubscribe((c) => (c as Ctx).role);
  const member = await open(sub, s, 'member', { p: 'a' });
  const admin = await open(sub, s, 'admin', { p: 'a' });
  const other = await open(sub, s, 'member', { p: 'b' });
  h.emit({ n: 7 });
  t.deepEqual(((await member.next()).value as ExecutionResult).data, { ticks: { n: 7, secret: null, tag: 'a7' } });
  t.deepEqual(((await admin.next()).value as ExecutionResult).data, { ticks: { n: 7, secret: 's7', tag: 'a7' } });
  t.deepEqual(((await other.next()).value as ExecutionResult).data, { ticks: { n: 7, secret: null, tag: 'b7' } });
  t.is(calls.n, 3);
});

test('the answers are those of graphql-js subscribe', async (t) => {
  const h = hub();
  const s = schema(h, { n: 0 });
  const shared = await open(sharedSubscribe((c) => (c as Ctx).role), s, 'admin', { p: 'x' });
  const plain = (await subscribe({ schema: s, document: parse(QUERY), contextValue: { role: 'admin' }, variableValues: { p: 'x' } })) as AsyncIterableIterator<ExecutionResult>;
  h.emit({ n: 3 });
  t.deepEqual((await shared.next()).value, (await plain.next()).value);
});

test('return() ends a subscription waiting for an event at once, and closes its source', async (t) => {
  const h = hub();
  const s = schema(h, { n: 0 });
  const it = await open(sharedSubscribe((c) => (c as Ctx).role), s, 'member');
  const pending = it.next();
  await it.return!();
  t.deepEqual(await pending, { done: true, value: undefined });
  t.is(h.closed(), 1);
  t.is(h.size(), 0, 'its listener is gone');
});

test('a subscription refused before it starts is the error result graphql-js gives', async (t) => {
  const h = hub();
  const s = schema(h, { n: 0 });
  const r = await sharedSubscribe(() => '')({ schema: s, document: parse('subscription { nope }'), contextValue: { role: 'member' } });
  t.false(Symbol.asyncIterator in r);
  t.truthy((r as ExecutionResult).errors?.length);
});

test('stableJson sorts keys at every level and drops undefined ones', (t) => {
  t.is(stableJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  t.is(stableJson({ a: 1, b: 2 }), stableJson({ b: 2, a: 1 }));
});
