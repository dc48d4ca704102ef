// The targets file, the flags that choose targets, the order targets run in and the combined
// exit code: pure parts, no database.
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUpkitError, type UpkitError } from '../../lib/errors.ts';
import { localize, targetEnvironment } from '../../lib/targets/env.ts';
import { parseTargets } from '../../lib/targets/file.ts';
import { takeTargetFlags, wantsTargets } from '../../lib/targets/flags.ts';
import { renderTable, worstExit } from '../../lib/targets/report.ts';
import { schedule } from '../../lib/targets/schedule.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'upkit-targets-unit-'));
mkdirSync(path.join(dir, 'apps/orders'), { recursive: true });
const file = path.join(dir, 'upkit.targets.json');

function refusal(doc: unknown): UpkitError {
  try {
    parseTargets(typeof doc === 'string' ? doc : JSON.stringify(doc), file);
  } catch (err) {
    if (isUpkitError(err)) return err;
    throw err;
  }
  throw new Error('expected the targets file to be refused');
}

describe('targets file', () => {
  const ok = { name: 'orders', url: 'ORDERS_DATABASE_URL', profile: { drizzleDir: 'apps/orders' } };

  it('reads a target: paths relative to the file, after without repeats', () => {
    const t = parseTargets(
      JSON.stringify({
        targets: [
          ok,
          { name: 'pulse', prefix: 'PULSE_', profile: 'pulse', backupDir: 'b', after: ['orders', 'orders'] },
        ],
      }),
      file,
    ).targets;
    expect(t[0]!.profile).toEqual({ kind: 'app', drizzleDir: path.join(dir, 'apps/orders') });
    expect(t[1]).toMatchObject({
      name: 'pulse',
      prefix: 'PULSE_',
      profile: { kind: 'pulse' },
      backupDir: path.join(dir, 'b'),
      after: ['orders'],
    });
  });

  it('names the file and the JSON path of each bad entry, all at once, exit 2', () => {
    const err = refusal({
      targets: [
        ok,
        { name: 'orders', url: 'X', profile: 'pulse', colour: 'red' },
        { name: '1bad', prefix: 'A-B', profile: 'mysql' },
      ],
    });
    expect(err.exitCode).toBe(2);
    expect(err.code).toBe('targets.invalid');
    expect(err.message).toBe(`${file} has 5 problems`);
    expect(err.details).toEqual([
      '$.targets[1].colour: is not a known key (known: name, url, prefix, directUrl, profile, backupDir, after)',
      '$.targets[1].name: "orders" is already the name of $.targets[0] (names are unique, whatever their case)',
      '$.targets[2].name: must be a name of letters, digits, _ and - (starting with a letter, at most 63 characters)',
      '$.targets[2].prefix: must be a prefix of letters, ' +
        'digits and _ (e.g. "ORDERS_" for ORDERS_DB_HOST, ORDERS_DB_NAME, …)',
      '$.targets[2].profile: must be "pulse" or {"drizzleDir": "path"} for an app',
    ]);
  });

  it('refuses a password-looking field anywhere, and a URL with a password where a variable name belongs', () => {
    expect(refusal({ targets: [{ ...ok, password: 'x' }] }).message).toMatch(
      /\$\.targets\[0\]: has a field that looks like a password \(password\)/,
    );
    expect(refusal({ targets: [{ ...ok, profile: { drizzleDir: 'apps/orders', dbPass: 'x' } }] }).message).toMatch(
      /\$\.targets\[0\]\.profile: has a field that looks like a password \(dbPass\)/,
    );
    expect(refusal({ targets: [ok], apiToken: 'x' }).message).toMatch(
      /\$: has a field that looks like a password \(apiToken\)/,
    );
    expect(refusal({ targets: [{ ...ok, url: 'postgres://u:s3cret@h/db' }] }).message).toMatch(
      /\$\.targets\[0\]\.url: holds a connection URL with a password/,
    );
  });

  it('refuses unknown names in after and cycles, before anything runs', () => {
    expect(refusal({ targets: [{ ...ok, after: ['billing'] }] }).message).toBe(
      `${file}: $.targets[0].after: names "billing", which is no target (targets: orders)`,
    );
    const cycle = refusal({
      targets: [
        { ...ok, after: ['c'] },
        { name: 'b', url: 'B', profile: 'pulse', after: ['orders'] },
        { name: 'c', url: 'C', profile: 'pulse', after: ['b'] },
      ],
    });
    expect(cycle.message).toBe(
      `${file}: $.targets[0].after: makes a cycle: orders → c → b → orders; no order can satisfy it`,
    );
  });

  it('refuses what is not a list of targets', () => {
    expect(refusal('{"targets": [').message).toMatch(/^.*: \$: is not valid JSON \(/);
    expect(refusal({ targets: [] }).message).toBe(`${file}: $.targets: must be a list of at least one target`);
    expect(refusal({ targets: [{ name: 'x', profile: 'pulse' }] }).message).toMatch(/names no connection/);
  });
});

describe('target environment', () => {
  const target = { name: 'orders', prefix: 'ORDERS_', profile: { kind: 'pulse' as const }, after: [] };
  it('puts the prefixed variables in the keys loadConfig reads and hides the single-database ones', () => {
    const env = targetEnvironment(
      target,
      {
        DATABASE_URL: 'postgres://x@h/other',
        DB_NAME: 'other',
        ORDERS_DB_HOST: 'h',
        ORDERS_DB_USER: 'u',
        ORDERS_DB_NAME: 'orders',
        ORDERS_DB_PASSWORD: 'pw',
        UPKIT_DRIZZLE_DIR: '/elsewhere',
        LOCK_TIMEOUT: '300',
      },
      '/srv',
    );
    expect(env).toMatchObject({
      DB_HOST: 'h',
      DB_USER: 'u',
      DB_NAME: 'orders',
      DB_PASSWORD: 'pw',
      LOCK_TIMEOUT: '300',
      BACKUP_DIR: '/srv/backups/orders',
    });
    // Present and undefined: they hide the .env file's values too.
    expect('DATABASE_URL' in env && env.DATABASE_URL === undefined).toBe(true);
    expect(env.UPKIT_DRIZZLE_DIR).toBeUndefined();
  });
  it('names the prefixed variables that are missing', () => {
    expect(() => targetEnvironment(target, { ORDERS_DB_HOST: 'h' }, '/srv')).toThrow(
      'orders: ORDERS_DB_USER, ORDERS_DB_NAME are not set (its prefix ORDERS_)',
    );
  });
  it("speaks of the target's own variables and commands", () => {
    expect(localize('check the password (DB_PASSWORD), then run: npx zx scripts/preflight.ts', target, '')).toBe(
      'check the password (ORDERS_DB_PASSWORD), then run: npx zx scripts/preflight.ts --target orders',
    );
    expect(
      localize(
        'DATABASE_URL is wrong; npx zx upgrade.ts --dry-run',
        { ...target, prefix: undefined, url: 'ORDERS_URL' },
        " --targets '/a b.json'",
      ),
    ).toBe("ORDERS_URL is wrong; npx zx upgrade.ts --targets '/a b.json' --target orders --dry-run");
  });
});

describe('target flags', () => {
  it('takes them out of the command line and leaves the rest', () => {
    const f = takeTargetFlags(
      ['--target', 'a', '--json', '--target=b,c', '--concurrency=2', '--fail-fast', '--targets', 't.json', '--yes'],
      'npx zx upgrade.ts',
    );
    expect(f).toEqual({
      names: ['a', 'b', 'c'],
      all: false,
      targetsFile: 't.json',
      concurrency: 2,
      failFast: true,
      rest: ['--json', '--yes'],
    });
    expect(wantsTargets(['--json', '--', '--all'])).toBe(false);
  });
  it('refuses a flag of a run over targets without --target or --all, and a bad concurrency', () => {
    expect(() => takeTargetFlags(['--concurrency', '2'], 'npx zx upgrade.ts')).toThrow(
      '--concurrency applies to a run over targets: add --all or --target NAME',
    );
    expect(() => takeTargetFlags(['--all', '--concurrency', '0'], 'npx zx upgrade.ts')).toThrow(
      '--concurrency must be a whole number from 1 to 64, got "0"',
    );
    expect(() => takeTargetFlags(['--all', '--target', 'a'], 'npx zx upgrade.ts')).toThrow(
      '--all and --target do not go together',
    );
    expect(() => takeTargetFlags(['--target='], 'npx zx upgrade.ts')).toThrow('--target needs a target name');
    expect(() => takeTargetFlags(['--target'], 'npx zx upgrade.ts')).toThrow('--target needs a value');
  });
});

describe('scheduling', () => {
  const run = (codes: Record<string, number>, log: string[]) => async (t: { name: string }) => {
    log.push(`start ${t.name}`);
    await new Promise((r) => setImmediate(r));
    log.push(`end ${t.name}`);
    return { exitCode: codes[t.name] ?? 0, result: t.name };
  };

  it('starts a target only after the ones it comes after finished OK', async () => {
    const log: string[] = [];
    const out = await schedule(
      [
        { name: 'a', after: ['b'] },
        { name: 'b', after: [] },
        { name: 'c', after: ['a'] },
      ],
      { concurrency: 4, failFast: false },
      run({}, log),
    );
    expect(log.indexOf('start a')).toBeGreaterThan(log.indexOf('end b'));
    expect(log.indexOf('start c')).toBeGreaterThan(log.indexOf('end a'));
    expect(out.map((o) => o.ran)).toEqual([true, true, true]);
  });

  it('skips, with the reason, what comes after a failure, and nothing else', async () => {
    const out = await schedule(
      [
        { name: 'a', after: [] },
        { name: 'b', after: ['a'] },
        { name: 'c', after: ['b'] },
        { name: 'd', after: [] },
      ],
      { concurrency: 1, failFast: false },
      run({ a: 5 }, []),
    );
    expect(out).toMatchObject([
      { ran: true, exitCode: 5 },
      { ran: false, reason: 'after a, which ended with exit 5' },
      { ran: false, reason: 'after b, which was skipped' },
      { ran: true, exitCode: 0 },
    ]);
  });

  it('never runs more than the concurrency at once; --fail-fast starts nothing after a failure', async () => {
    let running = 0;
    let most = 0;
    const out = await schedule(
      ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, after: [] })),
      { concurrency: 2, failFast: true },
      async (t) => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((r) => setImmediate(r));
        running -= 1;
        return { exitCode: t.name === 'a' ? 1 : 0, result: null };
      },
    );
    expect(most).toBe(2);
    expect(out.map((o) => (o.ran ? o.exitCode : o.reason))).toEqual([
      1,
      0,
      'not started: --fail-fast after a failed',
      'not started: --fail-fast after a failed',
      'not started: --fail-fast after a failed',
    ]);
  });
});

describe('combined exit code', () => {
  it('is the worst by 1 > 6 > 4 > 5 > 3 > 2 > 130 > 0', () => {
    expect(worstExit([0, 2, 3, 5, 4, 6, 1, 130])).toBe(1);
    expect(worstExit([0, 2, 3, 5, 4, 130])).toBe(4);
    expect(worstExit([3, 5])).toBe(5);
    expect(worstExit([2, 130])).toBe(2);
    expect(worstExit([0, 130])).toBe(130);
    expect(worstExit([])).toBe(0);
  });
  it('renders one row per target', () => {
    const table = renderTable([
      {
        name: 'a',
        result: 'skipped',
        exitCode: null,
        reason: 'after b, which ended with exit 5',
        startedAt: null,
        finishedAt: null,
        durationMs: null,
        report: null,
      },
    ]);
    expect(table.split('\n')[1]).toBe('a       -          skipped: after b, which ended with exit 5  -         -');
  });
});

describe('executeCommand (one database)', () => {
  it('refuses the flags of a run over targets instead of ignoring them', async () => {
    const { executeCommand } = await import('../../lib/cli.ts');
    const { statusCommand } = await import('../../lib/commands/status.ts');
    let written = '';
    const stream = Object.assign(
      new (await import('node:stream')).Writable({
        write: (c, _e, done) => {
          written += String(c);
          done();
        },
      }),
      { isTTY: false },
    ) as unknown as NodeJS.WriteStream;
    for (const args of [['--all'], ['--target', 'orders'], ['--concurrency', '2']]) {
      const r = await executeCommand(statusCommand, args, { env: {}, logDir: false, stream, out: () => {} });
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.report.findings[0]!.message).toBe(
        `--${args[0]!.slice(2)} runs the command over the targets file, ` +
          `which only the command line does; here it runs for one database`,
      );
    }
    expect(written).toContain('✖ --all runs the command over the targets file');
  });
});
