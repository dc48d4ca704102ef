// What a backup says about the files it found beside its own: partial files it removed or
// left to another writer, backups retention kept because they are not provably this
// server's, a backup folder others can write. Each is a warning: the ⚠ line, its hint, and a
// finding when the command has a report.
import type { Logger } from '../log.ts';
import { shellQuote, sqlIdent } from '../quote.ts';
import type { ReportBuilder } from '../report.ts';
import type { Retention } from './files.ts';
import type { ServerIdentity } from './manifest.ts';
import { STALE_AFTER_MS, type PartialSweep } from './partial.ts';
import { plural } from '../plural.ts';

/** A warning: ⚠ line, its hint, and a finding when the command has a report. */
export function warn(
  log: Logger,
  report: ReportBuilder | undefined,
  code: string,
  message: string,
  hint: string,
): void {
  report?.finding('warning', code, message, hint);
  log.warn(message);
  log.info(`  → ${hint}`);
}

function minutes(ms: number): number {
  return Math.floor(ms / 60_000);
}

export function reportPartials(log: Logger, report: ReportBuilder | undefined, sweep: PartialSweep): void {
  for (const p of sweep.removed) {
    const why = p.why === 'ended' ? `pid ${p.pid} on this host has ended` : `untouched for ${minutes(p.silentMs)} min`;
    warn(
      log,
      report,
      'backup.partial_removed',
      `removed ${p.name}, left by an interrupted backup (${why})`,
      'nothing to do: it was never a verified backup',
    );
  }
  for (const p of sweep.foreign ?? []) {
    warn(
      log,
      report,
      'backup.partial_foreign',
      `left ${p.name} alone: it holds files upkit's pg_dump does not write ` +
        `(${p.files.slice(0, 3).join(', ')}${p.files.length > 3 ? ', …' : ''})`,
      'look inside and remove it yourself if nothing in it is needed; ' +
        'upkit never removes what it cannot prove it wrote',
    );
  }
  for (const p of sweep.live) {
    const who = p.host ? `host ${p.host}, pid ${p.pid}` : `pid ${p.pid}`;
    warn(
      log,
      report,
      'backup.partial_live',
      `left ${p.name} alone: another backup may still be writing it (${who}, ` +
        `last written ${Math.round(p.silentMs / 1000)} s ago)`,
      `nothing to do: its writer renames or removes it; left untouched ` +
        `for ${minutes(STALE_AFTER_MS)} min, it is removed by the next backup`,
    );
  }
}

export function reportRetention(
  log: Logger,
  report: ReportBuilder | undefined,
  target: { database: string; user: string },
  server: ServerIdentity | null,
  kept: Retention,
  justWritten: string,
): void {
  const database = target.database;
  if (kept.otherServers.length) {
    const where = [
      ...new Set(
        kept.otherServers.map(
          (b) => `${b.manifest.host}:${b.manifest.port}, system identifier ${b.manifest.systemIdentifier}`,
        ),
      ),
    ].join('; ');
    warn(
      log,
      report,
      'backup.other_server',
      `kept ${plural(kept.otherServers.length, 'backup')} of a database named ${database}` +
        ` that another server wrote (${where}): retention removes only this server's backups`,
      'give each server its own BACKUP_DIR (or --backup-dir) to keep their backups apart',
    );
  }
  const unproven = kept.unproven.filter((b) => b.path !== justWritten);
  if (!unproven.length) return;
  const files = unproven
    .flatMap((b) => [b.path, b.manifestPath])
    .map(shellQuote)
    .join(' ');
  if (!server) {
    warn(
      log,
      report,
      'backup.server_unknown',
      `kept ${plural(unproven.length, 'older backup')} of ${database}: this role cannot read the server's ` +
        `system identifier (pg_control_system()), and retention removes only backups it can prove are this server's`,
      `let it read the identity (as an administrator, in this database: GRANT EXECUTE ON FUNCTION ` +
        `pg_control_system() TO ${sqlIdent(target.user)};) ` +
        `or remove them by hand when they are no longer needed: rm -- ${files}`,
    );
    return;
  }
  warn(
    log,
    report,
    'backup.unproven',
    `kept ${plural(unproven.length, 'backup')} of ${database} whose manifest does not say which server it ` +
      `came from (written by an older upkit): retention removes only backups it can prove are this server's`,
    `remove them by hand when they are no longer needed: rm -- ${files}`,
  );
}
