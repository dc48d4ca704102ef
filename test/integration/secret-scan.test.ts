// One scan over every command upkit has, successes and failures alike, run by a role whose
// password holds every character that URLs, pass files and shells treat specially. While
// they run, every process's command line on the machine is sampled; afterwards every place
// upkit writes is read back: stdout, stderr, log files, JSON reports, backup manifests, the
// runs ledger, and the temporary directory the runs were given.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_KEY } from '../../lib/db.ts';
import { runUpkit, sampleArgv, type RunResult } from '../support/cli.ts';
import { backupArgs, backupsTestable, connectTo, useFreshDatabase, withAdminClient } from '../support/database.ts';
import { drizzleFolderWith } from '../support/drizzleFolders.ts';
import { buildRelease } from '../support/releases.ts';

const SENTINEL = 'Zq9 s3cr@t:/%pa ss#w0rd';
/** Every form the password could leak in: as typed, percent-encoded (both cases), and a stem. */
const FORMS = [
  SENTINEL,
  encodeURIComponent(SENTINEL),
  encodeURIComponent(SENTINEL).toLowerCase(),
  SENTINEL.replace(/:/g, '\\:'),
  'Zq9 s3cr',
];

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

interface Step {
  name: string;
  entry: string;
  args: string[];
  env: Record<string, string>;
  code: number;
  cwd?: string;
  /** Runs before the step (e.g. takes the lock); its result is undone by the returned function. */
  around?: () => Promise<() => Promise<void>>;
  /** Needs a backup: left out where no pg_dump here can dump the server (serverInfo().backups). */
  backup?: true;
}

describe('secret scan', () => {
  const db = useFreshDatabase();

  it('keeps a password with @ : / % # and spaces out of every argv, output, log, report, manifest and ledger row', {
    timeout: 300_000,
  }, async () => {
    const role = `upkit_scan_${process.pid}`;
    const work = mkdtempSync(path.join(tmpdir(), 'upkit-scan-'));
    const dirs = {
      tmp: path.join(work, 'tmp'),
      backups: path.join(work, 'backups'),
      cwd: path.join(work, 'cwd'),
      install: path.join(work, 'install'),
    };
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
    const installDb = `${db().database}_inst`;
    const copyDb = `${db().database}_copy`;
    await withAdminClient((c) => c.query(`create role ${role} login superuser password '${SENTINEL}'`));
    const url = (database: string, host = db().host, port = db().port) =>
      `postgres://${role}:${encodeURIComponent(SENTINEL)}@${host}:${port}/${database}`;
    const parts = {
      DB_HOST: db().host,
      DB_PORT: String(db().port),
      DB_USER: role,
      DB_PASSWORD: SENTINEL,
      DB_NAME: db().database,
    };
    const base = { TMPDIR: dirs.tmp, BACKUP_DIR: dirs.backups };
    const envFile = path.join(work, 'pulse.env');
    writeFileSync(envFile, `DATABASE_URL=${url(db().database)}\n`, { mode: 0o600 });

    try {
      // The database an operator upgrades: Pulse v1.0 with data, so the upgrade backs up and migrates.
      const c = await connectTo(db().url);
      try {
        await buildRelease(c, 'v1.0', { data: { users: 20 } });
      } finally {
        await c.end();
      }
      // One migration that applies, then one that fails: the run stops after changes began.
      const failing = drizzleFolderWith(
        {
          tag: '0004_scan_marker',
          sql: 'CREATE TABLE "scan_marker" ("id" integer PRIMARY KEY);',
          when: 1_900_000_000_000,
        },
        { tag: '0005_fails', sql: 'SELECT 1 / 0;', when: 1_900_000_001_000 },
      );
      const dumpFile = () =>
        readdirSync(dirs.backups)
          .filter((f) => f.endsWith('.dump'))
          .sort()
          .at(-1)!;

      const dbEnv = { ...base, DATABASE_URL: url(db().database) };
      // Where no pg_dump here can dump the server, upgrades, installs and preflights run with
      // --no-backup and the steps that need a backup are left out.
      const nb = backupArgs();
      const all: Step[] = [
        { name: 'preflight (URL)', entry: 'scripts/preflight.ts', args: [...nb], env: dbEnv, code: 0 },
        {
          name: 'preflight (DB_* parts, JSON)',
          entry: 'scripts/preflight.ts',
          args: ['--json', ...nb],
          env: { ...base, ...parts },
          code: 0,
        },
        {
          name: 'preflight (--env-file)',
          entry: 'scripts/preflight.ts',
          args: ['--json', '--env-file', envFile, ...nb],
          env: base,
          code: 0,
        },
        {
          name: 'install into a missing database',
          entry: 'install.ts',
          args: ['--yes', '--no-containers', '--json', ...nb],
          env: { ...base, DATABASE_URL: url(installDb) },
          code: 0,
          cwd: dirs.install,
        },
        {
          name: 'install refused on an existing install',
          entry: 'install.ts',
          args: ['--yes', '--no-containers', ...nb],
          env: { ...base, DATABASE_URL: url(installDb) },
          code: 3,
          cwd: dirs.install,
        },
        { name: 'upgrade dry run', entry: 'upgrade.ts', args: ['--dry-run', '--json'], env: dbEnv, code: 0 },
        {
          name: 'upgrade v1.0 → latest with backup',
          entry: 'upgrade.ts',
          args: ['--yes', '--json', ...nb],
          env: dbEnv,
          code: 0,
        },
        { name: 'verify', entry: 'verify/index.ts', args: [], env: dbEnv, code: 0 },
        { name: 'verify --json', entry: 'verify/index.ts', args: ['--json'], env: { ...base, ...parts }, code: 0 },
        { name: 'verify --markdown', entry: 'verify/index.ts', args: ['--markdown'], env: dbEnv, code: 0 },
        {
          name: 'verify finding problems',
          entry: 'verify/index.ts',
          args: ['--json', '--drizzle-dir', failing],
          env: dbEnv,
          code: 4,
        },
        { name: 'status', entry: 'scripts/status.ts', args: [], env: dbEnv, code: 0 },
        { name: 'status --json', entry: 'scripts/status.ts', args: ['--json'], env: dbEnv, code: 0 },
        {
          name: 'health (database only)',
          entry: 'scripts/health.ts',
          args: ['--json', '--timeout', '2000'],
          env: dbEnv,
          code: 0,
        },
        {
          name: 'migration failing after changes began',
          entry: 'upgrade.ts',
          args: ['--yes', '--json', '--drizzle-dir', failing, ...nb],
          env: dbEnv,
          code: 1,
        },
        { name: 'backup', entry: 'scripts/backup.ts', args: ['--json'], env: dbEnv, code: 0, backup: true },
        {
          name: 'restore --into',
          entry: 'scripts/restore.ts',
          args: ['@dump', '--yes', '--json', '--into', copyDb],
          env: dbEnv,
          code: 0,
          backup: true,
        },
        {
          name: 'restore in place',
          entry: 'scripts/restore.ts',
          args: ['@dump', '--yes'],
          env: dbEnv,
          code: 0,
          backup: true,
        },
        {
          name: 'rollback to the last backup',
          entry: 'scripts/rollback.ts',
          args: ['--yes', '--json'],
          env: dbEnv,
          code: 0,
          backup: true,
        },
        // Failures: each one's message is where a careless tool would echo the connection.
        {
          name: 'wrong password',
          entry: 'upgrade.ts',
          args: ['--yes', '--json', ...nb],
          env: { ...base, ...parts, DB_PASSWORD: `${SENTINEL}x` },
          code: 3,
        },
        {
          name: 'unreachable host',
          entry: 'scripts/preflight.ts',
          args: ['--json'],
          env: { ...base, DATABASE_URL: url(db().database, '127.0.0.1', 1) },
          code: 3,
        },
        {
          name: 'malformed URL (password not encoded)',
          entry: 'upgrade.ts',
          args: ['--yes'],
          env: { ...base, DATABASE_URL: `postgres://${role}:${SENTINEL}@${db().host}:${db().port}/${db().database}` },
          code: 2,
        },
        {
          name: 'password pasted into the wrong key',
          entry: 'scripts/status.ts',
          args: ['--json'],
          env: { ...base, ...parts, DATABASE_SSL: SENTINEL },
          code: 2,
        },
        {
          name: 'missing database',
          entry: 'verify/index.ts',
          args: ['--markdown'],
          env: { ...base, DATABASE_URL: url(`${db().database}_missing`) },
          code: 3,
        },
        {
          name: 'restore of a corrupt file',
          entry: 'scripts/restore.ts',
          args: ['@corrupt', '--yes', '--into', `${copyDb}2`],
          env: dbEnv,
          code: 3,
          backup: true,
        },
        {
          name: 'second run while the lock is held',
          entry: 'upgrade.ts',
          args: ['--yes', '--json', ...nb],
          env: dbEnv,
          code: 5,
          around: async () => {
            const holder = await connectTo(db().url, 'upkit scan lock holder');
            await holder.query('select pg_advisory_lock($1, $2)', [LOCK_KEY.classId, LOCK_KEY.objId]);
            return async () => void (await holder.end());
          },
        },
      ];
      const steps = all.filter((step) => backupsTestable() || !step.backup);

      const runs: Array<{ step: Step; result: RunResult }> = [];
      const { commandLines } = await sampleArgv(async () => {
        for (const step of steps) {
          const args = step.args.map((a) => {
            if (a === '@dump') return path.join(dirs.backups, dumpFile());
            if (a !== '@corrupt') return a;
            const corrupt = path.join(work, 'corrupt.dump');
            const good = path.join(dirs.backups, dumpFile());
            const bytes = readFileSync(good);
            bytes.fill(0x41, 64, Math.min(bytes.length, 4096));
            writeFileSync(corrupt, bytes, { mode: 0o600 });
            writeFileSync(`${corrupt}.json`, readFileSync(`${good}.json`), { mode: 0o600 });
            return corrupt;
          });
          const undo = step.around ? await step.around() : undefined;
          try {
            // As operators start it (`npx zx FILE`): every argv the sampler reads is theirs.
            const result = await runUpkit(step.entry, args, {
              env: step.env,
              cwd: step.cwd ?? dirs.cwd,
              timeoutMs: 120_000,
              via: 'zx',
            });
            runs.push({ step, result });
          } finally {
            await undo?.();
          }
        }
      }, 5);

      expect(runs).toHaveLength(steps.length);
      const leaks: string[] = [];
      const scan = (where: string, text: string) => {
        for (const form of FORMS) if (text.includes(form)) leaks.push(`${where} holds "${form}"`);
      };
      for (const { step, result } of runs) {
        expect(result.code, `${step.name}: ${result.stderr}`).toBe(step.code);
        if (step.args.includes('--json'))
          expect(() => result.json(), `${step.name} wrote one JSON report`).not.toThrow();
        expect(result.logs().length, `${step.name} wrote a log file`).toBeGreaterThan(0);
        scan(`${step.name}: stdout`, result.stdout);
        scan(`${step.name}: stderr`, result.stderr);
        for (const file of filesUnder(result.logDir)) {
          expect(statSync(file).mode & 0o777, `${file} is 0600`).toBe(0o600);
          scan(`${step.name}: log ${path.basename(file)}`, readFileSync(file, 'latin1'));
        }
      }
      // The sampler saw upkit and its children (pg_dump, pg_restore) run.
      const lines = [...commandLines];
      expect(lines.some((l) => l.includes('upgrade.ts'))).toBe(true);
      if (backupsTestable()) {
        expect(lines.some((l) => /\bpg_dump\b/.test(l))).toBe(true);
        expect(lines.some((l) => /\bpg_restore\b/.test(l))).toBe(true);
      }
      for (const line of lines) scan(`argv "${line.slice(0, 80)}"`, line);

      // Backups and their manifests (the archives hold Pulse's data, never a role's password).
      const backupFiles = filesUnder(dirs.backups);
      if (backupsTestable()) expect(backupFiles.some((f) => f.endsWith('.dump.json'))).toBe(true);
      for (const file of backupFiles) {
        expect(statSync(file).mode & 0o777, `${file} is 0600`).toBe(0o600);
        scan(`backup ${path.basename(file)}`, readFileSync(file, 'latin1'));
      }
      // Nothing upkit wrote to its temporary directory outlived it or holds the password.
      for (const file of filesUnder(dirs.tmp)) scan(`temporary ${file}`, readFileSync(file, 'latin1'));
      expect(
        filesUnder(dirs.tmp).filter((f) => !f.includes('tsx')),
        'files left in TMPDIR',
      ).toEqual([]);
      // The runs ledger (with each run's JSON report) in every database the runs wrote to.
      for (const database of backupsTestable() ? [db().database, installDb, copyDb] : [db().database, installDb]) {
        const rows = await withAdminClient(
          (c) => c.query('select row_to_json(r)::text as row from upkit.runs r'),
          database,
        );
        expect(rows.rowCount, `${database} has runs`).toBeGreaterThan(0);
        for (const { row } of rows.rows as Array<{ row: string }>) scan(`${database} upkit.runs`, row);
      }
      // The .env that install wrote is the one place a password belongs: it is 0600.
      expect(statSync(path.join(dirs.install, '.env')).mode & 0o777).toBe(0o600);
      expect(leaks).toEqual([]);
    } finally {
      await withAdminClient(async (c) => {
        const { rows } = await c.query(`select datname from pg_database where datname like $1 or datname = $2`, [
          `${db().database}%`,
          installDb,
        ]);
        for (const { datname } of rows as Array<{ datname: string }>) {
          await c.query(`drop database if exists ${c.escapeIdentifier(datname)} with (force)`);
        }
        await c.query(`drop role if exists ${role}`);
      });
    }
  });
});
