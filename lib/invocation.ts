// How a command to paste is written. From upkit's own directory it is `npx zx upgrade.ts`;
// started through the launcher (bin/upkit) it is the launcher's absolute path, quoted for the
// shell, and the command's name (`/opt/upkit/bin/upkit upgrade`), which works from any
// directory. Messages, hints, usage and reports are written in the first form; redact(), the
// pass every string leaving the process goes through, turns them into the second when the
// launcher started this process. One place, so that no hint can be missed.
import { shellQuote } from './quote.ts';

/** The launcher's commands and the entry file each one is (the same spec, the same runner). */
export const LAUNCHER_COMMANDS = {
  upgrade: 'upgrade.ts',
  install: 'install.ts',
  verify: 'verify/index.ts',
  preflight: 'scripts/preflight.ts',
  status: 'scripts/status.ts',
  backup: 'scripts/backup.ts',
  restore: 'scripts/restore.ts',
  rollback: 'scripts/rollback.ts',
  mark: 'scripts/mark.ts',
  health: 'scripts/health.ts',
} as const;

export type LauncherCommand = keyof typeof LAUNCHER_COMMANDS;

const BY_ENTRY = new Map<string, string>(Object.entries(LAUNCHER_COMMANDS).map(([name, entry]) => [entry, name]));

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const ENTRY_SOURCE = [...BY_ENTRY.keys()].map(escapeRegExp).join('|');
/** `npx zx ENTRY`, whole (not `npx zx upgrade.tsx`, not `scripts/demo.ts`). */
const NPX_ZX = new RegExp(`npx zx (${ENTRY_SOURCE})(?![\\w./-])`, 'g');

/** The launcher's path as a shell word, once this process was started through it. */
let launcher: string | undefined;

/** Called by the launcher before anything is printed: commands to paste are written in its form from now on. */
export function useLauncher(file: string | undefined): void {
  launcher = file === undefined ? undefined : shellQuote(file);
}

/** The launcher as a shell word, when this process was started through it. */
export function launcherWord(): string | undefined {
  return launcher;
}

/** The text with every `npx zx ENTRY` written as this process was started (unchanged unless through the launcher). */
export function pasteForm(text: string): string {
  if (launcher === undefined || !text.includes('npx zx ')) return text;
  const word = launcher;
  return text.replace(NPX_ZX, (_m, entry: string) => `${word} ${BY_ENTRY.get(entry)}`);
}

/**
 * Matches a command to paste for one of the given entries, in either form (group 1: the
 * command, to which a hint may add arguments, as a run over targets adds --target NAME).
 */
export function commandPattern(entries: readonly string[]): RegExp {
  const forms = [`npx zx (?:${entries.map(escapeRegExp).join('|')})`];
  if (launcher !== undefined)
    forms.push(`${escapeRegExp(launcher)} (?:${entries.map((e) => escapeRegExp(BY_ENTRY.get(e) ?? e)).join('|')})`);
  return new RegExp(`(${forms.join('|')})(?![\\w./-])`, 'g');
}
