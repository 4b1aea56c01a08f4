/**
 * Rates against a real gateway: a token's bucket (HTTP and WebSocket operations, costly
 * ones weighing more), callers without a token per address, and repeated failed
 * authentication from one address, each refused with RATE_LIMITED and `Retry-After`,
 * then answered again once the wait is over. Each test has a gateway of its own with
 * small limits, on one shared bus and database.
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { codeOf, post, seed, startFlint, type Answer, type Flint } from './limits-harness.js';
import { collect, wsClient, type Collected } from '../helpers/ws.js';
import { noProcessesLeft } from '../helpers/processes.js';

let flint: Flint;
let volumeId = '';
let member = '';
let other = '';

test.before(async () => {
  flint = await startFlint();
  const a = await flint.token('team-rate');
  member = a.token;
  other = (await flint.token('team-other')).token;
  volumeId = (await seed(flint.db, a.projectId, 3, 1)).volumeIds[0]!;
});

test.after.always(async () => {
  await flint?.stop();
});

const VOLUME = (id: string) => `{ volume(id: "${id}") { id name } }`;

/** The `Retry-After` header in seconds: a whole number, at least 1. */
function retryAfter(a: Answer): number {
  const n = Number(a.headers.get('retry-after'));
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`Retry-After is not a positive whole number: ${a.headers.get('retry-after')}`);
  return n;
}

/** Until the operation completed or failed. */
async function settled(op: Collected<unknown>): Promise<void> {
  for (let i = 0; i < 400 && !op.completed && op.errors.length === 0; i++) await sleep(25);
}

const codeOfWsError = (op: Collected<unknown>): unknown => (op.errors[0] as Array<{ extensions?: { code?: string } }> | undefined)?.[0]?.extensions?.code;

/** `n` requests at once (one after another, a loaded machine could refill the bucket meanwhile). */
const burst = (n: number, send: () => Promise<Answer>): Promise<Answer[]> => Promise.all(Array.from({ length: n }, send));

test('a token over its rate is refused with RATE_LIMITED and Retry-After, then answered after the wait', async (t) => {
  const gw = await flint.gateway({ FLINT_API_RATE_PER_SECOND: '1', FLINT_API_RATE_BURST: '3' });
  const answers = await burst(6, () => post(gw.url, member, VOLUME(volumeId)));
  const answered = answers.filter((a) => a.status === 200);
  const refusals = answers.filter((a) => a.status === 429);
  t.is(answered.length + refusals.length, 6);
  t.true(answered.length >= 3 && refusals.length >= 1, answers.map((a) => a.status).join(' '));
  for (const a of answered) t.falsy(a.body.errors);
  const refused = refusals[0]!;
  t.is(codeOf(refused), 'RATE_LIMITED');
  t.is(refused.body.errors![0]!.extensions!.retryAfterSeconds, retryAfter(refused));
  await sleep(retryAfter(refused) * 1000);
  const again = await post(gw.url, member, VOLUME(volumeId));
  t.falsy(again.body.errors);
});

test("one token's rate does not slow another token down", async (t) => {
  const gw = await flint.gateway({ FLINT_API_RATE_PER_SECOND: '1', FLINT_API_RATE_BURST: '2' });
  const answers = await burst(5, () => post(gw.url, member, VOLUME(volumeId)));
  t.true(answers.some((a) => codeOf(a) === 'RATE_LIMITED'));
  t.falsy((await post(gw.url, other, '{ viewer { projectName } }')).body.errors);
});

test('a costly operation weighs more in the bucket than a small one', async (t) => {
  // 1 + floor(cost / 100) units: a page of 100 volumes (cost 201) weighs 3 of the burst of 4.
  const gw = await flint.gateway({ FLINT_API_RATE_PER_SECOND: '1', FLINT_API_RATE_BURST: '4' });
  const page = await post(gw.url, member, '{ volumes(first: 100) { edges { node { id } } } }');
  t.falsy(page.body.errors);
  t.falsy((await post(gw.url, member, VOLUME(volumeId))).body.errors);
  const refused = await post(gw.url, member, '{ volumes(first: 100) { edges { node { id } } } }');
  t.is(refused.status, 429);
  t.is(codeOf(refused), 'RATE_LIMITED');
});

test('callers without a token are limited per address', async (t) => {
  const gw = await flint.gateway({ FLINT_API_ANONYMOUS_RATE_PER_SECOND: '1', FLINT_API_ANONYMOUS_BURST: '2' });
  const answers = await burst(5, () => post(gw.url, undefined, '{ viewer { projectName } }'));
  t.true(answers.filter((a) => codeOf(a) === 'UNAUTHENTICATED').length >= 2);
  const refused = answers.find((a) => a.status === 429);
  t.is(refused && codeOf(refused), 'RATE_LIMITED');
  // A token is its own bucket, whatever the address did without one.
  t.falsy((await post(gw.url, member, '{ viewer { projectName } }')).body.errors);
});

test('repeated failed authentication from one address is refused with RATE_LIMITED, and the refusal ends', async (t) => {
  // 60 a minute: one more try a second once they are used up.
  const gw = await flint.gateway({ FLINT_API_AUTH_FAILURES_PER_MINUTE: '60' });
  let guess = 0;
  const guesses = await burst(64, () => post(gw.url, `flint_guess${guess++}`, '{ viewer { role } }'));
  t.true(guesses.every((a) => ['UNAUTHENTICATED', 'RATE_LIMITED'].includes(codeOf(a) as string)));
  t.true(guesses.filter((a) => codeOf(a) === 'UNAUTHENTICATED').length >= 60);
  const refused = await post(gw.url, 'flint_guess-next', '{ viewer { role } }');
  t.is(refused.status, 429);
  t.is(codeOf(refused), 'RATE_LIMITED');
  await sleep(retryAfter(refused) * 1000);
  // Checked again: a bad token is UNAUTHENTICATED once more, not RATE_LIMITED.
  t.is(codeOf(await post(gw.url, 'flint_guess-late', '{ viewer { role } }')), 'UNAUTHENTICATED');
});

test('an attacker failing authentication from the same address does not lock out a token in use', async (t) => {
  const gw = await flint.gateway({ FLINT_API_AUTH_FAILURES_PER_MINUTE: '3' });
  t.falsy((await post(gw.url, member, '{ viewer { role } }')).body.errors);
  for (let i = 0; i < 3; i++) await post(gw.url, `flint_guess${i}`, '{ viewer { role } }');
  t.is(codeOf(await post(gw.url, 'flint_guess-more', '{ viewer { role } }')), 'RATE_LIMITED');
  // The good token keeps working from the very same address, over HTTP and WebSocket.
  t.falsy((await post(gw.url, member, '{ viewer { role } }')).body.errors);
  const ws = wsClient(gw.url, member);
  t.teardown(() => ws.dispose());
  const q = collect(ws, '{ viewer { role } }', {}, (d) => d);
  await settled(q);
  t.deepEqual(q.errors, []);
  t.true(q.completed);
});

test('WebSocket operations count against the same bucket as HTTP requests', async (t) => {
  const gw = await flint.gateway({ FLINT_API_RATE_PER_SECOND: '1', FLINT_API_RATE_BURST: '3' });
  const ws = wsClient(gw.url, member);
  t.teardown(() => ws.dispose());
  const ops = Array.from({ length: 6 }, () => collect(ws, VOLUME(volumeId), {}, (d) => d));
  for (const op of ops) await settled(op);
  const refused = ops.filter((op) => op.errors.length > 0);
  t.true(ops.filter((op) => op.completed && op.errors.length === 0).length >= 3);
  t.true(refused.length >= 1);
  for (const op of refused) t.is(codeOfWsError(op), 'RATE_LIMITED');
  // The same bucket: the token's HTTP requests are refused too, for now.
  t.is(codeOf(await post(gw.url, member, VOLUME(volumeId))), 'RATE_LIMITED');
});

test.after.always('no process is left behind', noProcessesLeft);
