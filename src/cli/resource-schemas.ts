/** Writes schema/resources/<name>.schema.json for every resource model (`flint schema --resources <dir>`). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESOURCE_MODELS, resourceJsonSchema } from '../domain/resources/index.js';

export function writeResourceSchemas(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return RESOURCE_MODELS.map((model) => {
    const file = join(dir, `${model.name}.schema.json`);
    writeFileSync(file, `${JSON.stringify(resourceJsonSchema(model), null, 2)}\n`);
    return file;
  });
}
