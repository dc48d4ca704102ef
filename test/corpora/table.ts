// The results of a corpus run as markdown: one row per corpus, then what failed and why.
import type { Comparison } from './compare.ts';
import type { CorpusResult, Pair, UpkitRun, VerifyRun } from './runner.ts';

const fmt = (ms: number | null) =>
  ms === null ? '–' : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
const yesNo = (c: Comparison | null, skipped?: string) =>
  c ? (c.equal ? 'yes' : '**no**') : `n/a (${skipped ?? 'not run'})`;
const exitOf = (u: UpkitRun | null) => (u ? (u.exit === 0 ? '0' : `**${u.exit}**`) : '–');
const verifyCell = (v: VerifyRun | null) => (v ? (v.exit === 0 ? '0' : `**${v.exit}** (${v.errors})`) : 'n/a');

function pairCell(p: Pair | null): string {
  if (!p) return '–';
  if (!p.catalog || !p.ledger) return `n/a (${p.skipped})`;
  return p.catalog.equal && p.ledger.equal
    ? 'yes'
    : `**no** (${[!p.catalog.equal && 'catalog', !p.ledger.equal && 'ledger'].filter(Boolean).join(', ')})`;
}

function noopCell(r: CorpusResult): string {
  const u = r.noopUpkit
    ? r.noopUpkit.exit === 0 && r.noopUpkit.applied === 0
      ? 'ok'
      : `**exit ${r.noopUpkit.exit}, ${r.noopUpkit.applied ?? '?'} applied**`
    : 'n/a';
  const d = r.noopDrizzle
    ? r.noopDrizzle.error
      ? '**failed**'
      : r.noopDrizzle.newRows === 0
        ? 'ok'
        : `**${r.noopDrizzle.newRows} rows**`
    : 'n/a';
  return `${u} / ${d}`;
}

export function renderResults(
  results: readonly CorpusResult[],
  meta: { command: string; server: string; machine: string; minutes: string; allowDestructive?: boolean },
): string {
  const out: string[] = [
    `\`${meta.command}\` on a throwaway ${meta.server} cluster, ${meta.minutes} minutes in all. ${meta.machine}`,
    '',
    ...(meta.allowDestructive
      ? [
          "**Not the documented command**: upkit's installs here are `upgrade.ts --yes --no-backup " +
            '--allow-destructive --drizzle-dir DIR` on the empty database, and its upgrades carry ' +
            '`--allow-destructive`: what the engine does once the lint lets ' +
            "it through. The install column and its time are that command's.",
          '',
        ]
      : []),
    "Per corpus (a real project's drizzle folder; `test/corpora/README.md` says where each comes from): " +
      "upkit's fresh install is `install.ts --json --drizzle-dir DIR` on an empty database, no other flag. " +
      "The peer database is built by drizzle-orm's `migrate()`, or, where its one transaction cannot run the folder, " +
      "by psql statement by statement in journal order with drizzle's ledger rows (column *peer*). " +
      "*Catalog equal* compares `pg_dump --schema-only` of both databases (upkit's own schema left out; " +
      'comments and SET lines dropped; order kept), *ledger equal* the rows of `drizzle.__drizzle_migrations` (hash, ' +
      'created_at). *Half/half*: the first half of the journal by the peer, then `upgrade.ts --yes --no-backup ' +
      '--drizzle-dir DIR`; and the first half by `install.ts`, then the peer on the whole folder; each must end ' +
      "equal (catalog and ledger) to the peer's full install. *Verify* is `verify/index.ts --drizzle-dir DIR` (exit, " +
      'error findings). *Lint with data*: the first half by the peer, one row of defaults in every ' +
      'table that takes one, then `upgrade.ts --dry-run`: the lint findings nobody reviewed. Times are wall times ' +
      "of whole commands on a fresh database (drizzle-orm's `migrate()` runs inside the runner's process).",
    '',
    '| project | migrations | statements | peer | install exit | lint fresh | lint with ' +
      'data | catalog equal | ledger equal | half drizzle→upkit | half upkit→drizzle | verify ' +
      'upkit db / peer db | no-op rerun upkit / peer | upkit / drizzle-orm / drizzle-kit |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    if (r.skipped) {
      out.push(`| ${r.name} | ${r.migrations} | ${r.statements} | ${r.skipped} | | | | | | | | | | |`);
      continue;
    }
    const fresh = r.fresh;
    out.push(
      [
        '',
        r.name,
        r.migrations,
        r.statements,
        r.reference?.mode ?? '–',
        exitOf(r.install),
        r.install?.lint ?? '–',
        r.withData
          ? `${r.withData.dryRun.lint ?? `n/a (dry run exit ${r.withData.dryRun.exit})`}` +
            ` (${r.withData.filled}/${r.withData.tables} tables with a row)`
          : '–',
        yesNo(fresh?.catalog ?? null, fresh?.skipped),
        yesNo(fresh?.ledger ?? null, fresh?.skipped),
        pairCell(r.halfDrizzleThenUpkit),
        pairCell(r.halfUpkitThenDrizzle),
        `${verifyCell(r.verifyUpkit)} / ${verifyCell(r.verifyDrizzle)}`,
        noopCell(r),
        `${fmt(r.times.upkitMs)}${r.install && r.install.exit !== 0 ? ` (exit ${r.install.exit})` : ''} / ` +
          `${fmt(r.times.drizzleOrmMs)} / ${r.times.drizzleKitError ? '**failed**' : fmt(r.times.drizzleKitMs)}`,
        '',
      ]
        .join(' | ')
        .trim(),
    );
  }
  const clean = (r: CorpusResult) =>
    !r.skipped &&
    r.install?.exit === 0 &&
    !!r.fresh?.catalog?.equal &&
    !!r.fresh?.ledger?.equal &&
    pairCell(r.halfDrizzleThenUpkit) === 'yes' &&
    pairCell(r.halfUpkitThenDrizzle) === 'yes' &&
    r.verifyUpkit?.exit === 0 &&
    r.verifyDrizzle?.exit === 0 &&
    noopCell(r) === 'ok / ok';
  const passed = results.filter(clean).map((r) => r.name);
  out.push(
    '',
    `**Installed unattended, equal to drizzle's, both ways half and half, verified clean on both databases, ` +
      `no-op reruns: ${passed.length} of ${results.length}${passed.length ? ` (${passed.join(', ')})` : ''}.**`,
  );
  out.push('', 'What failed, per corpus (first findings):', '');
  for (const r of results) {
    const lines: string[] = [];
    if (r.skipped) lines.push(r.skipped);
    if (r.reference?.why) lines.push(`peer by psql: ${r.reference.why}`);
    if (r.install && r.install.exit !== 0)
      lines.push(
        `install exit ${r.install.exit}: ` +
          `${
            r.install.exit === 3 && r.install.firstLint.length
              ? `${r.install.lint} lint finding(s), first: ${r.install.firstLint.join('; ')}`
              : (r.install.error ?? r.install.codes.join(', '))
          }`,
      );
    for (const [label, c] of [
      ['catalog', r.fresh?.catalog],
      ['ledger', r.fresh?.ledger],
    ] as const)
      if (c && !c.equal) lines.push(`fresh ${label} differs: ${c.detail.slice(0, 4).join('; ')}`);
    const h1 = r.halfDrizzleThenUpkit;
    if (h1?.upkit && h1.upkit.exit !== 0)
      lines.push(
        `half drizzle→upkit: upgrade exit ${h1.upkit.exit}: ` +
          `${
            h1.upkit.exit === 3 && h1.upkit.firstLint.length
              ? `${h1.upkit.lint} lint finding(s)`
              : (h1.upkit.error ?? h1.upkit.codes.join(', '))
          }`,
      );
    for (const [label, c] of [
      ['catalog', h1?.catalog],
      ['ledger', h1?.ledger],
    ] as const)
      if (c && !c.equal) lines.push(`half drizzle→upkit ${label} differs: ${c.detail.slice(0, 4).join('; ')}`);
    const h2 = r.halfUpkitThenDrizzle;
    if (h2?.upkit && h2.upkit.exit !== 0)
      lines.push(
        `half upkit→drizzle: install exit ${h2.upkit.exit}: ` +
          `${
            h2.upkit.exit === 3 && h2.upkit.firstLint.length
              ? `${h2.upkit.lint} lint finding(s)`
              : (h2.upkit.error ?? h2.upkit.codes.join(', '))
          }`,
      );
    if (h2?.drizzleError) lines.push(`half upkit→drizzle: the peer failed: ${h2.drizzleError}`);
    for (const [label, c] of [
      ['catalog', h2?.catalog],
      ['ledger', h2?.ledger],
    ] as const)
      if (c && !c.equal) lines.push(`half upkit→drizzle ${label} differs: ${c.detail.slice(0, 4).join('; ')}`);
    for (const [label, v] of [
      ['upkit db', r.verifyUpkit],
      ['peer db', r.verifyDrizzle],
    ] as const)
      if (v && v.exit !== 0)
        lines.push(
          `verify ${label} exit ${v.exit}, ${v.errors} error(s): ` +
            `${v.codes.join(', ')}${v.first[0] ? ` (first: ${v.first[0]})` : ''}`,
        );
    if (r.noopUpkit && (r.noopUpkit.exit !== 0 || r.noopUpkit.applied !== 0))
      lines.push(
        `no-op upkit: exit ${r.noopUpkit.exit}, ${r.noopUpkit.applied}` +
          ` applied${r.noopUpkit.error ? `: ${r.noopUpkit.error}` : ''}`,
      );
    if (r.noopDrizzle?.error) lines.push(`no-op peer failed: ${r.noopDrizzle.error}`);
    if (r.withData && r.withData.dryRun.lint === null)
      lines.push(
        `dry run with data: exit ${r.withData.dryRun.exit}: ` +
          `${r.withData.dryRun.error ?? r.withData.dryRun.codes.join(', ')}`,
      );
    if (r.times.drizzleKitError) lines.push(`drizzle-kit migrate failed: ${r.times.drizzleKitError}`);
    const cells = lines.map((l) => l.replace(/\|/g, '\\|').replace(/\n/g, ' '));
    out.push(`- **${r.name}**: ${lines.length ? cells.join(' · ') : 'nothing failed'}`);
  }
  // Not failures: destructive statements that would destroy rows that exist, which the lint
  // must keep finding (the operator reviews them and accepts them with --allow-destructive=TAG).
  const real = results.filter((r) => r.withData?.dryRun.lint);
  if (real.length) {
    out.push(
      '',
      'Lint findings on a database with data (statements that would destroy rows ' +
        'that exist: refused until reviewed, exit 3, nothing changed), first ones:',
      '',
    );
    for (const r of real)
      out.push(
        `- **${r.name}** (${r.withData!.dryRun.lint}): ` +
          `${r.withData!.dryRun.firstLint.join('; ').replace(/\|/g, '\\|')}`,
      );
  }
  return out.join('\n');
}
