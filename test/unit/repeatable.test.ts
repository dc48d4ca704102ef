// Repeatable SQL without a database: the folder read in name order with each file's sha256
// and required roles, and what a file's statements define (lib/repeatable/objects.ts).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRepeatableDir, requiredRoles } from '../../lib/repeatable/files.ts';
import { definedObjects } from '../../lib/repeatable/objects.ts';
import { parseSqlFile } from '../../lib/sql/statements.ts';

const defined = async (sql: string) =>
  definedObjects(await parseSqlFile(sql, { file: 'x.sql', breakpoints: false })).map((o) => o.what);

describe('the repeatable folder', () => {
  it('lists *.sql files in code point order with the sha256 of their bytes; none without a folder', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'upkit-rep-'));
    writeFileSync(path.join(dir, 'b.sql'), 'select 2;');
    writeFileSync(path.join(dir, 'B.sql'), 'select 3;');
    writeFileSync(path.join(dir, 'a.sql'), 'select 1;');
    writeFileSync(path.join(dir, 'notes.txt'), 'not sql');
    mkdirSync(path.join(dir, 'c.sql'));
    const files = readRepeatableDir(dir);
    expect(files.map((f) => f.file)).toEqual(['B.sql', 'a.sql', 'b.sql']);
    expect(files[1]!.checksum).toBe(createHash('sha256').update('select 1;').digest('hex'));
    expect(readRepeatableDir(path.join(dir, 'absent'))).toEqual([]);
    expect(readRepeatableDir(undefined)).toEqual([]);
  });

  it('reads the roles a file requires from the comments that open it, never from later ones', () => {
    expect(
      requiredRoles(
        '-- upkit:requires-role pulse_support\n-- why\n\n-- ' +
          'upkit:requires-role other\nGRANT x TO y;\n-- upkit:requires-role late\n',
      ),
    ).toEqual(['pulse_support', 'other']);
    expect(requiredRoles('GRANT x TO y;\n-- upkit:requires-role late\n')).toEqual([]);
  });
});

describe('what a repeatable file defines', () => {
  it('views, materialized views, functions, policies, triggers, row level security and grants', async () => {
    expect(
      await defined(`CREATE OR REPLACE VIEW s.v AS SELECT 1;
        CREATE MATERIALIZED VIEW mv AS SELECT 1;
        CREATE OR REPLACE FUNCTION f(a int, out b int) RETURNS int LANGUAGE sql AS 'select 1';
        CREATE PROCEDURE p() LANGUAGE sql AS 'select 1';
        ALTER TABLE t ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON t USING (true);
        CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();
        GRANT SELECT, INSERT ON t, s.u TO reader, PUBLIC;
        GRANT USAGE ON SCHEMA s TO reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;
        GRANT CONNECT ON DATABASE d TO reader;`),
    ).toEqual([
      'view s.v',
      'materialized view mv',
      'function f (1 argument)',
      'procedure p (0 arguments)',
      'row level security on t',
      'policy own on t',
      'trigger tr on t',
      'SELECT on t to reader',
      'INSERT on t to reader',
      'SELECT on t to PUBLIC',
      'INSERT on t to PUBLIC',
      'SELECT on s.u to reader',
      'INSERT on s.u to reader',
      'SELECT on s.u to PUBLIC',
      'INSERT on s.u to PUBLIC',
      'USAGE on schema s to reader',
      'SELECT on every table in schema public to reader',
      'CONNECT on database d to reader',
    ]);
  });

  it(
    'ALL PRIVILEGES is each privilege of the kind; ' + 'column grants, REVOKE and DO blocks define nothing checked',
    async () => {
      expect(await defined('GRANT ALL ON SCHEMA s TO r;')).toEqual([
        'USAGE on schema s to r',
        'CREATE on schema s to r',
      ]);
      expect(
        await defined(
          'GRANT SELECT (a) ON t TO r; REVOKE SELECT ON t FROM r; ' +
            "DO $$ BEGIN EXECUTE 'CREATE VIEW v AS SELECT 1'; END $$;",
        ),
      ).toEqual([]);
    },
  );

  it('a DROP later in the file takes back what it defined earlier, and a drop-then-create keeps it', async () => {
    expect(
      await defined(
        'CREATE VIEW v AS SELECT 1; DROP VIEW v; CREATE POLICY p ON t USING (true); DROP POLICY p ON t; ' +
          'ALTER TABLE t ENABLE ROW LEVEL SECURITY; ALTER TABLE t DISABLE ROW LEVEL SECURITY;',
      ),
    ).toEqual([]);
    expect(
      await defined(
        'DROP VIEW IF EXISTS v; CREATE VIEW v AS SELECT 1; DROP FUNCTION IF EXISTS f(int); ' +
          "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'select 1';",
      ),
    ).toEqual(['view v', 'function f (1 argument)']);
  });
});
