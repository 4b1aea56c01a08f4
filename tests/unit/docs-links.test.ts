/**
 * The documentation's relative links resolve: every `[text](target)` in README.md and
 * docs/**\/*.md that is not a URL names a file or folder of the repository, and a
 * `#heading` after a Markdown file (or alone) names a heading of that file, spelled as
 * GitHub makes its anchors. A moved or renamed file then fails CI instead of leaving a
 * dead link (issue 17).
 */
import test from 'ava';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { documentationFiles, REPO_ROOT as ROOT } from '../helpers/docs.js';

/** The text a reader sees as Markdown: fenced code blocks dropped, inline code spans kept as plain words. */
function prose(source: string): string {
  return source.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`+([^`\n]*)`+/g, '$1');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, … */
function anchorsOf(source: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutCode = source.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const m of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/[`*]/g, '');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

function linksOf(file: string): Link[] {
  const text = prose(readFileSync(file, 'utf8'));
  const links: Link[] = [];
  for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    // Line numbers are those of the text without code blocks: close enough to find the link.
    links.push({ file, line: text.slice(0, m.index).split('\n').length, target: m[1]! });
  }
  return links;
}

/** Why a link does not resolve, or undefined when it does. */
function problemOf(link: Link): string | undefined {
  const { target } = link;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // http:, https:, mailto:
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const path = pathPart === '' ? link.file : resolve(dirname(link.file), pathPart);
  if (path !== ROOT && !path.startsWith(ROOT + sep)) return `${target} points outside the repository`;
  if (!existsSync(path)) return `${target}: ${relative(ROOT, path)} does not exist`;
  if (pathPart.endsWith('/') && !statSync(path).isDirectory()) return `${target}: ${relative(ROOT, path)} is not a folder`;
  if (anchor !== undefined && path.endsWith('.md')) {
    const anchors = anchorsOf(readFileSync(path, 'utf8'));
    if (!anchors.has(anchor)) return `${target}: ${relative(ROOT, path)} has no heading #${anchor} (it has ${[...anchors].map((a) => `#${a}`).join(', ')})`;
  }
  return undefined;
}

const files = documentationFiles();

test('every relative link in README.md and docs/ names a file, folder or heading that exists', (t) => {
  const links = files.flatMap(linksOf);
  // The check works only if it finds the links at all.
  t.true(links.length >= 100, `only ${links.length} links found in ${files.length} files; the link pattern is broken`);
  const broken = links.flatMap((l) => {
    const problem = problemOf(l);
    return problem ? [`${relative(ROOT, l.file)}:${l.line}: ${problem}`] : [];
  });
  t.deepEqual(broken, [], `fix or remove these links:\n${broken.join('\n')}`);
});

test('every Markdown file under docs/ is reachable from the docs index or another page', (t) => {
  const targets = new Set(
    files.flatMap(linksOf).flatMap((l) => {
      const path = l.target.split('#')[0]!;
      return path && !/^[a-z][a-z0-9+.-]*:/i.test(path) ? [resolve(dirname(l.file), decodeURIComponent(path))] : [];
    }),
  );
  const orphans = files.filter((f) => f !== join(ROOT, 'README.md') && !targets.has(f)).map((f) => relative(ROOT, f));
  t.deepEqual(orphans, [], `link these pages from docs/README.md:\n${orphans.join('\n')}`);
});

test('GitHub anchors are made from headings as GitHub makes them', (t) => {
  const anchors = anchorsOf("# Flint\n## How a volume is made\n### The token's life\n## `src/gateway/` rooms\n## Notes\n## Notes\n```sh\n# not a heading\n```\n");
  t.deepEqual([...anchors], ['flint', 'how-a-volume-is-made', 'the-tokens-life', 'srcgateway-rooms', 'notes', 'notes-1']);
});
