import { describe, expect, it } from 'vitest';
import { finishedTableData } from '../../lib/backup/restoreJobs.ts';

describe('finishedTableData', () => {
  it.each([
    ['pg_restore: finished item 3349 TABLE DATA items', 'items'],
    // Two parallel workers' writes interleaved on one stderr: the prefix on the line before.
    [' finished item 3349 TABLE DATA items', 'items'],
    ['pg_restore:pg_restore: finished item 12 TABLE DATA audit_logs', 'audit_logs'],
    ['pg_restore: processing data for table "public.items"', undefined],
    ['pg_restore: finished item 3203 INDEX items_pick', undefined],
    ['pg_restore: launching item 3349 TABLE DATA items', undefined],
  ])('%j names %j', (line, table) => {
    expect(finishedTableData(line)).toBe(table);
  });
});
