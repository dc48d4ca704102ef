// One bad input an operator can meet, as docs/FAILURES.md shows it and as its test checks it.

export const GROUPS = {
  configuration: 'Configuration (.env and the environment)',
  connection: 'Connection',
  server: 'Server and role',
  tools: 'Tools and disk',
  migrations: 'Migration files',
  data: 'Data',
  concurrency: 'Concurrency and interruption',
  'command-line': 'Command line',
  restore: 'Restore and rollback',
  backups: 'Backup files, retention and file modes',
  schema: 'Schemas and search_path',
  output: 'Signals, closed output, hints and redaction',
  install: 'Install',
  verify: 'Verification',
} as const;

export type GroupId = keyof typeof GROUPS;

export interface FailureCase {
  /** Stable id; the test that checks the case names it. */
  id: string;
  group: GroupId;
  /** The case, in a few words. */
  title: string;
  /** What the operator did (or what happened to them). */
  did: string;
  /** The entry point, as after `npx zx`, or the launcher `bin/upkit` (its command first among the args). */
  entry: string;
  /** Its arguments; {placeholders} are filled by the test. */
  args: readonly string[];
  /** Settings in the environment (or .env) that make the case; {placeholders} allowed. */
  env?: Readonly<Record<string, string>>;
  /** The `.env` file in the working directory, when the case is about it. */
  dotenv?: string;
  /** Default `error`; a `warning` is printed with ⚠ and the run goes on. */
  severity?: 'error' | 'warning' | 'info';
  /** The finding's code in the --json report. */
  code: string;
  /** The one line, exactly (after ✖ or ⚠), with {placeholders}. */
  message: string;
  /** Lines printed under it (each indented by four spaces), when there are any. */
  details?: readonly string[];
  /** The line after `→`. */
  hint: string | null;
  /** For preflight: the check whose line carries the message (`✖ <step>  <message> (<time>)`). */
  step?: string;
  exit: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 130;
  /** What changed in the database: "nothing", or exactly what. */
  changed: string;
  /** The test file under test/integration that checks it. */
  test: string;
  /** Whether the command is run with --json and the report's finding checked too (default true). */
  json?: boolean;
  /** Anything else an operator should know about the case (how the test makes it, a limit). */
  note?: string;
}

export function commandLine(c: Pick<FailureCase, 'entry' | 'args'>): string {
  // The launcher (bin/upkit) is run as it is, not through zx.
  return [...(c.entry.startsWith('bin/') ? [] : ['npx zx']), c.entry, ...c.args].join(' ');
}
