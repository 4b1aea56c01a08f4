/**
 * The resource models (schema/resources/*.schema.json): they describe the GraphQL types field
 * for field, name mutations the schema has, and derive each action's statuses from the state
 * machines' tables.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, getNamedType, isListType, isNonNullType, isObjectType, type GraphQLField, type GraphQLObjectType } from 'graphql';
import { z } from 'zod';
import { actionStatuses, computed, fieldRules, settable } from '../../../src/domain/resources/lifecycle.js';
import { RESOURCE_MODELS, resourceJsonSchema, rulesOf, VOLUME_FIELDS, VOLUME_MODEL } from '../../../src/domain/resources/index.js';
import { REPO_ROOT } from '../../helpers/docs.js';

const schema = buildSchema(readFileSync(join(REPO_ROOT, 'schema', 'schema.graphql'), 'utf8'));
const mutations = schema.getMutationType()!.getFields();

/** A field that holds the resource's own data, not a link to others (a list, or another Node). */
function ownField(f: GraphQLField<unknown, unknown>): boolean {
  const t = isNonNullType(f.type) ? f.type.ofType : f.type;
  if (isListType(t)) return false;
  const named = getNamedType(t);
  return !(isObjectType(named) && named.getInterfaces().some((i) => i.name === 'Node'));
}

for (const model of RESOURCE_MODELS) {
  test(`${model.name}: the model has every own field of the GraphQL type ${model.graphqlType}, and no other`, (t) => {
    const type = schema.getType(model.graphqlType) as GraphQLObjectType;
    const own = Object.values(type.getFields()).filter(ownField).map((f) => f.name).sort();
    t.deepEqual(Object.keys(model.fields.shape).sort(), own);
  });

  test(`${model.name}: every field has a lifecycle, and every mutation it names is in the schema`, (t) => {
    const rules = rulesOf(model);
    for (const [field, rule] of Object.entries(rules)) {
      if (rule.lifecycle === 'computed') t.is(rule.mutation, null, field);
      else t.truthy(mutations[rule.mutation!], `${field}: ${rule.mutation}`);
    }
    for (const [action, a] of Object.entries(model.actions)) t.truthy(mutations[a.mutation], `${action}: ${a.mutation}`);
  });

  test(`${model.name}: the emitted JSON Schema carries the lifecycle of each property and the actions`, (t) => {
    const json = resourceJsonSchema(model) as { properties: Record<string, Record<string, unknown>>; 'x-flint-actions': unknown; 'x-flint-graphql-type': string };
    t.is(json['x-flint-graphql-type'], model.graphqlType);
    for (const [field, rule] of Object.entries(rulesOf(model))) t.is(json.properties[field]!['x-flint-lifecycle'], rule.lifecycle, field);
    t.deepEqual(json['x-flint-actions'], model.actions);
  });

  test(`${model.name}: schema/resources/${model.name}.schema.json is what the code emits`, (t) => {
    const file = JSON.parse(readFileSync(join(REPO_ROOT, 'schema', 'resources', `${model.name}.schema.json`), 'utf8'));
    t.deepEqual(file, JSON.parse(JSON.stringify(resourceJsonSchema(model))), "run 'npm run schema'");
  });
}

test('the volume: size grows only, the source and zone are fixed at create, name, metadata and type change in place', (t) => {
  const rules = rulesOf(VOLUME_MODEL);
  t.deepEqual(rules.sizeGiB, { lifecycle: 'growOnly', mutation: 'extendVolume' });
  t.deepEqual(rules.volumeType, { lifecycle: 'mutable', mutation: 'retypeVolume' });
  t.deepEqual(rules.metadata, { lifecycle: 'mutable', mutation: 'updateVolume' });
  for (const f of ['availabilityZone', 'multiattach', 'snapshotId', 'sourceVolumeId']) t.is(rules[f]!.lifecycle, 'createOnly', f);
  for (const f of ['status', 'host', 'generation', 'version']) t.is(rules[f]!.lifecycle, 'computed', f);
});

test("the volume's actions come from its state machine: a delete passes through DELETING and ends DELETED or ERROR_DELETING; an extend of an attached volume ends IN_USE", (t) => {
  t.deepEqual(VOLUME_MODEL.actions.delete!.passesThrough, ['DELETING']);
  t.deepEqual(VOLUME_MODEL.actions.delete!.endsIn, ['DELETED', 'ERROR_DELETING']);
  t.deepEqual(VOLUME_MODEL.actions.create, { mutation: 'createVolume', from: [], passesThrough: ['CREATING'], endsIn: ['AVAILABLE', 'ERROR'] });
  t.deepEqual(VOLUME_MODEL.actions.extend!.endsIn, ['AVAILABLE', 'IN_USE', 'ERROR_EXTENDING']);
  t.deepEqual(VOLUME_MODEL.actions.update!.endsIn, [], 'an update keeps the status');
});

test('actionStatuses follows outcomes until a status none leaves, keeps a status an outcome keeps, and ignores an outcome to the same status', (t) => {
  const outcomes = {
    ok: { from: ['working'], to: 'done' },
    bad: { from: ['working'], to: 'broken' },
    wait: { from: ['waiting'], to: null },
    fail: { from: ['waiting'], to: 'broken' },
    mark: { from: ['working'], to: 'working' },
  };
  t.deepEqual(actionStatuses('m', { from: ['idle'], to: 'working' }, outcomes), { mutation: 'm', from: ['IDLE'], passesThrough: ['WORKING'], endsIn: ['DONE', 'BROKEN'] });
  t.deepEqual(actionStatuses('m', { from: ['idle'], to: 'waiting' }, outcomes).endsIn, ['WAITING', 'BROKEN']);
  t.deepEqual(actionStatuses('m', { from: ['idle'], to: null }, outcomes), { mutation: 'm', from: ['IDLE'], passesThrough: [], endsIn: [] });
});

test('a field without a lifecycle is refused, so none slips into the schema unannotated', (t) => {
  t.throws(() => fieldRules(z.object({ a: settable(z.string(), 'mutable', 'm', 'a'), b: z.string() })), { message: /field b has no x-flint-lifecycle/ });
  t.deepEqual(fieldRules(z.object({ c: computed(z.string(), 'c') })), { c: { lifecycle: 'computed', mutation: null } });
});

test('the volume fields validate a volume as the API returns it, and say which field is wrong', (t) => {
  const volume = {
    id: '2f1d3c1e-8d0a-4f51-9d7c-6c1b2a3e4f50',
    version: 3,
    createdAt: '2026-12-06T10:00:00.000Z',
    updatedAt: '2026-12-06T10:00:01.000Z',
    changeSeq: 42,
    name: 'db',
    description: null,
    metadata: { purpose: 'db' },
    sizeGiB: 10,
    volumeType: null,
    availabilityZone: 'nova',
    multiattach: false,
    snapshotId: null,
    sourceVolumeId: null,
    idempotencyKey: null,
    status: 'AVAILABLE',
    generation: 1,
    host: 'host-a',
    pool: 'fast',
    encrypted: false,
    migrationStatus: null,
  };
  t.true(VOLUME_FIELDS.safeParse(volume).success);
  const bad = VOLUME_FIELDS.safeParse({ ...volume, sizeGiB: 0, status: 'SPINNING' });
  t.false(bad.success);
  t.deepEqual(bad.error!.issues.map((i) => i.path.join('.')).sort(), ['sizeGiB', 'status']);
});
