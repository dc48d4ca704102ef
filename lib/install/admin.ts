// The first organization and its admin user. The password is stored as a scrypt hash from
// node:crypto in this format (the one Pulse's API verifies):
//   scrypt$<N>$<r>$<p>$<salt, base64>$<64-byte key, base64>
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { Client } from 'pg';

const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 64;

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize('NFKC'), salt, KEY_LENGTH, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function verifyPassword(password: string, stored: string): boolean {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = scryptSync(password.normalize('NFKC'), Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return timingSafeEqual(actual, expected);
}

export function slugify(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 100) || 'default'
  );
}

/**
 * Creates the organization and admin user unless a user with that email exists (seed data is applied afterwards by the
 * caller).
 */
export async function createAdmin(
  client: Pick<Client, 'query'>,
  input: { email: string; password: string; organization: string },
): Promise<'created' | 'exists'> {
  const email = input.email.trim().toLowerCase();
  const existing = await client.query('select 1 from users where lower(email) = $1', [email]);
  if (existing.rowCount) return 'exists';
  const slug = slugify(input.organization);
  const { rows } = await client.query<{ id: string }>(
    `insert into organizations (name, slug) values ($1, $2) ` +
      `on conflict (slug) do update set name = organizations.name returning id`,
    [input.organization, slug],
  );
  const org = rows[0]!.id;
  const user = await client.query<{ id: string }>(
    `insert into users (organization_id, email, password_hash, ` +
      `name, role) values ($1, $2, $3, $4, 'admin') returning id`,
    [org, email, hashPassword(input.password), email.split('@')[0]],
  );
  await client.query(
    `insert into user_roles (user_id, role_id) select $1, ` +
      `id from roles where name = 'admin' and organization_id is null`,
    [user.rows[0]!.id],
  );
  return 'created';
}
