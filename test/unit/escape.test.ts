import { describe, expect, it } from 'vitest';
import { markdownCode, markdownText, visible } from '../../lib/escape.ts';

describe('escaping untrusted names for their medium', () => {
  it('shows every control and invisible character on the terminal as \\uXXXX, one line', () => {
    expect(visible('a\nb\r\tc\u001b[31md\u007f\u0085\u202e\u2028\u200b')).toBe(
      'a\\u000ab\\u000d\\u0009c\\u001b[31md\\u007f\\u0085\\u202e\\u2028\\u200b',
    );
    expect(visible('Zürich ✔ "ok"')).toBe('Zürich ✔ "ok"');
  });

  it('escapes inline Markdown and keeps it on one line', () => {
    expect(markdownText('x\n# y | *z* `c` [l](u) <b> ~s~ _u_ a&b \\')).toBe(
      'x\\\\u000a# y \\| \\*z\\* \\`c\\` \\[l\\](u) \\<b\\> \\~s\\~ \\_u\\_ a&amp;b \\\\',
    );
  });

  it('fences a code span with more backticks than it holds', () => {
    expect(markdownCode('run: psql')).toBe('`run: psql`');
    expect(markdownCode('a `b` c')).toBe('``a `b` c``');
    expect(markdownCode('`x`')).toBe('`` `x` ``');
    expect(markdownCode('a\nb')).toBe('`a\\u000ab`');
  });
});
