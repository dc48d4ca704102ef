// An upgrade over targets on a terminal without --yes: every plan first (read-only), then ONE
// question for all of them; no target asks on its own. The terminal is a pseudo-terminal made
// by util-linux `script`, the answer typed into it.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../failures/check.ts';
import { column, table, writeAppFolder } from '../support/appFolders.ts';
import { freshDatabase, withClientAt, type TestDatabase } from '../support/database.ts';
import { hasScript, onTerminal } from '../support/terminal.ts';

const NAMES = ['alpha', 'beta', 'gamma'];
const QUESTION =
  'Apply these plans to 3 databases (alpha, beta, gamma; ' +
  'each is backed up first unless --no-backup)? Type yes to go on: ';

describe.skipIf(!hasScript)('targets: an upgrade on a terminal asks once', () => {
  let dbs: TestDatabase[] = [];
  let cwd: string;
  let env: Record<string, string>;
  beforeEach(async () => {
    dbs = await Promise.all(NAMES.map(() => freshDatabase()));
    cwd = tempDir('upkit-targets-tty-');
    for (const name of NAMES) {
      writeAppFolder(
        [{ tag: '0000_init', sql: `CREATE TABLE "${name}_items" ("id" integer PRIMARY KEY NOT NULL);` }],
        {
          tables: Object.fromEntries([
            table('public', `${name}_items`, [column('id', 'integer', { primaryKey: true, notNull: true })]),
          ]),
        },
        path.join(cwd, 'apps', name),
      );
    }
    writeFileSync(
      path.join(cwd, 'upkit.targets.json'),
      JSON.stringify({
        targets: NAMES.map((name) => ({
          name,
          url: `${name.toUpperCase()}_URL`,
          profile: { drizzleDir: `apps/${name}` },
        })),
      }),
    );
    env = Object.fromEntries(NAMES.map((n, i) => [`${n.toUpperCase()}_URL`, dbs[i]!.url]));
  });
  afterEach(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });
  const ledger = (url: string) =>
    withClientAt(
      url,
      async (c) =>
        (
          await c
            .query(`select count(*)::int as n from drizzle.__drizzle_migrations`)
            .catch(() => ({ rows: [{ n: 0 }] }))
        ).rows[0].n as number,
    );

  it('shows every plan, asks once, then applies them all', async () => {
    const r = await onTerminal(cwd, env, ['--all', '--no-containers', '--no-backup'], 'yes');
    expect(r.code, r.output).toBe(0);
    expect(r.output.split('Type yes to go on:').length - 1, 'one question for all targets').toBe(1);
    expect(r.output).toContain(QUESTION);
    // The plans (a table of all three) come before the question.
    const plans = r.output.indexOf('plans:\ntarget ');
    expect(plans).toBeGreaterThan(-1);
    expect(plans).toBeLessThan(r.output.indexOf(QUESTION));
    expect(await Promise.all(dbs.map((d) => ledger(d.url)))).toEqual([1, 1, 1]);
  }, 120_000);

  it('an answer other than yes changes nothing anywhere: exit 3', async () => {
    const r = await onTerminal(cwd, env, ['--all', '--no-containers', '--no-backup'], 'no');
    expect(r.code, r.output).toBe(3);
    expect(r.output).toContain('✖ stopped before any change: the plans were not confirmed; nothing was changed');
    expect(r.output).toContain(
      '  → run: npx zx upgrade.ts --all --no-containers --no-backup again and type yes (or add --yes)',
    );
    expect(await Promise.all(dbs.map((d) => ledger(d.url)))).toEqual([0, 0, 0]);
  }, 120_000);

  it('Ctrl-C at the question: exit 130, nothing changed', async () => {
    const r = await onTerminal(cwd, env, ['--all', '--no-containers', '--no-backup'], '\u0003');
    expect(r.code, r.output).toBe(130);
    expect(r.output).toMatch(/^alpha +empty → 0000_init +interrupted \(exit 130\)/m);
    expect(r.output).toContain('✖ interrupted before the plans were confirmed; nothing was changed');
    expect(await Promise.all(dbs.map((d) => ledger(d.url)))).toEqual([0, 0, 0]);
  }, 120_000);
});
