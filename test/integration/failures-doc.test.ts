// docs/FAILURES.md and the failure tests share one source, test/failures/catalogue.ts: the
// page must be exactly what the catalogue renders, and every case must be run by the test
// file it names (and only cases of the catalogue may be run there).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CASES } from '../failures/catalogue.ts';
import { placeholders } from '../failures/match.ts';
import { DOC_PATH, renderFailuresDoc } from '../failures/render.ts';
import { GROUPS } from '../failures/types.ts';
import { ROOT } from '../support/cli.ts';

/** A name with a file's extension: `package.json`, `tsconfig.json`, `upgrade.ts`. */
const FILE_NAME = /\.(json|ts|js|mjs|cjs|sql|md|ya?ml)$/;

const TEST_DIR = path.join(ROOT, 'test/integration');

describe('the failure catalogue', () => {
  it('docs/FAILURES.md is what the catalogue renders (regenerate: npx tsx test/failures/render.ts)', () => {
    expect(existsSync(DOC_PATH), DOC_PATH).toBe(true);
    expect(readFileSync(DOC_PATH, 'utf8')).toBe(renderFailuresDoc());
  });

  it('has at least 30 cases with unique ids, one-line messages and documented exit codes', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
    for (const c of CASES) {
      expect(c.message, c.id).not.toMatch(/\n/);
      expect(c.hint ?? '', c.id).not.toMatch(/\n/);
      expect([0, 1, 2, 3, 4, 5, 6, 130], c.id).toContain(c.exit);
      expect(Object.keys(GROUPS), c.id).toContain(c.group);
      expect(c.changed.length, c.id).toBeGreaterThan(0);
      // A usage or refusal leaves the database as it was; the doc must say so.
      if (c.exit === 2 || c.exit === 3 || c.exit === 5) expect(c.changed, c.id).toMatch(/^nothing/);
      expect(
        placeholders(c.message).every((p) => /^[a-zA-Z]\w*$/.test(p)),
        c.id,
      ).toBe(true);
    }
  });

  it('every case is run by the test file it names, and those files run no case the catalogue lacks', () => {
    const files = readdirSync(TEST_DIR).filter((f) => /^failures-.*\.test\.ts$/.test(f));
    const text = new Map(files.map((f) => [f, readFileSync(path.join(TEST_DIR, f), 'utf8')]));
    for (const c of CASES) {
      expect(files, `${c.id} names ${c.test}`).toContain(c.test);
      expect(text.get(c.test), `${c.test} runs ${c.id}`).toContain(`'${c.id}'`);
    }
    const known = new Set(CASES.map((c) => c.id));
    for (const [file, source] of text) {
      for (const m of source.matchAll(/failureCase\('([^']+)'\)|^\s*'([a-z-]+\.[a-z0-9.-]+)',?$/gm)) {
        const id = m[1] ?? m[2]!;
        // A file name alone on its line (a list of files to copy) is not a case id: no case ends so.
        if (m[2] && FILE_NAME.test(id)) continue;
        expect(known.has(id), `${file} names ${id}, which the catalogue lacks`).toBe(true);
      }
    }
  });
});
