// `npx zx verify/index.ts`: read-only verification of an install for support staff. The
// engine is verify/ (verifyDatabase for callers with a client, runVerification for this).
import { COMMON_OPTIONS, type CommandSpec } from '../cli.ts';
import { EXIT, usageError } from '../errors.ts';
import { renderHuman, renderMarkdown } from '../../verify/render.ts';
import { describeRunInProgress } from '../../verify/runInProgress.ts';
import { runVerification } from '../../verify/run.ts';

export const verifyCommand: CommandSpec = {
  name: 'verify',
  invocation: 'npx zx verify/index.ts',
  summary: 'Read-only checks of an install: schema against the drizzle snapshot, ledgers against the files, feature flags and permissions, endpoints and containers.',
  description: [
    'Changes nothing: every query runs in one read-only transaction, and a role that may only read is enough.',
    'Exit 0 when nothing is wrong (warnings and notes allowed), 4 when a check found an error, 2 for a usage or',
    'configuration problem, 3 when the database cannot be reached, 5 when another upkit run (an upgrade) holds the',
    'lock: the report is still printed, and what it finds pending is that run\'s work in progress.',
  ].join('\n'),
  options: {
    ...COMMON_OPTIONS,
    markdown: { type: 'boolean', description: 'print a block to paste into a ticket (versions and findings; secrets redacted)' },
    'drizzle-dir': { type: 'string', valueName: 'PATH', description: "verify against another app's drizzle folder (UPKIT_DRIZZLE_DIR): no Pulse seed or release checks" },
    'no-shadow': { type: 'boolean', description: "an app's folder: create no scratch database to replay its migrations in; a cached replay, else its snapshot" },
  },
  readOnly: true,
  overrides: (v) => ({ drizzleDir: v['drizzle-dir'] as string | undefined }),
  async run({ config, log, report, values, json, out, signal }) {
    const markdown = values.markdown === true;
    if (json && markdown) throw usageError('--json and --markdown cannot be used together', 'run: npx zx verify/index.ts --json, or --markdown');
    const result = await runVerification(config, log, report, { versions: markdown, shadow: values['no-shadow'] !== true, signal });
    const text = markdown ? renderMarkdown(result.findings, result.areas, result.versions, new Date()) : renderHuman(result.findings, result.areas);
    log.debug(`output:\n${text}`);
    out(text);
    if (result.running) {
      // Said last, so that it is the line a person reads under the report.
      const { message, hint } = describeRunInProgress(result.running, config.migrationDb.database);
      report.finding('error', 'verify.run_in_progress', message, hint);
      log.error(message);
      log.info(`  → ${hint}`);
      return EXIT.locked;
    }
    return result.hasErrors ? EXIT.verification : EXIT.ok;
  },
};
