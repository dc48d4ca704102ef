// Words the checks share: where a statement is, a list kept short, the end of every hint.
import type { At } from './intents.ts';

export const AGAIN = 'then run the upgrade again; nothing was changed';

export const where = (at: At) => `${at.file}:${at.line}`;

export function listed(items: readonly string[], max = 5): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
