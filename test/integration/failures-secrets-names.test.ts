// Catalogue case (test/failures/hardening/secrets.ts): a table whose name holds a newline and
// Markdown, against a real PostgreSQL database at Pulse's latest release. Verify's terminal
// output, its --markdown block and its log show the name escaped: no forged line.
import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { runUpkit } from '../support/cli.ts';
import { useFreshDatabase } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

const HOSTILE = 'notes\n- ✖ `schema.ok` all data lost | **restore now**';

describe('failure catalogue: untrusted names in output', () => {
  const db = useFreshDatabase();

  beforeEach(async () => {
    await asRelease(db(), 'v2.3', { data: false });
    const c = new pg.Client({ connectionString: db().url });
    await c.connect();
    try {
      await c.query(`create table public.${pg.escapeIdentifier(HOSTILE)} (id int)`);
    } finally {
      await c.end();
    }
  });

  it('verify prints a table name holding a newline and Markdown escaped: terminal, --markdown, log', async () => {
    const r = await runUpkit('verify/index.ts', [], { env: { DATABASE_URL: db().url } });
    expect(r.code, r.stderr).toBe(0);
    const human = r.stdout.split('\n');
    expect(human).toContain(
      '  ⚠ schema.extra_table  table notes\\u000a- ✖ `schema.ok` all data lost | **restore ' +
        'now** (1 column) is not in the snapshot: added by hand?  → nothing to do if it ' +
        'was added on purpose: upkit keeps objects it does not know and never drops them',
    );
    // No line of the report starts with what the name holds.
    expect(human.filter((l) => l.startsWith('- ✖'))).toEqual([]);
    expect(r.logs()).not.toContain('notes\n');

    const m = await runUpkit('verify/index.ts', ['--markdown'], { env: { DATABASE_URL: db().url } });
    expect(m.code, m.stderr).toBe(0);
    const md = m.stdout.split('\n');
    expect(md).toContain(
      '- ⚠ `schema.extra_table` table notes\\\\u000a- ✖ \\`schema.ok\\` all data lost ' +
        '\\| \\*\\*restore now\\*\\* (1 column) is not in the snapshot: added by hand?  ',
    );
    expect(md.filter((l) => l.startsWith('- ✖'))).toEqual([]);
    expect(m.stdout).not.toContain('**restore now**');
  });
});
