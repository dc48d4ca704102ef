import { describe, expect, it } from 'vitest';
import { plural } from '../../lib/plural.ts';

describe('plural', () => {
  it('says one thing in the singular and every other count in the plural', () => {
    expect(plural(1, 'statement')).toBe('1 statement');
    expect(plural(2, 'statement')).toBe('2 statements');
    expect(plural(0, 'problem')).toBe('0 problems');
    expect(plural(1, 'entry')).toBe('1 entry');
    expect(plural(3, 'entry')).toBe('3 entries');
    expect(plural(2, 'key')).toBe('2 keys');
    expect(plural(2, 'process')).toBe('2 processes');
    expect(plural(2, 'index', 'indexes')).toBe('2 indexes');
  });
});
