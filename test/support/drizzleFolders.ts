// Copies of Pulse's drizzle folder with more journal entries: another app's release, a
// failing migration, a destructive one. The schema snapshot of the extra entry is 0003's.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DRIZZLE_DIR } from './releases.ts';

export interface ExtraMigration {
  tag: string;
  sql: string;
  when: number;
}

export function drizzleFolderWith(...extras: ExtraMigration[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-app-drizzle-'));
  cpSync(DRIZZLE_DIR, dir, { recursive: true });
  const journalPath = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<Record<string, unknown>> };
  for (const extra of extras) {
    journal.entries.push({
      idx: journal.entries.length,
      version: '7',
      when: extra.when,
      tag: extra.tag,
      breakpoints: true,
    });
    writeFileSync(path.join(dir, `${extra.tag}.sql`), extra.sql);
    // Verification compares with the newest snapshot; what the extras add is not modelled there.
    const snapshot = `${String(journal.entries.length - 1).padStart(4, '0')}_snapshot.json`;
    cpSync(path.join(dir, 'meta', '0003_snapshot.json'), path.join(dir, 'meta', snapshot));
  }
  writeFileSync(journalPath, JSON.stringify(journal, null, 2));
  return dir;
}
