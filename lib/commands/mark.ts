// Marks one ledger entry applied without running it, or resets it, for the cases a person
// has settled by hand (a migration applied manually, an entry to run again). Under the run
// lock, after confirmation, and recorded in upkit.runs.
import { randomUUID } from 'node:crypto';
import { COMMON_OPTIONS, VERSION, type CommandSpec } from '../cliSpec.ts';
import { EXIT, UpkitError, usageError } from '../errors.ts';
import { confirm } from '../prompt.ts';
import { shellQuote } from '../quote.ts';

export const markCommand: CommandSpec = {
  name: 'mark',
  invocation: 'npx zx scripts/mark.ts',
  summary:
    'Mark a drizzle migration (by tag) or a legacy file applied ' +
    'without running it, or remove it from the ledger with --reset.',
  description:
    'Asks for confirmation unless --yes (and refuses without a terminal and ' +
    'without --yes). Takes the run lock and records what it did in upkit.runs.',
  options: {
    ...COMMON_OPTIONS,
    yes: { type: 'boolean', description: 'do not ask for confirmation' },
    reset: { type: 'boolean', description: 'remove the entry from the ledger instead' },
    'drizzle-dir': {
      type: 'string',
      valueName: 'PATH',
      description: "another app's drizzle folder (UPKIT_DRIZZLE_DIR)",
    },
  },
  positionals: [
    {
      name: 'ENTRY',
      description: 'a drizzle tag (e.g. 0002_audit_logs) or a legacy file (e.g. upgrade.sql)',
      required: true,
    },
  ],
  overrides: (v) => ({ drizzleDir: v['drizzle-dir'] as string | undefined }),
  async run({ config, values, positionals, log, report, signal }) {
    const { recordDrizzle } = await import('../apply/drizzle.ts');
    const { loadContent } = await import('../content.ts');
    const { profileFor } = await import('../../profiles/index.ts');
    const { connect, withAdvisoryLock, withTransaction } = await import('../db.ts');
    const { ensureLedger, finishRun, readDrizzleLedger, startRun } = await import('../ledger.ts');
    const name = positionals[0]!;
    const reset = values.reset === true;
    const content = loadContent(profileFor(config));
    const migration = content.migrations.find((m) => m.tag === name || `${m.tag}.sql` === name);
    const legacy = content.legacy?.files.find((f) => f.file === name);
    if (!migration && !legacy) {
      const entries = [...content.migrations.map((m) => m.tag), ...(content.legacy?.files.map((f) => f.file) ?? [])];
      throw usageError(`no drizzle entry or legacy file is called "${name}"`, `entries: ${entries.join(', ')}`);
    }
    const what =
      `${reset ? 'remove' : 'record'} ` +
      `${migration ? `drizzle entry ${migration.tag}` : `legacy file ${legacy!.file}`} ` +
      `${reset ? 'from' : 'as applied in'} the ledger of ${config.migrationDb.database} (nothing is run)`;
    if (!values.yes) {
      const noTerminal = () =>
        usageError(
          `mark would ${what}, and there is no terminal to confirm it`,
          'run it again with --yes once you are sure',
        );
      if (!(await confirm(`This will ${what}. Type yes to go on: `, { signal, noTerminal })).confirmed) {
        log.info('nothing was changed');
        return EXIT.refused;
      }
    }
    return withAdvisoryLock(config.migrationDb, config, 'mark', async (lockClient) => {
      const client = await connect(config.migrationDb, config, { applicationName: 'upkit mark' });
      const runId = randomUUID();
      try {
        await ensureLedger(lockClient);
        await startRun(lockClient, {
          id: runId,
          command: `mark${reset ? ' --reset' : ''} ${name}`,
          releaseFrom: null,
          releaseTo: null,
          toolVersion: VERSION,
        });
        const changed = await withTransaction(client, async () => {
          if (migration) {
            const rows = (await readDrizzleLedger(client)) ?? [];
            const present = rows.some((r) => r.hash === migration.hash);
            if (reset) {
              const { rowCount } = await client.query(
                'delete from drizzle.__drizzle_migrations where hash = $1 or created_at = $2',
                [migration.hash, migration.when],
              );
              await client.query('delete from upkit.migration_parts where tag = $1', [migration.tag]);
              return (rowCount ?? 0) > 0;
            }
            if (present) return false;
            if (rows.some((r) => r.createdAt === migration.when)) {
              throw new UpkitError({
                code: 'mark.edited',
                exit: 'refused',
                message: `${migration.tag} is recorded with another hash (the file changed after it was applied)`,
                hint: `reset it first: npx zx scripts/mark.ts ${shellQuote(migration.tag)} --reset --yes`,
              });
            }
            await recordDrizzle({ client }, migration);
            return true;
          }
          if (reset)
            return (
              ((await client.query('delete from upkit.legacy_migrations where file = $1', [legacy!.file])).rowCount ??
                0) > 0
            );
          const r = await client.query(
            `insert into upkit.legacy_migrations (file, checksum, duration_ms, ` +
              `method, run_id) values ($1, $2, 0, 'file', $3) on conflict do nothing`,
            [legacy!.file, legacy!.checksum, runId],
          );
          return (r.rowCount ?? 0) > 0;
        });
        await finishRun(lockClient, runId, { status: 'ok', report: { entry: name, reset, changed } });
        log.info(
          changed
            ? `done: ${what.replace(' (nothing is run)', '')}`
            : `nothing to do: ${name} is already ${reset ? 'absent from' : 'in'} the ledger`,
        );
        if (reset && changed) {
          // The way back, pasted as is: the entry is recorded again without being run.
          const entry = migration ? migration.tag : legacy!.file;
          log.info(
            `  → to record it as applied again: npx zx scripts/mark.ts ` +
              `${shellQuote(entry)} --yes; to run it instead: npx zx upgrade.ts`,
          );
        }
        report.applied.push({ kind: migration ? 'drizzle' : 'legacy', name, durationMs: 0 });
        return EXIT.ok;
      } catch (err) {
        await finishRun(lockClient, runId, { status: 'refused' }).catch(() => {});
        throw err;
      } finally {
        await client.end().catch(() => {});
      }
    });
  },
};
