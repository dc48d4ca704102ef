import path from 'node:path';
import type { RestorePlan } from '../backup/restoreRun.ts';
import { plural } from '../plural.ts';
import { COMMON_OPTIONS, type CommandSpec } from '../cliSpec.ts';
import { EXIT, isUpkitError, UpkitError, usageError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { canAsk, confirm } from '../prompt.ts';
import { redact } from '../redact.ts';

const INVOCATION = 'npx zx scripts/restore.ts';

function describePlan(plan: RestorePlan): string[] {
  const m = plan.backup.manifest;
  const rows = Object.values(m.tables).reduce((a, b) => a + b, 0);
  const what =
    `backup ${plan.backup.path}, taken ${m.createdAt} from ${m.database} at release ` +
    `${m.release ?? 'none'} (${plural(Object.keys(m.tables).length, 'table')}, ${plural(rows, 'row')})`;
  if (!plan.swap)
    return [`This creates database ${plan.target} on ${plan.server} from ${what}.`, `${plan.live} is not changed.`];
  return [
    `This replaces database ${plan.live} on ${plan.server}` +
      `${plan.liveRelease ? ` (now at release ${plan.liveRelease})` : ''} with ${what}.`,
    `The backup is restored into ${plan.swap.restored} and checked first; ` +
      `then the names are swapped, which ends every session of ${plan.live}.`,
    `The database as it is now is kept as ${plan.swap.previous} until you drop it.`,
  ];
}

/** The operator types the name of the database that will be created or replaced. */
async function confirmByName(log: Logger, plan: RestorePlan, signal: AbortSignal): Promise<void> {
  for (const line of describePlan(plan)) log.info(line);
  const expected = plan.swap ? plan.live : plan.target;
  const { confirmed, answer } = await confirm(`Type the database name (${expected}) to go on: `, { expected, signal });
  if (!confirmed) {
    throw new UpkitError({
      code: 'restore.not_confirmed',
      exit: 'refused',
      message: `"${answer}" is not "${expected}": nothing was restored`,
      hint: `run the command again and type ${expected}, or add --yes; nothing was changed`,
    });
  }
}

export const restoreCommand: CommandSpec = {
  name: 'restore',
  directUrlUnreachable: 'warn',
  invocation: INVOCATION,
  summary:
    'Restore a verified backup, in place (the live database is kept beside it) or into a new database (--into NAME).',
  description: [
    'The backup is checked first (its .json manifest, size, sha256, ' +
      'pg_restore --list), then restored into a new database by',
    'pg_restore with parallel jobs (in one transaction when ' +
      'pg_restore runs in the compose service); that database is dropped',
    'on any failure or interruption. The result is compared with ' +
      'the manifest (row counts per table, schema fingerprint).',
    "In place, the restored database then takes the live one's name " +
      'and the live one is kept as <db>_before_restore_<UTC time>;',
    'applications lose their connections only for the swap. Asks you to type the database name unless --yes.',
  ].join('\n'),
  options: {
    ...COMMON_OPTIONS,
    yes: { type: 'boolean', description: 'do not ask for confirmation (needed without a terminal)' },
    into: {
      type: 'string',
      valueName: 'NAME',
      description: 'restore into a new database NAME beside the live one, which is not touched',
    },
    'no-owner': {
      type: 'boolean',
      description: "restore without the archive's owners and grants (pg_restore --no-owner --no-privileges)",
    },
    'from-other-database': {
      type: 'boolean',
      description: 'in place, replace the database with a backup taken from another database',
    },
    recover: {
      type: 'boolean',
      description: 'without FILE: undo what a stopped in-place restore left (connections back on, its copy dropped)',
    },
  },
  positionals: [
    {
      name: 'FILE',
      description:
        'the .dump backup to restore, a file or a directory-format folder (its FILE.json manifest must be beside it)',
      required: (v) => v.recover !== true,
    },
  ],
  async run({ values, positionals, config, log, report, signal }) {
    if (values.recover) {
      if (positionals.length)
        throw usageError(
          '--recover takes no FILE: it undoes what a stopped restore left, and restores nothing',
          `run: ${INVOCATION} --recover`,
        );
      const { recoverInterruptedRestore } = await import('../backup/leftovers.ts');
      const r = await recoverInterruptedRestore(config, log);
      if (!r.allowed && !r.dropped.length)
        log.info(
          `nothing to recover: ${config.migrationDb.database} accepts connections and no copy of a ` +
            `stopped restore is left${r.state.copies.some((c) => c.running) ? ' (a restore is running)' : ''}`,
        );
      return EXIT.ok;
    }
    if (!positionals[0]) throw usageError('missing FILE', `run: ${INVOCATION} --help`);
    const [{ NO_OWNER_ADVICE }, { restoreBackup }, { dropCommand, shellQuote, swapBackCommand }, { profileFor }] =
      await Promise.all([
        import('../backup/restore.ts'),
        import('../backup/restoreRun.ts'),
        import('../backup/swap.ts'),
        import('../../profiles/index.ts'),
      ]);
    const file = path.resolve(positionals[0]);
    const into = values.into as string | undefined;
    const yes = values.yes === true;
    const flags = (['no-owner', 'from-other-database'] as const).filter((f) => values[f]).map((f) => `--${f}`);
    const again = (extra: string[]) =>
      [
        INVOCATION,
        shellQuote(file),
        ...(into ? ['--into', shellQuote(into)] : []),
        ...flags,
        ...(yes ? ['--yes'] : []),
        ...extra,
      ].join(' ');
    if (into !== undefined && (into.trim() === '' || Buffer.byteLength(into) > 63)) {
      throw usageError(`--into needs a database name of 1 to 63 bytes, got "${into}"`, `run: ${INVOCATION} --help`);
    }
    if (!yes && !canAsk()) {
      throw new UpkitError({
        code: 'restore.no_terminal',
        exit: 'usage',
        message: 'restore asks you to type the database name, and there is no terminal to ask on; nothing was changed',
        hint: `run it on a terminal, or add --yes: ${again(['--yes'])}`,
      });
    }
    try {
      const outcome = await restoreBackup(config, log, {
        profile: profileFor(config),
        file,
        into,
        noOwner: values['no-owner'] === true,
        fromOtherDatabase: values['from-other-database'] === true,
        signal,
        onChecked: (b) => (report.backup = { path: b.path, bytes: b.manifest.bytes, sha256: b.manifest.sha256 }),
        confirm: yes ? undefined : (plan) => confirmByName(log, plan, signal),
      });
      const { plan, result, swap } = outcome;
      // A database was written: the new one (--into), or the live one swapped in place.
      report.changed = true;
      const m = plan.backup.manifest;
      report.release = { from: plan.swap ? plan.liveRelease : null, to: m.release };
      const summary =
        `${plural(result.tables, 'table')}, ${plural(result.rows, 'row')}` +
        `, pg_restore ${(result.restoreMs / 1000).toFixed(1)} s`;
      if (!plan.swap || !swap) {
        log.info(
          `restored ${plan.backup.path} into the new database ${plan.target}` +
            ` on ${plan.server} (${summary}); ${plan.live} was not changed`,
        );
        return EXIT.ok;
      }
      const drop = dropCommand(config.migrationDb, plan.swap.previous);
      report.finding(
        'info',
        'restore.previous_kept',
        `the database as it was before the restore is kept as ${plan.swap.previous}`,
        `drop it when you are satisfied: ${drop}`,
      );
      log.info(
        `restored ${plan.backup.path} into ${plan.live} on ${plan.server}` +
          ` in place (${summary}; swap window ${swap.windowMs} ms)`,
      );
      log.info(`  the database as it was before is kept as ${plan.swap.previous}`);
      log.info(`  → drop it when you are satisfied: ${drop}`);
      log.info(`  → to go back, swap the names back: ${swapBackCommand(config.migrationDb, plan.swap)}`);
      return EXIT.ok;
    } catch (err) {
      if (!isUpkitError(err) || err.code === 'interrupted') throw err;
      const hint =
        err.code === 'restore.ownership'
          ? err.hint?.replace(NO_OWNER_ADVICE, `${NO_OWNER_ADVICE}: ${again(['--no-owner'])}`)
          : err.code === 'restore.other_database'
            ? err.hint?.replace(
                'add --from-other-database',
                `add --from-other-database: ${again(['--from-other-database'])}`,
              )
            : err.hint;
      report.finding('error', err.code, err.message, hint);
      // A step that failed has already printed the reason on its line: say only what to do,
      // so that a refusal is one line, not the same line twice.
      const last = log.steps.at(-1);
      if (last?.status !== 'failed' || last.detail !== redact(err.message)) throw err;
      for (const d of err.details) log.info(`    ${d}`);
      if (hint) log.info(`  → ${hint}`);
      return err.exitCode;
    }
  },
};
