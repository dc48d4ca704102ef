// What a person reads: findings grouped by area, one line each with its hint, and a summary
// line; or a Markdown block to paste into a ticket. Pure; the caller redacts on output
// (and redacts again here, since a ticket is the place a secret must never reach).
import { markdownCode, markdownText, visible } from '../lib/escape.ts';
import { plural } from '../lib/plural.ts';
import { redact } from '../lib/redact.ts';
import type { Severity } from '../lib/report.ts';
import { AREAS, type Area, type VerifyFinding } from './model.ts';

export interface AreaSummary {
  area: Area;
  /** Milliseconds; undefined when the area was not checked. */
  ms?: number;
  /** Why it was not checked, when it was not. */
  skipped?: string;
}

export interface Versions {
  upkit: string;
  node: string;
  server: string | null;
  release: string | null;
  latest: string | null;
  pgDump: string | null;
  database: string | null;
  snapshot: string | null;
}

const SYMBOL: Record<Severity, string> = { error: '✖', warning: '⚠', info: 'ℹ' };

export function counts(findings: readonly VerifyFinding[]): Record<Severity, number> {
  const c: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const f of findings) c[f.severity]++;
  return c;
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Areas a lock kept verify from reading (a verify.locked finding each): what they hold is unknown. */
export function notRead(findings: readonly VerifyFinding[]): Area[] {
  return AREAS.filter((area) => findings.some((f) => f.area === area && f.code === 'verify.locked'));
}

/** `not read`, or `partly read` when the lock kept only some of its tables from being read. */
function howRead(area: Area, findings: readonly VerifyFinding[]): string {
  return findings.some(
    (f) => f.area === area && f.code === 'verify.locked' && f.message.startsWith(`${area} not read:`),
  )
    ? 'not read'
    : 'partly read';
}

export function summaryLine(findings: readonly VerifyFinding[], areas: readonly AreaSummary[]): string {
  const c = counts(findings);
  const unread = notRead(findings);
  const times = areas
    .map((a) => {
      const time = a.ms === undefined ? 'not checked' : formatSeconds(a.ms);
      return `${a.area} ${unread.includes(a.area) ? howRead(a.area, findings) : time}`;
    })
    .join(', ');
  const incomplete = unread.length
    ? `; the report is incomplete: ${unread.map((a) => `${a} ${howRead(a, findings)}`).join(', ')} (locked)`
    : '';
  return `verify: ${plural(c.error, 'error')}, ${plural(c.warning, 'warning')} (${times})${incomplete}`;
}

function areaHeader(a: AreaSummary, findings: readonly VerifyFinding[]): string {
  const c = counts(findings);
  const locked = findings.some((f) => f.code === 'verify.locked');
  const state =
    a.skipped !== undefined
      ? `not checked: ${a.skipped}`
      : locked
        ? `${howRead(a.area, findings)} (locked)`
        : c.error
          ? plural(c.error, 'error')
          : c.warning
            ? plural(c.warning, 'warning')
            : 'ok';
  return `${a.area}: ${state}`;
}

export function renderHuman(findings: readonly VerifyFinding[], areas: readonly AreaSummary[]): string {
  const lines: string[] = [];
  for (const a of areas) {
    const mine = findings.filter((f) => f.area === a.area);
    lines.push(areaHeader(a, mine));
    for (const f of mine)
      lines.push(`  ${SYMBOL[f.severity]} ${f.code}  ${visible(f.message)}${f.hint ? `  → ${visible(f.hint)}` : ''}`);
  }
  lines.push(summaryLine(findings, areas));
  return redact(lines.join('\n'));
}

// Names and messages hold what the database holds: escaped for Markdown, never raw.
const cell = (s: string) => markdownText(s);
const code = (s: string) => markdownCode(s);

export function renderMarkdown(
  findings: readonly VerifyFinding[],
  areas: readonly AreaSummary[],
  v: Versions,
  checkedAt: Date,
): string {
  const c = counts(findings);
  const lines = [
    `### upkit verify: ${c.error ? plural(c.error, 'error') : 'no errors'}, ` +
      `${plural(c.warning, 'warning')}${notRead(findings).length ? ', incomplete' : ''}`,
    '',
    '| | |',
    '|---|---|',
    `| upkit | ${cell(v.upkit)} |`,
    `| release | ${cell(v.release ?? 'none detected')}${v.latest ? ` (latest ${cell(v.latest)})` : ''} |`,
    `| compared with | ${cell(v.snapshot ?? 'n/a')} |`,
    `| PostgreSQL server | ${cell(v.server ?? 'unknown')} |`,
    `| pg_dump | ${cell(v.pgDump ?? 'none found')} |`,
    `| Node.js | ${cell(v.node)} |`,
    `| database | ${cell(v.database ?? 'unknown')} |`,
    `| checked at | ${checkedAt.toISOString()} |`,
  ];
  for (const a of areas) {
    const mine = findings.filter((f) => f.area === a.area);
    lines.push('', `#### ${markdownText(areaHeader(a, mine))}${a.ms !== undefined ? ` (${formatSeconds(a.ms)})` : ''}`);
    if (mine.length) lines.push('');
    for (const f of mine)
      lines.push(
        `- ${SYMBOL[f.severity]} ${code(f.code)} ${markdownText(f.message)}${f.hint ? `  \n  → ${code(f.hint)}` : ''}`,
      );
  }
  lines.push('', summaryLine(findings, areas));
  return redact(lines.join('\n'));
}

/** `areas`: those this app has (an app without seed data has no `seed data` area, so none is claimed or listed). */
export function areaSummaries(
  timings: Partial<Record<Area, number>>,
  skipped: Partial<Record<Area, string>>,
  areas: readonly Area[] = AREAS,
): AreaSummary[] {
  return areas.map((area) =>
    skipped[area] !== undefined
      ? { area, skipped: skipped[area] }
      : { area, ...(timings[area] !== undefined ? { ms: timings[area] } : {}) },
  );
}
