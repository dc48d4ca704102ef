import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { snapshotPath } from '../../lib/drizzle/journal.ts';

const dirs: string[] = [];
function folder(files: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-snap-'));
  dirs.push(dir);
  mkdirSync(path.join(dir, 'meta'));
  for (const f of files) writeFileSync(path.join(dir, 'meta', f), '{}');
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('snapshotPath: the snapshot drizzle-kit wrote for a journal entry', () => {
  it('index layout: meta/0003_snapshot.json', () => {
    const dir = folder(['0002_snapshot.json', '0003_snapshot.json']);
    expect(snapshotPath(dir, { idx: 3, tag: '0003_brave_wolf' })).toBe(path.join(dir, 'meta', '0003_snapshot.json'));
  });

  it('timestamp layout: meta/<timestamp>_snapshot.json, named after the tag prefix', () => {
    const dir = folder(['20250508083758_snapshot.json', '20250522083748_snapshot.json']);
    expect(snapshotPath(dir, { idx: 1, tag: '20250522083748_AddEmailToWorkspaceMembers' })).toBe(
      path.join(dir, 'meta', '20250522083748_snapshot.json'),
    );
  });

  it('a tag whose prefix has no snapshot falls back to the padded index', () => {
    const dir = folder(['0004_snapshot.json']);
    expect(snapshotPath(dir, { idx: 4, tag: 'custom_name' })).toBe(path.join(dir, 'meta', '0004_snapshot.json'));
  });

  it('neither exists: the prefix path, for the caller to report missing', () => {
    const dir = folder([]);
    expect(snapshotPath(dir, { idx: 1, tag: '20250522083748_x' })).toBe(
      path.join(dir, 'meta', '20250522083748_snapshot.json'),
    );
  });
});
