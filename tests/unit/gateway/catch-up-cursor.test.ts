import test from 'ava';
import { CatchUpCursor, DeliveredVersions } from '../../../src/gateway/live/catch-up-cursor.js';

const seqs = (o: Record<string, number>) => new Map(Object.entries(o));

test('the first look only sets where each project stands', (t) => {
  const c = new CatchUpCursor(1000);
  t.deepEqual(c.due(seqs({ p: 5 }), 0), []);
  t.deepEqual(c.due(seqs({ p: 5 }), 5000), [], 'nothing moved since');
});

test('a stretch is due once its end was first seen a grace ago, and only up to that end', (t) => {
  const c = new CatchUpCursor(1000);
  c.due(seqs({ p: 5 }), 0);
  t.deepEqual(c.due(seqs({ p: 7 }), 100), [], 'just seen');
  t.deepEqual(c.due(seqs({ p: 9 }), 900), [], 'still within the grace of when 7 was seen');
  t.deepEqual(c.due(seqs({ p: 9 }), 1100), [{ projectId: 'p', after: 5, upTo: 7 }], 'up to 7: 8 and 9 are younger');
  c.lookedAt('p', 7);
  t.deepEqual(c.due(seqs({ p: 9 }), 1200), [], '9 is seen now, so its grace starts now');
  t.deepEqual(c.due(seqs({ p: 9 }), 2200), [{ projectId: 'p', after: 7, upTo: 9 }]);
});

test('a stretch not looked at is due again', (t) => {
  const c = new CatchUpCursor(0);
  c.due(seqs({ p: 1 }), 0);
  c.due(seqs({ p: 3 }), 1);
  t.deepEqual(c.due(seqs({ p: 3 }), 2), [{ projectId: 'p', after: 1, upTo: 3 }]);
  t.deepEqual(c.due(seqs({ p: 3 }), 3), [{ projectId: 'p', after: 1, upTo: 3 }], 'a failed read leaves it due');
  c.lookedAt('p', 2);
  t.deepEqual(c.due(seqs({ p: 3 }), 4), [{ projectId: 'p', after: 2, upTo: 3 }], 'a read that went part of the way goes on from there');
});

test('a project first seen after the start is new: all of its log is due', (t) => {
  const c = new CatchUpCursor(0);
  c.due(seqs({ p: 1 }), 0);
  c.due(seqs({ p: 1, q: 2 }), 1);
  t.deepEqual(c.due(seqs({ p: 1, q: 2 }), 2), [{ projectId: 'q', after: 0, upTo: 2 }]);
});

test('reset starts again from the counters', (t) => {
  const c = new CatchUpCursor(0);
  c.due(seqs({ p: 1 }), 0);
  c.due(seqs({ p: 4 }), 1);
  c.reset();
  t.deepEqual(c.due(seqs({ p: 4 }), 2), []);
  t.deepEqual(c.due(seqs({ p: 4 }), 3), []);
  c.lookedAt('p', 9);
  t.deepEqual(c.due(seqs({ p: 4 }), 4), [], 'lookedAt before a start changes nothing');
});

test('delivered versions: a version is delivered when it or a newer one was, per project', (t) => {
  const d = new DeliveredVersions();
  d.note('p', 'v', 3);
  t.true(d.has('p', 'v', 3));
  t.true(d.has('p', 'v', 2));
  t.false(d.has('p', 'v', 4));
  t.false(d.has('q', 'v', 3), 'a moved resource delivered to one project is not delivered to the other');
  d.note('p', 'v', 1);
  t.true(d.has('p', 'v', 3), 'an older version does not lower it');
});

test('delivered versions forget the oldest entry when full', (t) => {
  const d = new DeliveredVersions(2);
  d.note('p', 'a', 1);
  d.note('p', 'b', 1);
  d.note('p', 'c', 1);
  t.false(d.has('p', 'a', 1));
  t.true(d.has('p', 'b', 1));
  t.true(d.has('p', 'c', 1));
});

test('after hurry the next look takes everything so far at once, and only that look', (t) => {
  const c = new CatchUpCursor(1000);
  c.due(seqs({ p: 1, q: 5 }), 0);
  c.due(seqs({ p: 3, q: 5 }), 100);
  c.hurry();
  t.deepEqual(c.due(seqs({ p: 4, q: 6 }), 200), [
    { projectId: 'p', after: 1, upTo: 4 },
    { projectId: 'q', after: 5, upTo: 6 },
  ]);
  c.lookedAt('p', 4);
  c.lookedAt('q', 6);
  t.deepEqual(c.due(seqs({ p: 5, q: 6 }), 300), [], 'the grace is back');
  t.deepEqual(c.due(seqs({ p: 5, q: 6 }), 1300), [{ projectId: 'p', after: 4, upTo: 5 }]);
});
