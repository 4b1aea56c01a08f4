/** Access rules of src/domain/access.ts. */
import test from 'ava';
import { ForbiddenError, UnauthenticatedError } from '../../../src/domain/errors.js';
import { canSee, projectScope, requireAdmin, requirePrincipal, requireWriter, type Principal } from '../../../src/domain/access.js';

const admin: Principal = { projectId: 'p-admin', role: 'admin' };
const member: Principal = { projectId: 'p-1', role: 'member' };
const reader: Principal = { projectId: 'p-1', role: 'reader' };

test('a request without a principal is UNAUTHENTICATED and says how to send a token', (t) => {
  for (const none of [null, undefined]) {
    const err = t.throws(() => requirePrincipal(none), { instanceOf: UnauthenticatedError });
    t.is(err.code, 'UNAUTHENTICATED');
    t.regex(err.message, /Authorization: Bearer/);
  }
});

test('requirePrincipal returns the principal it was given', (t) => {
  const p = { ...member, tokenId: 't1' };
  t.is(requirePrincipal(p), p);
});

test('a reader cannot write: FORBIDDEN, asking for a member or admin token', (t) => {
  const err = t.throws(() => requireWriter(reader), { instanceOf: ForbiddenError });
  t.is(err.code, 'FORBIDDEN');
  t.regex(err.message, /reader role/);
  t.regex(err.message, /member or admin/);
});

test('members and admins can write', (t) => {
  t.is(requireWriter(member), member);
  t.is(requireWriter(admin), admin);
});

test('writing without a principal is UNAUTHENTICATED, not FORBIDDEN', (t) => {
  const err = t.throws(() => requireWriter(undefined), { instanceOf: UnauthenticatedError });
  t.is(err.code, 'UNAUTHENTICATED');
});

test('only an admin passes requireAdmin, and the others are told what needs admin', (t) => {
  t.is(requireAdmin(admin, 'Listing pools'), admin);
  for (const p of [member, reader]) {
    const err = t.throws(() => requireAdmin(p, 'Listing pools'), { instanceOf: ForbiddenError });
    t.is(err.code, 'FORBIDDEN');
    t.is(err.message, 'Listing pools needs an admin token.');
  }
});

test('requireAdmin without a principal is UNAUTHENTICATED', (t) => {
  const err = t.throws(() => requireAdmin(null, 'Listing pools'), { instanceOf: UnauthenticatedError });
  t.is(err.code, 'UNAUTHENTICATED');
});

test('an admin sees every project', (t) => {
  t.true(canSee(admin, 'p-admin'));
  t.true(canSee(admin, 'p-1'));
  t.true(canSee(admin, 'p-other'));
});

test('a member sees only its own project', (t) => {
  t.true(canSee(member, 'p-1'));
  t.false(canSee(member, 'p-2'));
  t.false(canSee(member, 'p-admin'));
});

test('a reader sees only its own project', (t) => {
  t.true(canSee(reader, 'p-1'));
  t.false(canSee(reader, 'p-2'));
});

test('an admin lists every project: projectScope is null', (t) => {
  t.is(projectScope(admin), null);
});

test('members and readers list only their own project', (t) => {
  t.is(projectScope(member), 'p-1');
  t.is(projectScope(reader), 'p-1');
});
