import { describe, expect, it } from 'vitest';
import { formatPgError, locate } from '../../lib/pgError.ts';

describe('formatPgError', () => {
  it('points at file:line:col with the line and a caret, then SQLSTATE, detail and hint', () => {
    const fileText = 'create table a (id int);\n\nalter table a\n\tadd colum b int;\n';
    const statement = 'alter table a\n\tadd colum b int;';
    const offset = fileText.indexOf(statement);
    const err = {
      message: 'syntax error at or near "b"',
      code: '42601',
      position: String(statement.indexOf(' b int') + 2),
      hint: 'did you mean column?',
      detail: 'x',
    };
    const { headline, details } = formatPgError(err, {
      file: 'legacy-sql/upgrade.sql',
      sql: statement,
      offset,
      fileText,
    });
    expect(headline).toBe('legacy-sql/upgrade.sql:4:12: ERROR 42601: syntax error at or near "b"');
    expect(details).toEqual(['4 | \tadd colum b int;', '    \t          ^', 'DETAIL: x', 'HINT: did you mean column?']);
  });

  it('renders errors without a position or a file', () => {
    expect(formatPgError({ message: 'relation "x" does not exist', code: '42P01' })).toEqual({
      headline: 'ERROR 42P01: relation "x" does not exist',
      details: [],
    });
  });

  it('locates 1-based lines and columns', () => {
    expect(locate('ab\ncd', 4)).toEqual({ line: 2, column: 2, lineText: 'cd' });
  });
});
