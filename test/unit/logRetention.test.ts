// Log retention against a real folder: what is deleted, in which order, and everything that
// never is (foreign files, symlinks, another user's file, the current run's file, a file
// whose run still writes it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../lib/log.ts';
import { parseLogKeep, pidNamespace, pruneLogs, type LogKeep } from '../../lib/logRetention.ts';

const HOST = hostname();
const PIDNS = pidNamespace();
/** A pid that no longer runs: a process that ended. */
const DEAD = spawnSync('true').pid!;
const ROOT = process.getuid?.() === 0;

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

function folder(): string {
  return mkdtempSync(path.join(tmpdir(), 'upkit-retention-'));
}

interface Fake {
  command?: string;
  /** `20260102T030405Z`: the time in the name. */
  stamp: string;
  pid?: number;
  host?: string;
  pidns?: string;
  closed?: boolean;
  /** The header's pid, when it should disagree with the name's. */
  headerPid?: number;
  header?: boolean;
  suffix?: string;
}

/** A log file as another upkit run left it: its header, a line, and its closing line when it ended. */
function fake(dir: string, f: Fake): string {
  const command = f.command ?? 'upgrade';
  const pid = f.pid ?? DEAD;
  const name = `${command}-${f.stamp}-${pid}${f.suffix ?? ''}.log`;
  const header = { command, pid: f.headerPid ?? pid, host: f.host ?? HOST, pidns: f.pidns ?? PIDNS };
  const lines = [
    ...(f.header === false ? [] : [`2026-01-02T03:04:05.000Z info  upkit log ${JSON.stringify(header)}`]),
    '2026-01-02T03:04:05.001Z info  step backup: ok',
    ...(f.closed ? ['2026-01-02T03:04:06.000Z info  upkit log closed'] : []),
  ];
  writeFileSync(path.join(dir, name), `${lines.join('\n')}\n`, { mode: 0o600 });
  return name;
}

const loggers: Logger[] = [];
afterEach(() => {
  for (const l of loggers.splice(0)) l.close();
});

/** A run of upkit in this folder, at `at`: its logger opens its file and prunes. */
function run(dir: string, logKeep: LogKeep, at = '2026-06-01T00:00:00.000Z'): Logger {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  const log = createLogger({
    command: 'verify',
    stream,
    interactive: false,
    color: false,
    logDir: dir,
    logKeep,
    now: () => new Date(at),
    clock: () => 0,
  });
  loggers.push(log);
  return log;
}

const stamp = (day: number) => `202601${String(day).padStart(2, '0')}T000000Z`;

describe('UPKIT_LOG_KEEP', () => {
  it.each([
    [undefined, 100],
    ['', 100],
    [' 7 ', 7],
    ['1', 1],
    ['all', 'all'],
  ])('reads %j as %j', (raw, keep) => {
    expect(parseLogKeep(raw)).toBe(keep);
  });

  it.each(['0', '-1', '1.5', '1e3', 'ALL', 'none', '0x10', '12abc', '99999999999999999999'])(
    'refuses %j with one line and exit 2',
    (raw) => {
      const r = parseLogKeep(raw);
      expect(r).toMatchObject({
        code: 'config.invalid',
        exitCode: 2,
        message: `UPKIT_LOG_KEEP: must be a whole number above 0 or all, got "${raw}"`,
      });
    },
  );

  it('a logger given a value that is not valid prunes nothing and carries the problem for the command', () => {
    const dir = folder();
    const old = [1, 2, 3].map((d) => fake(dir, { stamp: stamp(d), closed: true }));
    const before = process.env.UPKIT_LOG_KEEP;
    process.env.UPKIT_LOG_KEEP = '0';
    try {
      const stream = new PassThrough() as unknown as NodeJS.WriteStream;
      const log = createLogger({ command: 'verify', stream, interactive: false, logDir: dir });
      loggers.push(log);
      expect(log.configProblem?.message).toBe('UPKIT_LOG_KEEP: must be a whole number above 0 or all, got "0"');
      expect(readdirSync(dir)).toEqual(expect.arrayContaining(old));
      expect(readdirSync(dir)).toHaveLength(4);
    } finally {
      if (before === undefined) delete process.env.UPKIT_LOG_KEEP;
      else process.env.UPKIT_LOG_KEEP = before;
    }
  });
});

describe('log retention', () => {
  it(
    'keeps the newest KEEP files, the current one among them, ' + 'ordered by the time in the name and not by mtime',
    () => {
      const dir = folder();
      const names = [5, 1, 4, 2, 3].map((d) => fake(dir, { stamp: stamp(d), closed: d % 2 === 0 }));
      // The oldest by name was touched last: an operator's touch must not save it.
      utimesSync(path.join(dir, names[1]!), new Date('2030-01-01'), new Date('2030-01-01'));
      const log = run(dir, 3);
      expect(readdirSync(dir).sort()).toEqual([path.basename(log.logFile!), names[2]!, names[0]!].sort());
      expect(readFileSync(log.logFile!, 'utf8')).toContain(
        `log retention (UPKIT_LOG_KEEP 3): deleted ${names[4]}, ${names[3]}, ${names[1]}`,
      );
    },
  );

  it('orders files of the same second by name', () => {
    const dir = folder();
    const a = fake(dir, { stamp: stamp(1), pid: DEAD, suffix: '', closed: true });
    const b = fake(dir, { stamp: stamp(1), pid: DEAD, suffix: '-2', closed: true });
    const log = run(dir, 2);
    // `…-PID-2.log` sorts before `…-PID.log` ('-' < '.'): the second is the newer by name.
    expect(readdirSync(dir).sort()).toEqual([path.basename(log.logFile!), a].sort());
    expect(existsSync(path.join(dir, b))).toBe(false);
  });

  it('keeps everything with all', () => {
    const dir = folder();
    for (let d = 1; d <= 12; d++) fake(dir, { stamp: stamp(d), closed: true });
    run(dir, 'all');
    expect(readdirSync(dir)).toHaveLength(13);
  });

  it('never deletes what upkit cannot prove it wrote, and names those files older than the newest KEEP once', () => {
    const dir = folder();
    const elsewhere = folder();
    const target = fake(elsewhere, { stamp: stamp(1), closed: true });
    const foreign = [
      'notes.txt',
      'upgrade.log',
      'upgrade-2026-01-01.log',
      `Upgrade-${stamp(1)}-${DEAD}.log`,
      `upgrade-${stamp(1)}-${DEAD}.log.gz`,
    ];
    for (const n of foreign) writeFileSync(path.join(dir, n), 'x\n');
    // A symlink with an upkit name, to a file upkit did write (in another folder).
    const link = `upgrade-${stamp(2)}-${DEAD}.log`;
    symlinkSync(path.join(elsewhere, target), path.join(dir, link));
    // No header; a header that names another pid than the name; a header of another command.
    const bare = fake(dir, { stamp: stamp(3), header: false, closed: true });
    const otherPid = fake(dir, { stamp: stamp(4), headerPid: DEAD + 1, closed: true });
    const renamed = `status-${stamp(5)}-${DEAD}.log`;
    writeFileSync(
      path.join(dir, renamed),
      readFileSync(path.join(elsewhere, fake(elsewhere, { stamp: stamp(5), closed: true }))),
    );
    // A folder named like a log file, with a log file in it.
    const sub = `upgrade-${stamp(6)}-${DEAD}.log`;
    mkdirSync(path.join(dir, sub));
    const inSub = fake(path.join(dir, sub), { stamp: stamp(1), closed: true });
    const log = run(dir, 1);
    const left = readdirSync(dir).sort();
    expect(left).toEqual([...foreign, link, bare, otherPid, renamed, sub, path.basename(log.logFile!)].sort());
    expect(lstatSync(path.join(dir, link)).isSymbolicLink()).toBe(true);
    expect(existsSync(path.join(elsewhere, target))).toBe(true);
    expect(existsSync(path.join(dir, sub, inSub))).toBe(true);
    const text = readFileSync(log.logFile!, 'utf8');
    expect(text).toContain(
      `warn  4 files in ${dir} are named like upkit's logs and older than the newest 1, ` +
        `but upkit cannot prove it wrote them, so they are kept (the oldest: ${link})`,
    );
    expect(text).toContain(`info    → look at them and delete what is not needed: ls -l -- ${dir}`);
  });

  it.skipIf(!ROOT)("never deletes another user's file (chown as root)", () => {
    const dir = folder();
    const theirs = fake(dir, { stamp: stamp(1), closed: true });
    chownSync(path.join(dir, theirs), 65534, 65534);
    const mine = fake(dir, { stamp: stamp(2), closed: true });
    const log = run(dir, 1);
    expect(readdirSync(dir).sort()).toEqual([theirs, path.basename(log.logFile!)].sort());
    expect(existsSync(path.join(dir, mine))).toBe(false);
    // Another user's upkit prunes its own files: no warning about them here.
    expect(readFileSync(log.logFile!, 'utf8')).not.toContain('cannot prove');
  });

  it('never deletes the current file, even when newer files fill KEEP', () => {
    const dir = folder();
    const newer = fake(dir, { stamp: '20990101T000000Z', closed: true });
    const older = fake(dir, { stamp: stamp(1), closed: true });
    const log = run(dir, 1);
    expect(readdirSync(dir).sort()).toEqual([newer, path.basename(log.logFile!)].sort());
    expect(existsSync(path.join(dir, older))).toBe(false);
    // Even one that looks ended (its closing line written) is never deleted while it is the current one.
    const ended = fake(dir, { stamp: stamp(1), closed: true });
    expect(pruneLogs(dir, 1, path.join(dir, ended)).deleted).toEqual([]);
    expect(existsSync(path.join(dir, ended))).toBe(true);
  });

  it(
    'keeps the file of a run that still runs: ' + 'a live pid of this host, or another host without its closing line',
    async () => {
      const dir = folder();
      const child = spawn('sleep', ['600'], { stdio: 'ignore' });
      children.push(child);
      await new Promise((r) => child.once('spawn', r));
      const live = fake(dir, { stamp: stamp(1), pid: child.pid! });
      const liveOtherNs = fake(dir, { stamp: stamp(2), pid: DEAD, pidns: 'pid:[1]' });
      const otherHost = fake(dir, { stamp: stamp(3), pid: DEAD, host: `${HOST}-elsewhere` });
      const otherHostEnded = fake(dir, { stamp: stamp(4), pid: DEAD, host: `${HOST}-elsewhere`, closed: true });
      const crashed = fake(dir, { stamp: stamp(5), pid: DEAD });
      const log = run(dir, 1);
      expect(readdirSync(dir).sort()).toEqual([live, liveOtherNs, otherHost, path.basename(log.logFile!)].sort());
      expect([otherHostEnded, crashed].map((n) => existsSync(path.join(dir, n)))).toEqual([false, false]);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const next = run(dir, 1, '2026-06-02T00:00:00.000Z');
      expect(readdirSync(dir).sort()).toEqual(
        [liveOtherNs, otherHost, path.basename(log.logFile!), path.basename(next.logFile!)].sort(),
      );
    },
  );

  it(
    'several loggers of one process (targets) never delete each ' +
      'other’s open files, and a later run deletes them once closed',
    () => {
      const dir = folder();
      const first = run(dir, 1, '2026-06-01T00:00:00.000Z');
      const second = run(dir, 1, '2026-06-01T00:00:01.000Z');
      const third = run(dir, 1, '2026-06-01T00:00:02.000Z');
      const open = [first, second, third].map((l) => path.basename(l.logFile!));
      expect(readdirSync(dir).sort()).toEqual(open.sort());
      first.close();
      second.close();
      expect(readFileSync(first.logFile!, 'utf8').endsWith(' info  upkit log closed\n')).toBe(true);
      const fourth = run(dir, 1, '2026-06-01T00:00:03.000Z');
      expect(readdirSync(dir).sort()).toEqual([path.basename(third.logFile!), path.basename(fourth.logFile!)].sort());
    },
  );

  it.skipIf(!ROOT || spawnSync('chattr', ['--help']).error !== undefined)(
    'a file it cannot delete is one warning line in the log file, and the run goes on',
    () => {
      const dir = folder();
      const stuck = [1, 2].map((d) => fake(dir, { stamp: stamp(d), closed: true }));
      const gone = fake(dir, { stamp: stamp(3), closed: true });
      for (const n of stuck) expect(spawnSync('chattr', ['+i', path.join(dir, n)]).status).toBe(0);
      try {
        const stream = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
        let screen = '';
        stream.on('data', (d: Buffer) => (screen += d.toString()));
        const log = createLogger({
          command: 'verify',
          stream,
          interactive: false,
          logDir: dir,
          logKeep: 1,
          now: () => new Date('2026-06-01T00:00:00.000Z'),
        });
        loggers.push(log);
        log.info('the run goes on');
        const text = readFileSync(log.logFile!, 'utf8');
        const warnings = text.split('\n').filter((l) => / warn {2}log retention/.test(l));
        expect(warnings).toEqual([
          expect.stringMatching(
            new RegExp(
              `warn {2}log retention: cannot delete ` +
                `${path.join(dir, stuck[1]!).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(EPERM\\); the run goes on$`,
            ),
          ),
        ]);
        expect(screen).toContain('the run goes on');
        expect(screen).not.toContain('retention');
        expect(existsSync(path.join(dir, gone))).toBe(false);
      } finally {
        for (const n of stuck) spawnSync('chattr', ['-i', path.join(dir, n)]);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('two runs pruning the same folder: the second finds nothing left and says nothing', () => {
    const dir = folder();
    fake(dir, { stamp: stamp(1), closed: true });
    const current = path.join(dir, fake(dir, { stamp: stamp(2), pid: process.pid }));
    // Two prunes of the same folder: the second finds nothing left to delete and says nothing.
    expect(pruneLogs(dir, 1, current).deleted).toHaveLength(1);
    expect(pruneLogs(dir, 1, current)).toEqual({ deleted: [], unproven: [] });
  });
});
