// Backup and restore as an operator runs them, against the PostgreSQL programs they wrap,
// measured in the same run on two data shapes (bench/backup/shapes.ts):
//   backup:  raw `pg_dump -Fc` to a file (peer) vs `bin/upkit backup` (a new process, its
//            verification included);
//   restore: raw `pg_restore` of that dump into an empty database (peer; `pg_restore -j2`
//            shown too) vs `bin/upkit restore FILE --into NEW` and the in-place
//            `bin/upkit restore FILE --yes`, with the time the live database could not be used.
// Each round runs every command once per shape, in an order that rotates from round to round;
// the medians are compared. upkit reads its configuration from a private .env (--dotenv), the
// peers from PG* variables: no password in any argv.
// Run: npm run bench:backup [-- --size GB --rounds N --keep --print-only]; the 10 GB run is
// npm run bench:backup:10g. Writes its part of the `backup` section of BENCHMARKS.md.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { cleanPgEnv } from '../../test/support/servers/common.ts';
import { fmt, load1, median, scratchServer, urlFor, withClient } from '../support.ts';
import { dropPrevious, pollLiveDatabase } from './restore.ts';
import { writeBackupSection } from './section.ts';
import { checkRows, describeShape, ensureShape, specs, type Shape } from './shapes.ts';

const execFileP = promisify(execFile);
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    port: { type: 'string', default: '55550' },
    dir: { type: 'string' },
    shapes: { type: 'string', default: 'pgbench,pulse' },
    keep: { type: 'boolean', default: false },
    'print-only': { type: 'boolean', default: false },
  },
  strict: true,
});
const sizeGb = Number(values.size);
const rounds = Number(values.rounds);
const shapeNames = values.shapes.split(',') as Shape['name'][];
const BIN = '/usr/lib/postgresql/15/bin';
const UPKIT = path.join(PROJECT_ROOT, 'bin/upkit');
const dir = values.dir ?? path.join(tmpdir(), `upkit-bench-backup-${sizeGb}g`);

type Key = 'dump' | 'backup' | 'restore' | 'restoreJ2' | 'into' | 'inPlace';
const BACKUP_KEYS: Key[] = ['dump', 'backup'];
const RESTORE_KEYS: Key[] = ['restore', 'restoreJ2', 'into', 'inPlace'];
interface Row {
  ms: number[];
  loads: string[];
  bytes?: number;
}
interface Result {
  shape: Shape;
  description: string;
  rows: Record<Key, Row>;
  gaps: number[];
  failedPolls: number[];
  meanGaps: number[];
  reportedSwap: number[];
  /** upkit's archive as its manifest describes it. */
  archive?: string;
}

const startedAt = performance.now();
let modules = 'not said in its log';
const loadAtStart = load1();
const server = await scratchServer({ dir, port: Number(values.port), binDir: BIN });
const work = path.join(dir, 'work');
try {
  // The peers and upkit find the same programs: PostgreSQL 15's, first on PATH.
  const base = { ...cleanPgEnv(), PATH: `${BIN}:${process.env.PATH}` };
  const pgEnv = (database: string) => ({
    ...base,
    PGHOST: server.host,
    PGPORT: String(server.port),
    PGUSER: server.user,
    PGPASSWORD: server.password,
    PGDATABASE: database,
  });
  const spec = specs(sizeGb);
  const results: Result[] = [];
  for (const name of shapeNames) {
    const shape = await ensureShape(server, name, spec[name], pgEnv('postgres'));
    const empty = (): Row => ({ ms: [], loads: [] });
    results.push({
      shape,
      description: await describeShape(server, shape),
      rows: { dump: empty(), backup: empty(), restore: empty(), restoreJ2: empty(), into: empty(), inPlace: empty() },
      gaps: [],
      failedPolls: [],
      meanGaps: [],
      reportedSwap: [],
    });
  }

  for (let round = 0; round < rounds; round++) {
    for (const r of rotate(results, round)) {
      const { shape } = r;
      const db = shape.database;
      const shapeWork = path.join(work, shape.name);
      const backupDir = path.join(shapeWork, 'backups');
      mkdirSync(backupDir, { recursive: true });
      const dotenv = path.join(shapeWork, 'upkit.env');
      writeFileSync(dotenv, `DATABASE_URL=${urlFor(server, db)}\nBACKUP_DIR=${backupDir}\nBACKUP_KEEP=1\n`, {
        mode: 0o600,
      });
      const peerDump = path.join(shapeWork, 'peer.dump');
      const upkit = (args: string[]) =>
        execFileP(UPKIT, [...args, '--dotenv', dotenv], { cwd: shapeWork, env: base, maxBuffer: 64 << 20 });
      const newestBackup = () =>
        path.join(
          backupDir,
          readdirSync(backupDir)
            .filter((f) => f.endsWith('.dump'))
            .sort()
            .at(-1)!,
        );
      const intoEmpty = async <T>(target: string, fn: () => Promise<T>): Promise<T> => {
        await recreate(target);
        return fn();
      };

      const steps: Record<Key, () => Promise<{ ms: number; output?: string }>> = {
        dump: () => timed(() => execFileP('pg_dump', ['-Fc', '-f', peerDump], { env: pgEnv(db) })),
        backup: () => timed(() => upkit(['backup'])),
        restore: () =>
          intoEmpty(`${db}_peer`, () =>
            timed(() => execFileP('pg_restore', ['-d', `${db}_peer`, peerDump], { env: pgEnv('postgres') })),
          ),
        restoreJ2: () =>
          intoEmpty(`${db}_peer`, () =>
            timed(() => execFileP('pg_restore', ['-j2', '-d', `${db}_peer`, peerDump], { env: pgEnv('postgres') })),
          ),
        into: async () => {
          await drop(`${db}_into`);
          return timed(() => upkit(['restore', newestBackup(), '--into', `${db}_into`, '--yes']));
        },
        inPlace: async () => {
          const poller = pollLiveDatabase(urlFor(server, db));
          await new Promise((res) => setTimeout(res, 200));
          const t = await timed(() => upkit(['restore', newestBackup(), '--yes']));
          const gaps = await poller.stop();
          r.gaps.push(gaps.longestMs);
          r.failedPolls.push(gaps.failed);
          r.meanGaps.push(gaps.meanMs);
          const reported = /swap window (\d+) ms/.exec(t.output ?? '');
          r.reportedSwap.push(reported ? Number(reported[1]) : NaN);
          return t;
        },
      };
      // Backups first (the restores read them), each half in a rotating order.
      for (const key of [...rotate(BACKUP_KEYS, round), ...rotate(RESTORE_KEYS, round)]) {
        const row = r.rows[key];
        const before = load1();
        console.error(`round ${round + 1}/${rounds} ${shape.name} ${key}…`);
        const t = await steps[key]();
        row.ms.push(t.ms);
        row.loads.push(`${before}–${load1()}`);
        console.error(`  ${fmt(t.ms)}`);
        if (key === 'dump') row.bytes = statSync(peerDump).size;
        if (key === 'backup') {
          // How bin/upkit ran: its compiled modules (.build/) or its TypeScript sources, as its log says.
          const log = /log: (\S+\.log)/.exec(t.output ?? '')?.[1];
          modules = (log && /modules: (.+)/.exec(readFileSync(log, 'utf8'))?.[1]) || modules;
          // A file or a directory-format folder: its manifest says which, and its size.
          const m = JSON.parse(readFileSync(`${newestBackup()}.json`, 'utf8')) as {
            bytes: number;
            archive?: string;
            jobs?: number;
            compression: number;
          };
          row.bytes = m.bytes;
          r.archive = `${m.archive ?? 'custom'} format${m.jobs ? `, ${m.jobs} jobs` : ''}, gzip level ${m.compression}`;
        }
        // Each restored database must hold the rows that were backed up.
        const restored =
          key === 'inPlace' ? db : key === 'into' ? `${db}_into` : key.startsWith('restore') ? `${db}_peer` : undefined;
        if (restored) {
          await checkRows(urlFor(server, restored), shape, `${key} into ${restored}`);
          if (key === 'inPlace') await dropPrevious(server.adminUrl, db);
          else await drop(restored);
        }
      }
    }
  }

  const body = report(results);
  console.log(body);
  if (!values['print-only']) writeBackupSection(sizeGb, body);
} finally {
  await server.stop();
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
  else
    console.error(`kept the cluster and its databases in ${dir} for the next run (delete it when done: rm -rf ${dir})`);
}

async function timed(fn: () => Promise<{ stdout: string; stderr: string }>): Promise<{ ms: number; output: string }> {
  const t0 = performance.now();
  const out = await fn();
  return { ms: performance.now() - t0, output: `${out.stdout}\n${out.stderr}` };
}

function rotate<T>(xs: readonly T[], n: number): T[] {
  const k = n % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

async function drop(database: string): Promise<void> {
  await withClient(server.adminUrl, (c) =>
    c.query(`drop database if exists ${c.escapeIdentifier(database)} with (force)`),
  );
}

async function recreate(database: string): Promise<void> {
  await drop(database);
  await withClient(server.adminUrl, (c) => c.query(`create database ${c.escapeIdentifier(database)}`));
}

function builds(results: Result[]): string {
  const built = results.filter((r) => r.shape.builtMs !== undefined);
  if (!built.length) return 'with the databases of an earlier run on the same cluster (`--keep`)';
  return `building ${built.map((r) => `${r.shape.name} in ${fmt(r.shape.builtMs!)}`).join(' and ')} included`;
}

function report(results: Result[]): string {
  const mb = (b?: number) => (b === undefined ? '' : `${(b / 1024 ** 2).toFixed(1)} MB`);
  const m = (row: Row) => median(row.ms);
  const ratio = (a: Row, b: Row) => m(a) / m(b);
  const x = (n: number) => `${n.toFixed(2)}×`;
  const each = (row: Row) => row.ms.map((v) => (v / 1000).toFixed(2)).join(', ');
  const loads = (row: Row) => `${row.loads[0]!.split('–')[0]}–${row.loads.at(-1)!.split('–')[1]}`;
  const label: Record<Key, string> = {
    dump: 'raw `pg_dump -Fc` to a file (peer)',
    backup: '**`bin/upkit backup`** (new process, verification included)',
    restore: 'raw `pg_restore` of that dump into an empty database (peer)',
    restoreJ2: 'raw `pg_restore -j2`, the same',
    into: "**`bin/upkit restore FILE --into NEW`** (upkit's backup; checks and comparison with the manifest included)",
    inPlace: '**`bin/upkit restore FILE --yes`** in place (the same, then the name swap)',
  };
  const peerOf: Record<Key, Key> = {
    dump: 'dump',
    backup: 'dump',
    restore: 'restore',
    restoreJ2: 'restore',
    into: 'restore',
    inPlace: 'restore',
  };
  const lines: string[] = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run bench:backup` +
      `${sizeGb === 1 ? '' : ` -- --size ${sizeGb}`}\` (upkit at commit ` +
      `${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim()}) ` +
      `on ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.versions.node} (bin/upkit's modules: ` +
      `${modules}), PostgreSQL ${server.version} (a cluster of the benchmark's own on disk, \`fsync=off\`); ` +
      `${rounds === 1 ? 'one round' : `median of ${rounds} rounds, the commands' order rotating from round to round`}` +
      `. 1-minute load average ${loadAtStart} at the start and ${load1()} at the end (the machine is shared with ` +
      `other work: read the ratios, measured in the same rounds); ` +
      `the whole run took ${fmt(performance.now() - startedAt)}, ${builds(results)}.`,
    '',
  ];
  for (const r of results) {
    lines.push(
      `**${r.description}**`,
      '',
      '| command | median | each round (s) | size | ratio to the peer | load (1 min) |',
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const key of [...BACKUP_KEYS, ...RESTORE_KEYS]) {
      const row = r.rows[key];
      const q = ratio(row, r.rows[peerOf[key]]);
      lines.push(
        `| ${label[key]} | ${fmt(m(row))} | ${each(row)} | ${mb(row.bytes)}` +
          ` | ${key === peerOf[key] ? '1.00×' : key === 'restoreJ2' ? x(q) : `**${x(q)}**`} | ${loads(row)} |`,
      );
    }
    const gaps = r.gaps.map((g) => fmt(g)).join(', ');
    lines.push(
      '',
      `upkit's backup: ${r.archive}; the peer's: custom format, pg_dump's default compression. ` +
        `Each restores its own. In place, the live database could not be used for at most ${fmt(median(r.gaps))}` +
        ` (median; each round ${gaps}): the longest time between two answers of a client running \`select ` +
        `1\` on it every 10 ms, reconnecting when ended (${r.failedPolls.join(', ')} failed polls; ` +
        `on this machine under this load its mean time between answers was ` +
        `${r.meanGaps.map((g) => fmt(g)).join(', ')}); upkit's report gave ` +
        `a swap window of ${r.reportedSwap.map((s) => `${s} ms`).join(', ')}.`,
      '',
    );
  }
  const verdict = (q: number, target: number) => `${x(q)} (${q <= target ? 'met' : 'missed'})`;
  const byShape = (f: (r: Result) => string) => results.map(f).join(' | ');
  lines.push(
    `| target | ${results.map((r) => r.shape.name).join(' | ')} |`,
    `| --- | ${results.map(() => '---').join(' | ')} |`,
    `| backup ≤ 1.0× \`pg_dump -Fc\` (≤ 0.8× on Pulse's fixture) ` +
      `| ${byShape((r) => verdict(ratio(r.rows.backup, r.rows.dump), r.shape.name === 'pulse' ? 0.8 : 1.0))} |`,
    `| restore \`--into\` ≤ 1.0× \`pg_restore\` | ` +
      `${byShape((r) => verdict(ratio(r.rows.into, r.rows.restore), 1.0))} |`,
    `| restore in place ≤ 1.0× \`pg_restore\` | ` +
      `${byShape((r) => verdict(ratio(r.rows.inPlace, r.rows.restore), 1.0))} |`,
    `| swap window < 1 s (longest gap a client saw) ` +
      `| ${byShape((r) => `${fmt(median(r.gaps))} (${median(r.gaps) < 1000 ? 'met' : 'missed'})`)} |`,
  );
  return lines.join('\n');
}
