// `npx zx verify/index.ts`: read-only verification of an install for support staff. The
// engine is verify/ (verifyDatabase for callers with a client, runVerification for this).
import { COMMON_OPTIONS, TARGET_OPTIONS, type CommandSpec } from '../cliSpec.ts';
import { shellQuote } from '../quote.ts';
import { EXIT, usageError } from '../errors.ts';

export const verifyCommand: CommandSpec = {
  name: 'verify',
  invocation: 'npx zx verify/index.ts',
  summary:
    'Read-only checks of an install: schema against the drizzle snapshot, ' +
    'ledgers against the files, feature flags and permissions, endpoints and containers.',
  description: [
    'Changes nothing in the database it verifies: every query runs in one read-only transaction, and a role that may',
    'only read is enough. For an app (--drizzle-dir), when no cached replay of its migrations exists and the role may',
    'create databases, verify creates a scratch database beside ' +
      "it (marked as upkit's), replays the migrations there to",
    'learn the expected schema, and drops it; --no-shadow creates nothing (the cache, else the snapshot serves).',
    'Exit 0 when nothing is wrong (warnings and notes allowed), 4 when a check found an error, 2 for a usage or',
    'configuration problem, 3 when the database cannot be reached, 5 when another upkit run (an upgrade) holds the',
    "lock: the report is still printed, and what it finds pending is that run's work in progress. A lock that keeps",
    'verify from reading an area 5 s (ledgers, seed data) marks that area not read, names its holder, and exits 5',
    '(4 when what was read has an error): the other areas are read and reported.',
  ].join('\n'),
  options: {
    ...COMMON_OPTIONS,
    ...TARGET_OPTIONS,
    markdown: {
      type: 'boolean',
      description: 'print a block to paste into a ticket (versions and findings; secrets redacted)',
    },
    'drizzle-dir': {
      type: 'string',
      valueName: 'PATH',
      description: "verify against another app's drizzle folder (UPKIT_DRIZZLE_DIR): no Pulse seed or release checks",
    },
    'no-shadow': {
      type: 'boolean',
      description:
        "an app's folder: create no scratch database to replay its migrations in; a cached replay, else its snapshot",
    },
  },
  readOnly: true,
  overrides: (v) => ({ drizzleDir: v['drizzle-dir'] as string | undefined }),
  async run({ config, log, report, values, json, out, signal }) {
    const markdown = values.markdown === true;
    if (json && markdown)
      throw usageError(
        '--json and --markdown cannot be used together',
        'run: npx zx verify/index.ts --json, or --markdown',
      );
    const again = [
      'npx zx verify/index.ts',
      ...(['dotenv', 'env-file', 'drizzle-dir'] as const).flatMap((k) =>
        typeof values[k] === 'string' ? [`--${k}`, shellQuote(values[k] as string)] : [],
      ),
    ].join(' ');
    const [{ renderHuman, renderMarkdown }, { describeRunInProgress }, { runVerification }, { profileFor }] =
      await Promise.all([
        import('../../verify/render.ts'),
        import('../../verify/runInProgress.ts'),
        import('../../verify/run.ts'),
        import('../../profiles/index.ts'),
      ]);
    const result = await runVerification(config, log, report, {
      profile: profileFor(config),
      versions: markdown,
      again,
      shadow: values['no-shadow'] !== true,
      signal,
    });
    const text = markdown
      ? renderMarkdown(result.findings, result.areas, result.versions, new Date())
      : renderHuman(result.findings, result.areas);
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
    // An area not read: said last, one line each with who holds the lock. What was read still
    // counts: an error found there is exit 4 (DESIGN's order: 4 before 5), else the lock's 5.
    const locked = result.findings.filter((f) => f.code === 'verify.locked');
    for (const f of locked) {
      log.error(f.message);
      if (f.hint) log.info(`  → ${f.hint}`);
    }
    if (result.findings.some((f) => f.severity === 'error' && f.code !== 'verify.locked')) return EXIT.verification;
    if (locked.length) return EXIT.locked;
    return result.hasErrors ? EXIT.verification : EXIT.ok;
  },
};
