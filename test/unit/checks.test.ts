import { describe, expect, it } from 'vitest';
import { extensionPackage } from '../../lib/checks/extensions.ts';
import { intentsOf, type Intent } from '../../lib/checks/intents.ts';
import { writeProblems, type WriteFacts } from '../../lib/checks/role.ts';
import { parseSqlFile } from '../../lib/sql/statements.ts';

async function intents(sql: string): Promise<Intent[]> {
  return intentsOf([{ file: 'x.sql', statements: await parseSqlFile(sql, { file: 'x.sql', breakpoints: false }) }]);
}

function brief(i: Intent): string {
  const rel = 'rel' in i ? `${i.rel.schema ? `${i.rel.schema}.` : ''}${i.rel.name}` : '';
  switch (i.kind) {
    case 'extension':
      return `extension ${i.name}`;
    case 'owns':
      return `owns ${rel} (${i.does})`;
    case 'writes':
      return `writes ${i.privilege} ${rel}`;
    case 'retype':
    case 'drop_column':
      return `${i.kind} ${rel}.${i.column}`;
    case 'set_not_null':
      return `set_not_null ${rel}.${i.column}${i.filled ? ' filled' : ''}`;
    case 'add_not_null':
      return `add_not_null ${rel}.${i.column}`;
    case 'create_table':
      return (
        `create_table ${rel}${i.ifNotExists ? ' if not exists' : ''} [` +
        `${i.columns.map((c) => `${c.name} ${c.type}${c.notNull ? '!' : ''}`).join(', ')}` +
        `] later ${JSON.stringify(i.later)}`
      );
    default:
      return `${i.kind} ${rel}`;
  }
}

describe('intents of pending statements', () => {
  it('reads what each statement does to existing objects, in order', async () => {
    const found = (
      await intents(
        `
      CREATE EXTENSION IF NOT EXISTS "vector";
      CREATE TABLE IF NOT EXISTS app.t (id serial PRIMARY KEY, a int NOT NULL, b varchar(5));
      ALTER TABLE app.t ADD COLUMN IF NOT EXISTS c text, ALTER COLUMN b SET NOT NULL, ALTER COLUMN a TYPE bigint;
      ALTER TABLE "Users" DROP COLUMN legacy, DROP COLUMN gone CASCADE;
      UPDATE "Users" SET nick = '' WHERE nick IS NULL;
      ALTER TABLE "Users" ALTER COLUMN nick SET NOT NULL, ALTER COLUMN email SET NOT NULL, ` +
          `ADD COLUMN must int NOT NULL, ADD COLUMN fine int NOT NULL DEFAULT 0;
      DROP VIEW v; DROP TABLE old_t; DROP TABLE gone_t CASCADE;
      CREATE INDEX ON s.u (x); INSERT INTO s.u VALUES (1); DELETE FROM s.u WHERE x = 1;
    `,
      )
    ).map(brief);
    expect(found).toEqual([
      'extension vector',
      'create_table app.t if not exists [id serial!, a int4!, ' +
        'b varchar] later {"added":["c"],"notNull":["b"],"retyped":["a"]}',
      'set_not_null app.t.b',
      'retype app.t.a',
      'owns app.t (adds a column to)',
      'drop_column Users.legacy',
      'owns Users (drops a column of)',
      'writes UPDATE Users',
      'set_not_null Users.nick filled',
      'set_not_null Users.email',
      'add_not_null Users.must',
      'owns Users (sets NOT NULL on)',
      'drop_view v',
      'drop_table old_t',
      'owns old_t (drops)',
      'owns gone_t (drops)',
      'owns s.u (creates an index on)',
      'writes INSERT s.u',
      'writes DELETE s.u',
    ]);
  });
});

describe('unique indexes and foreign keys a pending statement adds', () => {
  it('renders their columns, and marks tables an earlier statement or DO block writes', async () => {
    const found = (
      await intents(
        `
      CREATE UNIQUE INDEX IF NOT EXISTS u1 ON users (lower(email), "Org");
      CREATE UNIQUE INDEX u2 ON users (a) WHERE b IS NULL;
      CREATE UNIQUE INDEX u3 ON users ((a + b));
      ALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY (id), ADD CONSTRAINT t_fk FOREIGN KEY (o) ` +
          `REFERENCES orgs (id), ADD CONSTRAINT t_nv FOREIGN KEY (o) REFERENCES orgs (id) NOT VALID;
      DO $$ BEGIN UPDATE "orgs" SET id = id; END $$;
      ALTER TABLE t ADD CONSTRAINT t_fk2 FOREIGN KEY (o) REFERENCES orgs (id);
      DELETE FROM users WHERE a IS NULL;
      ALTER TABLE users ADD CONSTRAINT users_a UNIQUE (a);
    `,
      )
    ).flatMap((i) => {
      if (i.kind === 'unique')
        return [`${i.what} ${i.name} ${i.rel.name} (${i.columns.join(', ')})${i.touched ? ' touched' : ''}`];
      if (i.kind === 'foreign_key')
        return [
          `fk ${i.name} ${i.rel.name} (${i.columns.join(', ')}) ` +
            `→ ${i.ref.name} (${i.refColumns.join(', ')})${i.touched ? ' touched' : ''}`,
        ];
      return [];
    });
    expect(found).toEqual([
      'creates unique index u1 users (lower(email), "Org")',
      'adds primary key t_pk t (id)',
      'fk t_fk t (o) → orgs (id)',
      'fk t_fk2 t (o) → orgs (id) touched',
      'adds unique constraint users_a users (a) touched',
    ]);
  });
});

describe('a session that cannot write', () => {
  const facts = (over: Partial<WriteFacts>): WriteFacts => ({
    user: 'Ops "Admin"',
    database: 'Pulse db',
    inRecovery: false,
    readOnlyDefault: false,
    readOnlySource: 'default',
    canCreate: true,
    ...over,
  });

  it('passes a writable primary', () => {
    expect(writeProblems(facts({}))).toEqual([]);
  });

  it('refuses a standby, pointing at the primary', () => {
    expect(writeProblems(facts({ inRecovery: true })).map((p) => [p.code, p.hint])).toEqual([
      [
        'check.standby',
        'point DATABASE_URL (or DIRECT_URL) at the primary server, then run: npx zx scripts/preflight.ts',
      ],
    ]);
  });

  it('names where default_transaction_read_only comes from, with identifiers quoted', () => {
    const hint = (source: string) => writeProblems(facts({ readOnlyDefault: true, readOnlySource: source }))[0]!.hint;
    expect(hint('user')).toBe(
      'as an administrator: ALTER ROLE "Ops ""Admin""" RESET default_transaction_read_only; ' +
        'then run the upgrade again; nothing was changed',
    );
    expect(hint('database')).toBe(
      'as an administrator: ALTER DATABASE "Pulse db" RESET default_transaction_read_only; ' +
        'then run the upgrade again; nothing was changed',
    );
    expect(hint('database user')).toBe(
      'as an administrator: ALTER ROLE "Ops ""Admin""" IN DATABASE "Pulse db" RESET ' +
        'default_transaction_read_only; then run the upgrade again; nothing was changed',
    );
    expect(hint('client')).toContain("remove -c default_transaction_read_only=on from the connection's options");
    expect(hint('configuration file')).toBe(
      'as an administrator: ALTER ROLE "Ops ""Admin""" SET default_transaction_read_only = off; ' +
        'then run the upgrade again; nothing was changed',
    );
  });
});

describe('the package of an extension', () => {
  it('names well-known ones for the server major, and none for the unknown', () => {
    expect(extensionPackage('vector', 16)).toBe('postgresql-16-pgvector');
    expect(extensionPackage('postgis', 15)).toBe('postgresql-15-postgis-3');
    expect(extensionPackage('pg_trgm', 15)).toContain('postgresql-contrib');
    expect(extensionPackage('uuid-ossp', 14)).toContain('postgresql14-contrib');
    expect(extensionPackage('pulse_fuzzy', 15)).toBeNull();
  });
});
