// Going back after an upgrade: by default, restore the backup the last run took (in place,
// through restore, so the database as it is now is kept beside it); with --down, run the
// down migration of the newest applied drizzle entry when one exists (drizzle/down/<tag>.sql)
// and remove that entry from drizzle's ledger, in one transaction.
// The engine of `rollback`, loaded only when the command runs (its spec is lib/commands/rollback.ts).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { archiveSha256 } from '../backup/archive.ts';
import { VERSION, type CommandContext } from '../cliSpec.ts';
import { loadContent } from '../content.ts';
import { profileFor } from '../../profiles/index.ts';
import { connect, withAdvisoryLock, withClient, withTransaction } from '../db.ts';
import { EXIT, UpkitError, usageError } from '../errors.ts';
import type { Client } from 'pg';
import { keptBeforeRestore } from '../backup/leftovers.ts';
import { manifestPathFor, readManifest, type BackupManifest } from '../backup/manifest.ts';
import {
  activityChanges,
  applicationRowCounts,
  rowChanges,
  writeActivity,
  type WriteActivity,
} from '../backup/writes.ts';
import { companionName } from '../backup/restoreDb.ts';
import { shellQuote, swapBackCommand } from '../backup/swap.ts';
import { envFileArgs, type Config } from '../config.ts';
import { ensureLedger, finishRun, readDrizzleLedger, readRuns, startRun, type RunRow } from '../ledger.ts';
import { restoreCommand } from './restore.ts';
import { parseSqlFile, type ParsedStatement } from '../sql/statements.ts';
import { blocking, lintStatements } from '../lint.ts';
import { configureSession } from '../apply/session.ts';
import { formatPgError, isPgError } from '../pgError.ts';
import { sessionSettings } from '../upgrade.ts';
import { takeBackup } from '../backup/run.ts';
import { setRunBackup } from '../ledger.ts';
import { plural } from '../plural.ts';

interface RestoredRun {
  command: string;
  startedAt: Date;
  releaseFrom: string | null;
  releaseTo: string | null;
  restoredFrom: string;
}

/** The run a restore cut short (restore.ts marks it with the backup it came from): the database is that backup now. */
async function lastRestore(c: Pick<Client, 'query'>): Promise<RestoredRun | undefined> {
  if ((await c.query(`select to_regclass('upkit.runs') is not null as ok`)).rows[0]?.ok !== true) return undefined;
  const { rows } = await c.query<{
    command: string;
    started_at: Date;
    release_from: string | null;
    release_to: string | null;
    restored_from: string;
  }>(
    `select command, started_at, release_from, release_to, report->>'restoredFrom' as ` +
      `restored_from from upkit.runs where report ? 'restoredFrom' order by started_at desc limit 1`,
  );
  const r = rows[0];
  return (
    r && {
      command: r.command,
      startedAt: r.started_at,
      releaseFrom: r.release_from,
      releaseTo: r.release_to,
      restoredFrom: r.restored_from,
    }
  );
}

function alreadyRolledBack(
  config: Config,
  restored: RestoredRun,
  older: RunRow | undefined,
  kept: string | undefined,
): UpkitError {
  const live = config.migrationDb.database;
  const further = older
    ? `a further rollback would restore ${older.backupPath}, taken by the ${older.command} of ` +
      `${older.startedAt.toISOString()} (${older.releaseFrom ?? 'empty'}` +
      ` → ${older.releaseTo ?? '?'}), and undo everything since`
    : 'no earlier run recorded a backup, so there is nothing further to roll back to';
  const restoredName = companionName(live, 'restore', new Date());
  const undo = kept
    ? `to undo the rollback, swap the names back: ` +
      `${swapBackCommand(config.migrationDb, { live, previous: kept, restored: restoredName })}`
    : `the database as it was before is no longer kept (no ${live}_before_restore_…)`;
  return new UpkitError({
    code: 'rollback.already_restored',
    exit: 'refused',
    message:
      `${live} was already rolled back: it is the backup ${restored.restoredFrom} that the ` +
      `${restored.command} of ${restored.startedAt.toISOString()} (${restored.releaseFrom ?? 'empty'}` +
      ` → ${restored.releaseTo ?? '?'}) took before it changed anything; ${further}`,
    hint: `${undo}; to go back further, restore a backup by hand: npx zx scripts/restore.ts FILE; nothing was changed`,
  });
}

/**
 * Refuses a backup file that is not the one the run took: the ledger records its sha256, the
 * server's system identifier and the database; the file and its manifest must still say so.
 */
async function checkRecordedBackup(run: RunRow): Promise<BackupManifest> {
  const file = run.backupPath!;
  const manifest = readManifest(manifestPathFor(file));
  if (!run.backupSha256) return manifest; // recorded before upkit kept more than the path: restore checks the manifest
  const differs: string[] = [];
  if (run.backupDatabase && manifest.database !== run.backupDatabase)
    differs.push(`its manifest names database ${manifest.database}, the run recorded ${run.backupDatabase}`);
  if (run.backupSystemIdentifier && manifest.systemIdentifier !== run.backupSystemIdentifier) {
    differs.push(
      `its manifest names server ${manifest.systemIdentifier ?? '(none)'} ` +
        `(system_identifier), the run recorded ${run.backupSystemIdentifier}`,
    );
  }
  if (manifest.sha256 !== run.backupSha256)
    differs.push(`its manifest gives sha256 ${manifest.sha256}, the run recorded ${run.backupSha256}`);
  // A directory-format backup's sha256 is that of the list of its files with theirs, as its manifest records.
  const actual = await archiveSha256(file);
  if (actual !== run.backupSha256) differs.push(`the file's sha256 is ${actual}, the run recorded ${run.backupSha256}`);
  if (!differs.length) return manifest;
  throw new UpkitError({
    code: 'rollback.backup_replaced',
    exit: 'refused',
    message:
      `${file} is not the backup the ${run.command} of ` + `${run.startedAt.toISOString()} took: ${differs.join('; ')}`,
    hint:
      `find that run's backup (npx zx scripts/status.ts lists the runs), or, if you mean this file, ` +
      `restore it by name: npx zx scripts/restore.ts ${shellQuote(file)}; nothing was changed`,
  });
}

/**
 * A down file gets what a migration gets before anything runs: the real parser (a syntax
 * error names file:line), no transaction control and nothing that cannot run in a
 * transaction (it runs in one, with the ledger change), and the destructive lint.
 */
async function checkDownFile(text: string, shown: string, allowDestructive: boolean): Promise<ParsedStatement[]> {
  const statements = await parseSqlFile(text, { file: shown, breakpoints: true });
  for (const st of statements) {
    const first =
      st.sql
        .trim()
        .split('\n')
        .find((l) => l.trim() && !l.trim().startsWith('--'))
        ?.trim()
        .slice(0, 80) ?? st.kind;
    if (st.kind === 'TransactionStmt' || !st.transactional) {
      throw new UpkitError({
        code: 'rollback.down_transaction',
        exit: 'refused',
        message:
          `${shown}:${st.line}: ` +
          `${first} ${st.kind === 'TransactionStmt' ? 'controls the transaction' : 'cannot run inside a transaction'}` +
          `: a down migration runs in one transaction with the change ` +
          `to drizzle's ledger, so that it applies whole or not at all`,
        hint:
          `remove it from ${shown} (upkit opens and commits the transaction itself), ` +
          `then run the rollback again; nothing was changed`,
      });
    }
  }
  const findings = blocking(lintStatements(statements, shown, { tableHasRows: () => undefined }));
  if (findings.length && !allowDestructive) {
    const f = findings[0]!;
    throw new UpkitError({
      code: 'rollback.down_destructive',
      exit: 'refused',
      message:
        `${f.file}:${f.line}: ` +
        `${f.message}` +
        `${findings.length > 1 ? ` (and ${plural(findings.length - 1, 'more destructive statement')})` : ''}`,
      hint:
        'if that loss is intended, add --allow-destructive (a verified backup is taken first), ' +
        'or mark the statement with -- upkit:safe <why>; nothing was changed',
    });
  }
  return statements;
}

/** What rollbackCommand runs (lib/commands/rollback.ts). */
export async function runRollback(ctx: CommandContext): Promise<number> {
  const { config, values, log, report } = ctx;
  if (!values.down) {
    if (!values.yes && !process.stdin.isTTY) {
      throw new UpkitError({
        code: 'rollback.no_terminal',
        exit: 'usage',
        message: 'rollback asks you to type the database name, and there is no terminal to ask on; nothing was changed',
        hint: `run it on a terminal, or add --yes: npx zx scripts/rollback.ts${envFileArgs(values)} --yes`,
      });
    }
    const { runs, restored, kept } = await withClient(
      config.migrationDb,
      config,
      async (c) => ({
        runs: (await readRuns(c, 50)) ?? [],
        restored: await lastRestore(c),
        kept: await keptBeforeRestore(c, config.migrationDb.database),
      }),
      { applicationName: 'upkit rollback' },
    );
    // Newest first: the last run that changed the database, whether or not upkit backed it up.
    const last = runs.find((r) => r.backupPath || (r.backupSkipped && r.status !== 'refused'));
    if (restored && (!last || restored.startedAt >= last.startedAt))
      throw alreadyRolledBack(
        config,
        restored,
        runs.find((r) => r.backupPath && r.startedAt < restored.startedAt),
        kept,
      );
    if (last && !last.backupPath) {
      throw new UpkitError({
        code: 'rollback.no_backup',
        exit: 'refused',
        message:
          `the last ${last.command} (${last.releaseFrom ?? 'empty'} → ${last.releaseTo ?? '?'}, ` +
          `${last.status}, ${last.startedAt.toISOString()}) took no backup: ${last.backupSkipped}`,
        hint:
          'restore the database from your own snapshot; an older upkit backup would undo more than ' +
          'that run (npx zx scripts/restore.ts FILE, if that is what you want); nothing was changed',
      });
    }
    if (!last)
      throw new UpkitError({
        code: 'rollback.no_backup',
        exit: 'refused',
        message: `no upkit run on ${config.migrationDb.database} recorded a backup`,
        hint: 'restore a backup by hand: npx zx scripts/restore.ts FILE; nothing was changed',
      });
    if (!existsSync(last.backupPath!))
      throw new UpkitError({
        code: 'rollback.backup_gone',
        exit: 'refused',
        message: `the last run's backup ${last.backupPath} is no longer on this machine`,
        hint: 'restore another backup: npx zx scripts/restore.ts FILE; nothing was changed',
      });
    const manifest = await checkRecordedBackup(last);
    // Rows written since the run finished (it recorded its counts and write statistics), or since the backup.
    const { after, statsAfter, now, activity } = await withClient(
      config.migrationDb,
      config,
      async (c) => {
        const { rows } = await c.query<{ r: Record<string, number> | null; s: WriteActivity | null }>(
          `select report->'rowsAfter' as r, report->'statsAfter' as s from upkit.runs where id = $1`,
          [last.id],
        );
        return {
          after: rows[0]?.r ?? null,
          statsAfter: rows[0]?.s ?? null,
          now: await applicationRowCounts(c),
          activity: await writeActivity(c),
        };
      },
      { applicationName: 'upkit rollback' },
    );
    const counted = rowChanges(after ?? manifest.tables, now);
    // An UPDATE leaves the counts as they were: the statistics' inserts, updates and deletes tell it.
    const written = activityChanges(after ? statsAfter : null, activity, new Set(counted.map((x) => x.split(' ')[0]!)));
    if (!written.comparable) {
      const note = `writes since the backup are judged by row counts only: ${written.why}`;
      report.finding('info', 'rollback.write_evidence', note);
      log.info(note);
    }
    const changed = [...counted, ...(written.comparable ? written.written : [])].sort();
    let discarded = false;
    if (changed.length) {
      const since = after
        ? `the ${last.command} of ${last.startedAt.toISOString()} finished`
        : `the backup (${manifest.createdAt})`;
      const what =
        `since ${since}, rows changed in ${plural(changed.length, 'table')}: ${changed.join(', ')}; ` +
        `a rollback keeps them only in the database it sets aside (${config.migrationDb.database}_before_restore_…)`;
      if (values.yes && !values['discard-writes']) {
        throw new UpkitError({
          code: 'rollback.writes_since_backup',
          exit: 'refused',
          message: what,
          hint:
            `look at them first (npx zx scripts/status.ts), or confirm that they may go: ` +
            `npx zx scripts/rollback.ts${envFileArgs(values)} --yes --discard-writes; nothing was changed`,
        });
      }
      discarded = true;
      report.finding('warning', 'rollback.writes_since_backup', what);
      log.warn(what);
    }
    log.info(
      `the last run with a backup: ${last.command} ${last.releaseFrom ?? 'empty'} → ${last.releaseTo ?? '?'}` +
        ` (${last.status}, ${last.startedAt.toISOString()}); restoring ${last.backupPath}`,
    );
    const code = await restoreCommand.run({
      ...ctx,
      positionals: [last.backupPath!],
      values: { ...values, into: undefined },
    });
    if (code === EXIT.ok) {
      // The restored database holds the ledger as the backup had it: the rollback adds itself.
      await withClient(
        config.migrationDb,
        config,
        async (c) => {
          const id = randomUUID();
          await ensureLedger(c);
          await startRun(c, {
            id,
            command: 'rollback',
            releaseFrom: last.releaseTo,
            releaseTo: last.releaseFrom,
            toolVersion: VERSION,
          });
          await finishRun(c, id, {
            status: 'ok',
            report: {
              rollback: {
                of: last.id,
                backup: last.backupPath,
                sha256: manifest.sha256,
                rowsSetAside: changed,
                writesDiscarded: discarded,
                writeEvidence: written.comparable
                  ? 'row counts and write statistics'
                  : `row counts only (${written.why})`,
              },
            },
          });
        },
        { applicationName: 'upkit rollback' },
      );
    }
    return code;
  }
  const profile = profileFor(config);
  const content = loadContent(profile);
  const client = await connect(config.migrationDb, config, { applicationName: 'upkit rollback' });
  try {
    const ledger = (await readDrizzleLedger(client)) ?? [];
    const applied = content.migrations.filter((m) => ledger.some((r) => r.hash === m.hash));
    const newest = applied.sort((a, b) => b.when - a.when)[0];
    if (!newest)
      throw new UpkitError({
        code: 'rollback.nothing',
        exit: 'refused',
        message: 'no drizzle entry is applied',
        hint: 'nothing to roll back',
      });
    const downFile = path.join(config.drizzleDir, 'down', `${newest.tag}.sql`);
    if (!existsSync(downFile)) {
      throw new UpkitError({
        code: 'rollback.no_down',
        exit: 'refused',
        message: `${newest.tag} has no down migration (${downFile})`,
        hint: 'restore the backup the upgrade took instead: npx zx scripts/rollback.ts; nothing was changed',
      });
    }
    const shown = downFile;
    const text = readFileSync(downFile, 'utf8');
    const statements = await checkDownFile(text, shown, values['allow-destructive'] === true);
    if (!values.yes)
      throw usageError(
        `rollback --down would run ${downFile} and remove ${newest.tag}` +
          ` from drizzle's ledger; add --yes once you are sure`,
      );
    return await withAdvisoryLock(config.migrationDb, config, 'rollback', async (lockClient) => {
      const runId = randomUUID();
      await ensureLedger(lockClient);
      await startRun(lockClient, {
        id: runId,
        command: `rollback --down ${newest.tag}`,
        releaseFrom: newest.tag,
        releaseTo: null,
        toolVersion: VERSION,
      });
      let current: ParsedStatement | undefined;
      try {
        // A verified backup first, as before any migration: the down file changes the schema.
        const backup = await takeBackup(config, log, {
          profile,
          backupDir: config.backupDir,
          keep: config.backupKeep,
          upkitVersion: VERSION,
          signal: ctx.signal,
        });
        // Stopped while the backup was taken: the down file is not started.
        if (ctx.signal.aborted) throw ctx.signal.reason;
        await setRunBackup(lockClient, runId, {
          path: backup.path,
          sha256: backup.manifest.sha256,
          systemIdentifier: backup.manifest.systemIdentifier,
          database: backup.manifest.database,
        });
        await configureSession(client, sessionSettings(config));
        await withTransaction(client, async () => {
          for (const st of statements) {
            current = st;
            await client.query(st.sql);
          }
          current = undefined;
          await client.query('delete from drizzle.__drizzle_migrations where hash = $1', [newest.hash]);
        });
        ctx.report.changed = true;
        await finishRun(lockClient, runId, { status: 'ok' });
      } catch (err) {
        await finishRun(lockClient, runId, { status: ctx.signal.aborted ? 'interrupted' : 'refused' }).catch(() => {});
        if (ctx.signal.aborted) {
          const by = ctx.signal.reason instanceof UpkitError ? ctx.signal.reason.message : 'interrupted';
          throw new UpkitError({
            code: 'interrupted',
            exit: 'interrupted',
            message:
              `${by} ${
                current
                  ? 'while the down migration ran: ' + 'its transaction was rolled back'
                  : 'before the down migration ran'
              }; ` + `${newest.tag} is still applied and nothing was changed`,
            hint:
              `run it again when ready: npx zx scripts/rollback.ts --down --yes` +
              `${values['allow-destructive'] ? ' --allow-destructive' : ''}` +
              `${values['drizzle-dir'] ? ` --drizzle-dir ${shellQuote(String(values['drizzle-dir']))}` : ''}`,
          });
        }
        if (err instanceof UpkitError) throw err;
        const where =
          current && isPgError(err)
            ? formatPgError(err, { file: shown, sql: current.sql, offset: current.offset, fileText: text })
            : null;
        throw new UpkitError({
          code: 'rollback.down_failed',
          exit: 'refused',
          message: where
            ? `${where.headline}; the down migration ran in one transaction, which was rolled back`
            : `${shown} failed and was rolled back: ${(err as Error).message}`,
          ...(where ? { details: where.details } : {}),
          hint:
            `the database stands as before: ${newest.tag} is still applied, nothing was changed; ` +
            `fix ${shown}, or restore the backup instead: npx zx scripts/rollback.ts`,
          cause: err,
        });
      }
      log.info(`ran ${downFile} and removed ${newest.tag} from drizzle's ledger`);
      return EXIT.ok;
    });
  } finally {
    await client.end().catch(() => {});
  }
}
