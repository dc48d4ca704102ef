// The docs hold together: every relative link in README.md, CONTRIBUTING.md, RELIABILITY.md,
// BENCHMARKS.md and docs/**/*.md names a file or folder that exists, and every #anchor names a
// heading of its page as the code host makes them (GitHub's slugs). README stays the short
// operator's page, with its diagram. External http(s) links are not fetched.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const README_MAX_BYTES = 15 * 1024;

/**
 * Pages other parts of the work add: a link to one is accepted while the page is absent, and
 * checked like any other (anchors too) once it exists.
 */
const PAGES_ADDED_ELSEWHERE = new Set<string>();

function markdownFiles(): string[] {
  const files = ['README.md', 'CONTRIBUTING.md', 'RELIABILITY.md', 'BENCHMARKS.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.md')) files.push(rel);
    }
  };
  walk('docs');
  return files;
}

/** The lines outside fenced code blocks, with their line numbers. */
function proseLines(text: string): Array<{ line: string; no: number }> {
  const out: Array<{ line: string; no: number }> = [];
  let fence: string | null = null;
  text.split('\n').forEach((line, i) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m) {
      if (fence === null) fence = m[1]!;
      else if (m[1]!.startsWith(fence[0]!) && m[1]!.length >= fence.length) fence = null;
      return;
    }
    if (fence === null) out.push({ line, no: i + 1 });
  });
  return out;
}

/** A heading's anchor as GitHub makes it: the text as shown, lower-cased, punctuation dropped, spaces as '-'. */
function githubSlug(heading: string): string {
  const shown = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/(\*\*|__|\*)/g, '');
  return shown
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a page has: its headings' slugs, numbered as GitHub numbers repeats. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const { line } of proseLines(text)) {
    const m = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const slug = githubSlug(m[1]!);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** The link targets of a page's prose (inline links and images), code spans left out. */
function linksOf(text: string): Array<{ target: string; no: number }> {
  const links: Array<{ target: string; no: number }> = [];
  for (const { line, no } of proseLines(text)) {
    const prose = line.replace(/(`+)(?:(?!\1).)+?\1/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ target: m[1]!, no });
  }
  return links;
}

/** What is wrong with the links of one page (path relative to `root`): one line each. */
function brokenLinks(root: string, page: string, text: string, pending: Set<string> = new Set()): string[] {
  const problems: string[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (file: string): Set<string> => {
    let found = anchorCache.get(file);
    if (!found) {
      found = anchorsOf(file === page ? text : readFileSync(path.join(root, file), 'utf8'));
      anchorCache.set(file, found);
    }
    return found;
  };
  for (const { target, no } of linksOf(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      if (!/^(https?|mailto):/i.test(target)) problems.push(`${page}:${no}: ${target}: not a link a reader can follow`);
      continue;
    }
    const hash = target.indexOf('#');
    const filePart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
    const file = filePart === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), filePart));
    if (file.startsWith('..')) {
      problems.push(`${page}:${no}: ${target}: outside the repository`);
      continue;
    }
    const abs = path.join(root, file);
    if (file !== page && !existsSync(abs)) {
      if (!pending.has(file)) problems.push(`${page}:${no}: ${target}: ${file} does not exist`);
      continue;
    }
    if (anchor === null) continue;
    if (!file.endsWith('.md') || (file !== page && statSync(abs).isDirectory())) {
      problems.push(`${page}:${no}: ${target}: an anchor into ${file}, which has no headings`);
      continue;
    }
    if (!anchors(file).has(anchor)) problems.push(`${page}:${no}: ${target}: ${file} has no heading #${anchor}`);
  }
  return problems;
}

describe('the docs', () => {
  const files = markdownFiles();

  test('are found: README, CONTRIBUTING and the docs/ pages', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'README.md',
        'CONTRIBUTING.md',
        'docs/FAILURES.md',
        'docs/configuration.md',
        'docs/commands/upgrade.md',
      ]),
    );
  });

  test.each(files)('%s: every relative link and anchor resolves', (file) => {
    expect(brokenLinks(ROOT, file, readFileSync(path.join(ROOT, file), 'utf8'), PAGES_ADDED_ELSEWHERE)).toEqual([]);
  });

  test('README.md is under 15 KB and shows the upgrade flow as a Mermaid diagram', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'));
    expect(readme.byteLength).toBeLessThan(README_MAX_BYTES);
    expect(readme.toString('utf8')).toMatch(/^```mermaid\n[\s\S]*?\n```$/m);
  });

  test('the checker finds a missing file, a missing anchor and an anchor into another page', () => {
    const page = 'docs/page.md';
    const text = [
      '# A page',
      '## Where `.env` is read',
      '## Containers (`COMPOSE_FILE`)',
      'See [ok](#where-env-is-read), [ok](#containers-compose_file), [ok](../README.md#exit-codes).',
      'See [gone](nope.md), [bad](#nowhere), [bad](../README.md#no-such-heading), [ext](https://example.com/x#y).',
      '`[in code](nope.md)`',
      '```',
      '[in a fence](nope.md)',
      '```',
    ].join('\n');
    expect(brokenLinks(ROOT, page, text)).toEqual([
      'docs/page.md:5: nope.md: docs/nope.md does not exist',
      'docs/page.md:5: #nowhere: docs/page.md has no heading #nowhere',
      'docs/page.md:5: ../README.md#no-such-heading: README.md has no heading #no-such-heading',
    ]);
  });

  test("GitHub's slugs: punctuation dropped, underscores kept, repeats numbered", () => {
    expect(githubSlug('`npx zx scripts/restore.ts FILE`')).toBe('npx-zx-scriptsrestorets-file');
    expect(githubSlug("The shadow database: an app's expected schema is what its migrations build")).toBe(
      'the-shadow-database-an-apps-expected-schema-is-what-its-migrations-build',
    );
    expect([...anchorsOf('## Flags\n## Flags\n```\n# not a heading\n```\n')]).toEqual(['flags', 'flags-1']);
  });
});
