import { describe, expect, it } from 'vitest';
import { catalogBatch } from '../../verify/catalogQueries.ts';

describe('the catalog batch without tables another session locks', () => {
  it('leaves their columns, indexes and constraints out, and nothing else', () => {
    const all = catalogBatch(150000).split(';\n');
    const without = catalogBatch(150000, [16384, 16390]).split(';\n');
    const not = " and c.oid <> all('{16384,16390}'::oid[])";
    expect(without).toHaveLength(4);
    for (const i of [0, 1, 2]) expect(without[i]!.replace(not, '')).toBe(all[i]);
    for (const i of [0, 1, 2]) expect(without[i]).toContain(not);
    expect(without[0]).toMatch(/all\('\{16384,16390\}'::oid\[\]\)\n order by c\.oid, a\.attnum$/);
    expect(without[3]).toBe(all[3]);
    expect(catalogBatch(150000, [])).toBe(catalogBatch(150000));
  });
});
