// Read-only: is the platform up? Polls HEALTHCHECK_URLS until each answers 2xx and checks
// that the database is at the latest release, within HEALTH_TIMEOUT (or --timeout).
import { COMMON_OPTIONS, type CommandSpec } from '../cliSpec.ts';
import { EXIT, usageError } from '../errors.ts';

function parseTimeoutFlag(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) === 0)
    throw usageError(
      `--timeout must be a whole number of milliseconds above 0, got "${raw}"`,
      'run: npx zx scripts/health.ts --help',
    );
  return Number(raw);
}

export const healthCommand: CommandSpec = {
  name: 'health',
  invocation: 'npx zx scripts/health.ts',
  summary: 'Poll HEALTHCHECK_URLS until the platform is started, healthy and migrated.',
  description: [
    'Each endpoint is asked with growing waits (250 ms doubling to 5 s) until it answers 2xx or the',
    'timeout (HEALTH_TIMEOUT ms, default 120000) runs out: "started" means it answered HTTP at all,',
    '"healthy" that it answered 2xx. "migrated": the database (DATABASE_URL) is at the latest release',
    "with nothing pending in drizzle's ledger. Without HEALTHCHECK_URLS only the database is checked",
    '(said as such, exit 0 when it is migrated). Changes nothing. Exit 0 when all pass, 6 when one fails.',
  ].join('\n'),
  options: {
    ...COMMON_OPTIONS,
    timeout: {
      type: 'string',
      valueName: 'MS',
      description: 'give up after MS milliseconds (default: HEALTH_TIMEOUT, else 120000)',
    },
  },
  readOnly: true,
  async run({ config, values, log, report, signal }) {
    const timeoutMs = parseTimeoutFlag(values.timeout as string | undefined);
    const [{ checkHealth, healthFindings, HealthError }, { profileFor }] = await Promise.all([
      import('../health/index.ts'),
      import('../../profiles/index.ts'),
    ]);
    if (!config.healthcheckUrls.length)
      log.info('endpoints not checked: HEALTHCHECK_URLS is not set (the database is still checked)');
    try {
      const result = await checkHealth(config, log, { profile: profileFor(config), timeoutMs, signal });
      for (const f of healthFindings(result)) report.finding(f.severity, f.code, f.message, f.hint ?? undefined);
      log.info(
        result.configured ? 'platform started, healthy and migrated' : 'database migrated; endpoints not configured',
      );
      return EXIT.ok;
    } catch (err) {
      if (err instanceof HealthError)
        for (const f of healthFindings(err.result)) report.finding(f.severity, f.code, f.message, f.hint ?? undefined);
      throw err;
    }
  },
};
