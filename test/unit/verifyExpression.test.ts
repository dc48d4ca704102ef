import { beforeAll, describe, expect, it } from 'vitest';
import {
  expressionParserReady,
  expressionTree,
  sameColumnName,
  sameExpression,
  unqualify,
} from '../../verify/sqlExpression.ts';

beforeAll(() => expressionParserReady());

describe('expressions compared by meaning', () => {
  it.each([
    ['an index expression', 'lower("email")', 'lower((email)::text)'],
    ['a partial index predicate', '"roles"."organization_id" is null', '(organization_id IS NULL)'],
    [
      'a check written as IN and printed as = ANY (ARRAY[...])',
      `"discovery_code_generations"."format" in ('terraform', 'cloudformation', 'pulumi')`,
      `((format)::text = ANY ((ARRAY['terraform'::character varying, ` +
        `'cloudformation'::character varying, 'pulumi'::character varying])::text[]))`,
    ],
    [
      'NOT IN printed as <> ALL',
      `"t"."x" not in ('a', 'b')`,
      `((x)::text <> ALL ((ARRAY['a'::character varying, 'b'::character varying])::text[]))`,
    ],
    ['a string default', `'member'`, `'member'::character varying`],
    ['an enum default', `'active'`, `'active'::integration_status`],
    ['a jsonb default with other spacing', `'{"a":1,"b":[1,2]}'::jsonb`, `'{"b": [1, 2], "a": 1}'::jsonb`],
    ['a negative number', '-1', `'-1'::integer`],
    ['zero', '0', '0'],
    ['a function default', 'gen_random_uuid()', 'gen_random_uuid()'],
    ['a qualified function', 'pg_catalog.now()', 'now()'],
    ['an expression default', `(now() + interval '1 day')`, `(now() + '1 day'::interval)`],
    ['a boolean expression', `"t"."a" > 0 and "t"."b" is not null`, '((a > 0) AND (b IS NOT NULL))'],
  ])('%s', (_what, expected, actual) => {
    expect(sameExpression(expected, actual)).toBe(true);
  });

  it.each([
    ['another function', 'lower("email")', 'upper((email)::text)'],
    ['another column', 'lower("email")', 'lower((name)::text)'],
    ['another predicate', '"roles"."organization_id" is null', '(organization_id IS NOT NULL)'],
    [
      'a shorter IN list',
      `"t"."format" in ('a', 'b', 'c')`,
      `((format)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))`,
    ],
    ['another default', `'member'`, `'viewer'::character varying`],
    ['another jsonb value', `'{}'::jsonb`, `'[]'::jsonb`],
    ['another number', '1', '2'],
    ['true and false', 'true', 'false'],
  ])('tells apart %s', (_what, expected, actual) => {
    expect(sameExpression(expected, actual)).toBe(false);
  });

  it('reduces a tree to what carries meaning (no positions, no casts, no qualifiers)', () => {
    expect(expressionTree('lower(("users"."email")::text)')).toEqual({
      fn: 'lower',
      args: [{ col: 'email' }],
      star: false,
      distinct: false,
    });
    expect(expressionTree('this is not sql (')).toBeUndefined();
  });

  it('drops the table qualifiers drizzle-kit writes, but not inside string literals', () => {
    expect(unqualify(`"roles"."organization_id" is null and roles.name <> 'roles.x'`, 'roles')).toBe(
      `"organization_id" is null and name <> 'roles.x'`,
    );
    expect(unqualify('"users_roles"."x" = 1', 'roles')).toBe('"users_roles"."x" = 1');
    expect(sameExpression('"t1"."state" <> \'gone\'', "(state <> 'gone'::text)", 't1')).toBe(true);
  });

  it('compares index column names with or without quotes', () => {
    expect(sameColumnName('"organization_id"', 'organization_id')).toBe(true);
    expect(sameColumnName('"Email"', 'Email')).toBe(true);
    expect(sameColumnName('email', 'name')).toBe(false);
  });
});
