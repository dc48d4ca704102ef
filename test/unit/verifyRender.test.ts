import { describe, expect, it } from 'vitest';
import { clearSecrets, registerSecret } from '../../lib/redact.ts';
import type { VerifyFinding } from '../../verify/model.ts';
import { areaSummaries, renderHuman, renderMarkdown, summaryLine, type Versions } from '../../verify/render.ts';

const findings: VerifyFinding[] = [
  {
    area: 'schema',
    severity: 'error',
    code: 'schema.column_missing',
    message: 'column users.mfa_enabled is missing (expected boolean DEFAULT false NOT NULL)',
    hint: 'run: npx zx upgrade.ts --dry-run (1 pending migration changes the schema)',
  },
  {
    area: 'schema',
    severity: 'warning',
    code: 'schema.extra_index',
    message: 'index users_name_idx on users (btree (name)) is not in the snapshot: added by hand?',
    hint: 'nothing to do if it was added on purpose',
  },
  {
    area: 'ledgers',
    severity: 'error',
    code: 'ledger.pending',
    message: 'migration 0003_integration_status_enum is pending (not in drizzle.__drizzle_migrations)',
    hint: 'run: npx zx upgrade.ts --dry-run',
  },
  {
    area: 'seed data',
    severity: 'info',
    code: 'seed.counts',
    message: '4 organizations, 40 users, 25 permissions (25 expected), 25 grants to admin',
    hint: null,
  },
];
const areas = areaSummaries(
  { schema: 41.2, ledgers: 3.4, 'seed data': 9.9 },
  { runtime: 'HEALTHCHECK_URLS and COMPOSE_FILE are not set' },
);

describe('human output', () => {
  it('groups findings by area, one line each with its hint, then the summary line', () => {
    expect(renderHuman(findings, areas)).toBe(
      [
        'schema: 1 error',
        '  ✖ schema.column_missing  column users.mfa_enabled is missing (expected boolean DEFAULT ' +
          'false NOT NULL)  → run: npx zx upgrade.ts --dry-run (1 pending migration changes the schema)',
        '  ⚠ schema.extra_index  index users_name_idx on users (btree (name)) ' +
          'is not in the snapshot: added by hand?  → nothing to do if it was added on purpose',
        'ledgers: 1 error',
        '  ✖ ledger.pending  migration 0003_integration_status_enum is pending ' +
          '(not in drizzle.__drizzle_migrations)  → run: npx zx upgrade.ts --dry-run',
        'seed data: ok',
        '  ℹ seed.counts  4 organizations, 40 users, 25 permissions (25 expected), 25 grants to admin',
        'runtime: not checked: HEALTHCHECK_URLS and COMPOSE_FILE are not set',
        'verify: 2 errors, 1 warning (schema 0.04 s, ledgers 0.00 s, seed data 0.01 s, runtime not checked)',
      ].join('\n'),
    );
    expect(summaryLine([], areaSummaries({ schema: 10 }, {}))).toBe(
      'verify: 0 errors, 0 warnings (schema 0.01 s, ledgers not checked, seed data not checked, runtime not checked)',
    );
  });
});

describe('Markdown for a ticket', () => {
  const versions: Versions = {
    upkit: '0.1.0',
    node: 'v20.20.2',
    server: '15.18',
    release: 'v2.2',
    latest: 'v2.3',
    pgDump: '15.18 at /usr/bin/pg_dump (found via PATH)',
    database: 'pulse@db.internal:5432/config_management',
    snapshot: '0003_integration_status_enum (drizzle/meta/0003_snapshot.json)',
  };

  it('holds the versions and the findings, and no secret', () => {
    registerSecret('Hunter2-sentinel');
    try {
      const withSecret: VerifyFinding[] = [
        ...findings,
        {
          area: 'runtime',
          severity: 'error',
          code: 'runtime.endpoint',
          message: 'http://ops:Hunter2-sentinel@app/health failed | DB_PASSWORD=Hunter2-sentinel',
          hint: null,
        },
      ];
      const md = renderMarkdown(withSecret, areas, versions, new Date('2026-11-24T06:00:00Z'));
      expect(md).not.toContain('Hunter2-sentinel');
      expect(md.split('\n').slice(0, 13)).toEqual([
        '### upkit verify: 3 errors, 1 warning',
        '',
        '| | |',
        '|---|---|',
        '| upkit | 0.1.0 |',
        '| release | v2.2 (latest v2.3) |',
        '| compared with | 0003_integration_status_enum (drizzle/meta/0003_snapshot.json) |',
        '| PostgreSQL server | 15.18 |',
        '| pg_dump | 15.18 at /usr/bin/pg_dump (found via PATH) |',
        '| Node.js | v20.20.2 |',
        '| database | pulse@db.internal:5432/config_management |',
        '| checked at | 2026-11-24T06:00:00.000Z |',
        '',
      ]);
      expect(md).toContain('#### schema: 1 error (0.04 s)');
      expect(md).toContain(
        '- ✖ `schema.column_missing` column users.mfa_enabled is missing (expected boolean DEFAULT false ' +
          'NOT NULL)  \n  → `run: npx zx upgrade.ts --dry-run (1 pending migration changes the schema)`',
      );
      expect(md).toContain('#### runtime: not checked: HEALTHCHECK_URLS and COMPOSE_FILE are not set');
    } finally {
      clearSecrets();
    }
  });
});

describe('an area a lock kept from being read', () => {
  const locked: VerifyFinding[] = [
    {
      area: 'schema',
      severity: 'error',
      code: 'verify.locked',
      message:
        'schema not read for table public.roles: verification waited 5 s for a lock on ' +
        'roles held by server process 7; the report is incomplete and nothing was changed',
      hint: 'wait …',
    },
    {
      area: 'schema',
      severity: 'warning',
      code: 'schema.extra_column',
      message: 'column organizations.note is not in the snapshot: added by hand?',
      hint: null,
    },
    {
      area: 'seed data',
      severity: 'error',
      code: 'verify.locked',
      message:
        'seed data not read: verification waited 5 s for a lock on roles held ' +
        'by server process 7; the report is incomplete and nothing was changed',
      hint: 'wait …',
    },
  ];
  const timed = areaSummaries({ schema: 10, ledgers: 20, 'seed data': 5000 }, { runtime: 'not set' });

  it('is "not read" (or "partly read"), never ok, and the summary line says the report is incomplete', () => {
    const out = renderHuman(locked, timed).split('\n');
    expect(out).toContain('schema: partly read (locked)');
    expect(out).toContain('seed data: not read (locked)');
    expect(out.at(-1)).toBe(
      'verify: 2 errors, 1 warning (schema partly read, ledgers 0.02 s, seed data not read, ' +
        'runtime not checked); the report is incomplete: schema partly read, seed data not read (locked)',
    );
    expect(summaryLine(findings, areas)).not.toContain('incomplete');
  });

  it('says incomplete in the Markdown title too', () => {
    const v: Versions = {
      upkit: '0',
      node: 'v22',
      server: null,
      release: null,
      latest: null,
      pgDump: null,
      database: null,
      snapshot: null,
    };
    expect(renderMarkdown(locked, timed, v, new Date(0)).split('\n')[0]).toBe(
      '### upkit verify: 2 errors, 1 warning, incomplete',
    );
  });
});
