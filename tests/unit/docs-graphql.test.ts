/**
 * Every GraphQL example in README.md and docs/**\/*.md (a ```graphql block) is valid against
 * schema/schema.graphql: each operation in a block parses and validates on its own, so a
 * renamed field or argument fails CI instead of leaving a reader with an example that the
 * gateway refuses (a transfer example asked for `Volume.projectId`, which does not exist).
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildSchema, Kind, parse, validate, type DefinitionNode } from 'graphql';
import { documentationFiles, REPO_ROOT as ROOT } from '../helpers/docs.js';

const schema = buildSchema(readFileSync(join(ROOT, 'schema', 'schema.graphql'), 'utf8'));
const files = documentationFiles();

test('every GraphQL example in the documentation is valid against the schema', (t) => {
  const problems: string[] = [];
  let operations = 0;
  for (const file of files) {
    const source = readFileSync(file, 'utf8');
    for (const block of source.matchAll(/^```graphql\n([\s\S]*?)^```/gm)) {
      const where = `${relative(ROOT, file)}:${source.slice(0, block.index).split('\n').length + 1}`;
      let definitions: readonly DefinitionNode[];
      try {
        definitions = parse(block[1]!).definitions;
      } catch (err) {
        problems.push(`${where}: ${(err as Error).message}`);
        continue;
      }
      const fragments = definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
      for (const op of definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION)) {
        operations++;
        for (const e of validate(schema, { kind: Kind.DOCUMENT, definitions: [op, ...fragments] })) problems.push(`${where}: ${e.message}`);
      }
    }
  }
  t.true(operations > 20, `only ${operations} GraphQL examples found: is the pattern still right?`);
  t.deepEqual(problems, []);
});
