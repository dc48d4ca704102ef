// Hardening cases: the expected schema of an app is what its migrations build (a shadow
// database), and names compare as PostgreSQL stores them (63 bytes). See test/failures/catalogue.ts.
import type { FailureCase } from '../types.ts';

const TEST = 'failures-shadow.test.ts';
const CACHE_HINT =
  'to compare with what the migrations build, run verify once as a role that ' +
  'may create databases (CREATEDB), or upgrade with one: the replay is cached';

export const shadowCases: FailureCase[] = [
  {
    id: 'shadow.snapshot-disagrees',
    group: 'verify',
    title: "An app's last snapshot disagrees with what its SQL builds",
    did:
      "Built an app's database with drizzle-orm's own migrate() from a folder whose SQL adds " +
      "an enum value BEFORE another (drizzle-kit's snapshot lists it at the end) " +
      'and a hand-written NOT NULL DEFAULT the snapshot lacks, then ran verify. verify used to report the pristine ' +
      'database broken (exit 4) with hints to ALTER it away from what the migrations made.',
    entry: 'verify/index.ts',
    args: ['--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', UPKIT_CACHE_DIR: '{cache}' },
    severity: 'warning',
    code: 'snapshot.disagrees',
    message:
      "for the app's developers: {dir}/meta/0001_snapshot.json disagrees with what the migrations up to " +
      '0001_regions build (3 differences; "expected" is what the snapshot says): column users.region is NOT ' +
      "NULL, expected to allow NULL; column users.region has default 'eu'::text, expected none; " +
      "enum account_status has ('active', 'suspended', 'archived'), " +
      "expected ('active', 'archived', 'suspended'): values in another order",
    hint:
      "nothing to do for the database: verify compares it with what the migrations build; the app's developers " +
      'can bring the snapshot in line (npx drizzle-kit generate, or a migration that makes what the snapshot says)',
    exit: 0,
    changed:
      'nothing in the database; a scratch database `<db>_shadow_<UTC time>` was created on the same server, ' +
      'the journal replayed into it, its catalog read, and dropped (none is left in pg_database); ' +
      'the catalog it read is cached (0600) under UPKIT_CACHE_DIR (default `cache/`)',
    test: TEST,
    note:
      'The fixture (test/fixtures/drizzle-shadow) also has a foreign key, an index and a ' +
      'unique constraint whose names are over 63 bytes (one cut inside a two-byte character) ' +
      'and a 60-byte table whose primary key PostgreSQL names itself: none is reported renamed. ' +
      '`install.ts --drizzle-dir` on an empty database ends with the same warning and exit 0.',
  },
  {
    id: 'shadow.no-createdb',
    group: 'verify',
    title: 'verify as a role that may not create databases, nothing cached',
    did:
      'Ran verify of an app folder as a read-only role (NOCREATEDB) ' +
      'on a server where no replay of the journal was cached.',
    entry: 'verify/index.ts',
    args: ['--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', UPKIT_CACHE_DIR: '{cache}' },
    severity: 'info',
    code: 'verify.expected_schema',
    message:
      'expected schema from the snapshot: role {user} may not create databases ' +
      '(no CREATEDB), so the migrations were not replayed into a scratch database',
    hint: CACHE_HINT,
    exit: 0,
    changed: 'nothing: no database was created; verify compared with the last snapshot and said so',
    test: TEST,
    note:
      'Once a role that may (the migration role, during an upgrade or install) ' +
      'has replayed the journal, the cached replay serves every later verify, whatever the role: ' +
      'the test checks that a NOCREATEDB role then compares with the replay.',
  },
  {
    id: 'shadow.no-shadow',
    group: 'verify',
    title: 'verify --no-shadow, nothing cached: names over 63 bytes',
    did:
      'Ran verify --no-shadow (create nothing on the server) of an app whose ' +
      'constraint and index names are over 63 bytes. verify used to compare the full names, ' +
      'warn that each was "renamed" and suggest a RENAME CONSTRAINT that fails.',
    entry: 'verify/index.ts',
    args: ['--drizzle-dir', '{dir}', '--no-shadow'],
    env: { DATABASE_URL: '{url}', UPKIT_CACHE_DIR: '{cache}' },
    severity: 'info',
    code: 'verify.expected_schema',
    message: 'expected schema from the snapshot: --no-shadow was given and no replay of this journal is cached',
    hint:
      'run without --no-shadow to replay the migrations into a ' +
      'scratch database (created and dropped; the result is cached)',
    exit: 0,
    changed:
      'nothing; no schema.renamed finding: names from the snapshot are cut to 63 bytes at a character boundary ' +
      'as PostgreSQL cuts them, and a primary key PostgreSQL named itself is named as makeObjectName() does',
    test: TEST,
  },
  {
    id: 'shadow.replay-fails',
    group: 'verify',
    title: 'The migrations cannot be replayed (an extension the role may not create)',
    did:
      'Ran verify as a role with CREATEDB but not superuser, of an app whose migration runs CREATE EXTENSION ' +
      'pg_stat_statements (an extension only a superuser may create); ' +
      'an administrator had created it in the live database.',
    entry: 'verify/index.ts',
    args: ['--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', UPKIT_CACHE_DIR: '{cache}' },
    severity: 'info',
    code: 'verify.expected_schema',
    message:
      'expected schema from the snapshot: the migrations could not be replayed into a scratch database: ' +
      '{dir}/0001_stats.sql:1: permission denied to create extension "pg_stat_statements" (SQLSTATE 42501)',
    hint:
      'run verify once as the role that runs the migrations (with CREATEDB): ' +
      'the replay is cached for every later verify',
    exit: 0,
    changed: 'nothing in the database; the scratch database was dropped (none is left)',
    test: TEST,
    note:
      'An extension the server lacks (no package installed) ends the same way, with the hint to install it. ' +
      'Extensions the live database has that no migration creates are created in the scratch database first.',
  },
  {
    id: 'shadow.server-wide',
    group: 'verify',
    title: 'Migrations that change what the whole server shares',
    did:
      'Verified an app whose migrations create a role, change its connection limit, comment on, grant on and set ' +
      'a parameter of the database, and drop a role in a DO block. Replayed beside the live database, ' +
      "they would change the live database's comment, " +
      'grants and settings and drop a role every database of the server may use.',
    entry: 'verify/index.ts',
    args: ['--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', UPKIT_CACHE_DIR: '{cache}' },
    severity: 'info',
    code: 'verify.expected_schema',
    message:
      'expected schema from the snapshot: the migrations could not be replayed into a scratch database: ' +
      '{dir}/0002_cleanup.sql:1: a DO block that changes what the whole server shares (roles, ' +
      'databases, tablespaces, settings) is not replayed into a scratch database',
    hint:
      'nothing to do on the server: upkit never replays such a ' +
      'statement beside the live database, so the snapshot serves',
    exit: 0,
    changed:
      "nothing: the role, the live database's comment, grants and settings " +
      'are as the operator left them since; no scratch database is left',
    test: TEST,
    note:
      'Statements on roles, databases, tablespaces, server settings and subscriptions (ALTER/DROP ROLE, ' +
      'GRANT role, ALTER DATABASE, COMMENT ON/GRANT ON DATABASE, ALTER SYSTEM, …) are skipped by ' +
      "the replay: they change nothing verify compares, and the live database's own run made them. " +
      'CREATE ROLE is skipped where the role exists; where it does not, or a DO block alters or drops ' +
      'such objects or creates a role the server lacks, the replay stops before it and the snapshot serves. ' +
      'Without the DO block the test checks that the replay runs and changes none of them.',
  },
  {
    id: 'shadow.interrupted',
    group: 'verify',
    title: 'Ctrl-C while the shadow database is being built',
    did: 'Pressed Ctrl-C (SIGINT) while verify replayed the migrations into its scratch database.',
    entry: 'verify/index.ts',
    args: ['--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', UPKIT_CACHE_DIR: '{cache}' },
    code: 'interrupted',
    message: 'interrupted by SIGINT; verify only reads, so nothing was changed',
    hint: 'run: npx zx verify/index.ts again when ready',
    exit: 130,
    changed:
      'nothing; the scratch database was dropped before verify ' +
      'ended (none is left in pg_database), and nothing was cached',
    test: TEST,
    json: false,
  },
  {
    id: 'shadow.leftover',
    group: 'verify',
    title: 'A shadow database left by a run that was killed',
    did:
      'A verify was killed (kill -9) while it replayed the migrations, ' +
      'leaving its scratch database; then verify ran again.',
    entry: 'verify/index.ts',
    args: ['--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', UPKIT_CACHE_DIR: '{cache}' },
    severity: 'info',
    code: 'shadow.leftover_dropped',
    message: 'dropped {name}, a shadow database left by a run that was stopped (pid {pid} on {host} no longer runs)',
    hint: null,
    exit: 0,
    changed:
      'the leftover was dropped: its name and its marker (COMMENT ON DATABASE: this database, ' +
      "this server, a process of this host that no longer runs, no session in it) prove it upkit's; " +
      'one that cannot be proven is named with the command that drops it, and left alone',
    test: TEST,
  },
];
