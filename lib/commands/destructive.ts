// `--allow-destructive` for install and upgrade: alone it accepts every destructive statement
// the lint finds, `--allow-destructive=TAG,…` only those of the named migrations (journal
// tags, or legacy file names); the plan refuses a tag that has nothing to accept.
import type { OptionSpec } from '../cliSpec.ts';
import { usageError } from '../errors.ts';

export const ALLOW_DESTRUCTIVE: OptionSpec = {
  type: 'string',
  bare: true,
  valueName: 'TAG,…',
  description:
    'apply the statements the lint marks destructive: alone all of them, =TAG,… only those of these migrations',
};

export function allowDestructive(values: Record<string, unknown>, invocation: string): boolean | string[] {
  const raw = values['allow-destructive'];
  if (raw === undefined) return false;
  if (raw === true) return true;
  const tags = String(raw)
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (tags.length === 0)
    throw usageError(
      '--allow-destructive= names no migration',
      `run: ${invocation} --allow-destructive=TAG (the tags the refusal names), or --allow-destructive alone for all`,
    );
  return [...new Set(tags)];
}
