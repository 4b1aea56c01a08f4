/**
 * The source has no import loops: files that import each other, directly or around a ring,
 * cannot be read (or changed) one at a time. Reads every `src/**` TypeScript file's relative
 * imports (type-only ones too: a loop of types is a loop of meaning) and looks for a cycle.
 */
import test from 'ava';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from `dist/tests/unit/` or `tests/unit/`. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

const ROOT = repoRoot();

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'generated' ? [] : sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The files a source imports, by path (relative `./` and `../` specifiers only). */
export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"](\.\.?\/[^'"]+)['"]/g)) {
    const base = resolve(dirname(file), m[1]!.replace(/\.js$/, ''));
    const target = [`${base}.ts`, join(base, 'index.ts')].find((p) => existsSync(p));
    if (target) out.push(target);
  }
  return out;
}

/** One cycle of the graph, as a list of files ending where it starts; null when there is none. */
export function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') return [...path.slice(path.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    path.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    if (state.has(node)) continue;
    const found = visit(node);
    if (found) return found;
  }
  return null;
}

test('the cycle finder finds a ring and passes a tree', (t) => {
  t.deepEqual(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]])), ['a', 'b', 'c', 'a']);
  t.is(findCycle(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]])), null);
});

test('no file under src/ imports itself back, directly or around a ring', (t) => {
  const files = sources(join(ROOT, 'src'));
  t.true(files.length > 100, `only ${files.length} sources found; the walk is broken`);
  const graph = new Map(files.map((f) => [f, importsOf(f, readFileSync(f, 'utf8'))]));
  t.true([...graph.values()].flat().length > 500, 'too few imports read; the pattern is broken');
  const cycle = findCycle(graph);
  t.is(cycle, null, `an import loop: ${cycle?.map((f) => relative(ROOT, f)).join(' -> ')}; move what both sides need to a file that imports neither`);
});
