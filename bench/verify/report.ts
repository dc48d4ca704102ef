// The `## verify` section of BENCHMARKS.md: how the numbers were taken, the table, the targets.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

export const fmt = (ms: number) =>
  ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;

export interface Row {
  tables: number;
  every: number;
  load: string;
  queries: number;
  engineMs: number;
  connectMs: number;
  cliMs: number;
  psqlChecks: number;
  psqlMs: number;
  psqlMeasuredTables: number;
}

export function markdown(rows: Row[], version: string, every: number): string {
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npx tsx bench/verify/index.ts\` (\`npm ` +
      `run bench:verify\`), PostgreSQL ${version}, ${availableParallelism()} cores, \`fsync=off\`.`,
    'Synthetic schemas: per table 6 columns (uuid key with default, foreign key, ' +
      'varchar, enum with default, jsonb, timestamptz), a unique constraint and a',
    `plain index; one table in ${every} also has a check and a partial expression ` +
      `index (Pulse: about one in four), and the largest size is measured again`,
    'with them on every table, the worst case (the server deparses each ' +
      'expression of each table). A drizzle snapshot and journal to match.',
    '"verify" is `verifyDatabase()` (schema and ledgers) on a fresh connection, ' +
      'in one read-only transaction, connection not counted (median of runs); "CLI"',
    'is `npx zx verify/index.ts --drizzle-dir` end to end as ' +
      'an operator runs it, process start included (median of 3).',
    'psql-per-check runs one `psql -tAc` per table, column and index existence ' +
      'check (9–10 per table, fewer than verify makes), as old upgrade.sh scripts did.',
    'The machine was shared with other work while this ran: the load average (1 min, ' +
      'at start–end of each row) is shown; ratios are from the same run.',
    '',
    '| tables | expressions | load | round trips | verify | CLI (wall) ' +
      '| psql-per-check checks | psql-per-check | ratio vs verify | ratio vs CLI |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const psql =
      `${fmt(r.psqlMs)}` +
      `${r.psqlMeasuredTables < r.tables ? ` (extrapolated from ${r.psqlMeasuredTables} tables)` : ''}`;
    lines.push(
      `| ${r.tables} | ${r.every === 1 ? 'every table' : `1 in ${r.every}`} | ${r.load} ` +
        `| ${r.queries} | ${fmt(r.engineMs)} | ${fmt(r.cliMs)} | ${r.psqlChecks} | ${psql}` +
        ` | ${(r.psqlMs / r.engineMs).toFixed(0)}x | ${(r.psqlMs / r.cliMs).toFixed(0)}x |`,
    );
  }
  const big = rows.filter((r) => r.tables === 5000);
  const thousand = rows.find((r) => r.tables === 1000 && r.every !== 1);
  const targets: string[] = [];
  if (big.length) {
    const worst = Math.max(...big.map((r) => r.engineMs));
    targets.push(
      `5000 tables under 1 s: ${worst < 1000 ? 'met' : 'NOT met'} by verify itself (` +
        `${big.map((r) => fmt(r.engineMs)).join(', worst case ')}); the command end to end adds ` +
        `process start-up (node, tsx and zx, see the start-up floors in MEASUREMENTS.md).`,
    );
  }
  if (thousand) {
    const ratio = thousand.psqlMs / thousand.engineMs;
    targets.push(
      `At least 50x faster than psql-per-check at 1000 tables: ${ratio >= 50 ? 'met' : 'NOT met'}, ` +
        `${ratio.toFixed(0)}x (verify), ${(thousand.psqlMs / thousand.cliMs).toFixed(0)}x (the whole command).`,
    );
  }
  targets.push(
    'Round trips do not grow with the schema: server settings and privileges, the catalog (four queries ' +
      "in one batch, sent before the snapshot is parsed), drizzle's ledger; Pulse's seed-data query adds one.",
  );
  lines.push('', `Targets: ${targets.join(' ')}`);
  return lines.join('\n');
}

/** Replaces only the `## verify` section of BENCHMARKS.md (other sections belong to other benchmarks). */
export function writeSection(root: string, body: string): void {
  const file = path.join(root, 'BENCHMARKS.md');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const section = `## verify\n\n${body}\n`;
  const start = text.search(/^## verify\s*$/m);
  if (start === -1) {
    writeFileSync(file, `${text.trimEnd()}\n\n${section}`);
    return;
  }
  const rest = text.slice(start + 1);
  const next = rest.search(/^## /m);
  const end = next === -1 ? text.length : start + 1 + next;
  writeFileSync(file, `${text.slice(0, start)}${section}${next === -1 ? '' : '\n'}${text.slice(end)}`);
}
