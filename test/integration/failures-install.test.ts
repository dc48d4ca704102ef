// Catalogue cases (test/failures/hardening/install.ts): install checks everything before it
// touches `.env`. Each refusal leaves `.env` byte for byte as it was (sha256 before and after)
// and the database as it was; a secret set in the environment is never given another value.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import dotenv from 'dotenv';
import { describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { fill } from '../failures/match.ts';
import { backupArgs, useFreshDatabase } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('failure catalogue: install changes nothing until its checks pass', () => {
  const db = useFreshDatabase();
  const vars = () => ({ url: db().url, host: db().host, port: db().port, user: db().user, database: db().database });

  /** Writes the case's .env first, so that its sha256 can be taken before the run. */
  async function refusal(id: string, extra: Record<string, string | number> = {}): Promise<void> {
    const c = failureCase(id);
    const cwd = tempDir();
    const v = { cwd, ...vars(), ...extra };
    const envFile = path.join(cwd, '.env');
    writeFileSync(envFile, fill(c.dotenv!, v), { mode: 0o644 });
    const before = sha(envFile);
    const state = await dbState(db().url);
    const r = await runCase({ ...c, dotenv: undefined }, v, { cwd });
    expectCase(r, c, r.vars);
    expect(sha(envFile), `${id}: .env changed`).toBe(before);
    expect(readFileSync(envFile, 'utf8')).not.toContain('ENCRYPTION_KEY');
    await expectUnchanged(db().url, state);
  }

  it('install.env-existing-install', async () => {
    await asRelease(db(), 'v2.3', { data: false });
    await refusal('install.env-existing-install');
  });
  it('install.env-compose-missing', () => refusal('install.env-compose-missing'));
  it('install.env-unreachable', async () => refusal('install.env-unreachable', { closedPort: await closedPort() }));
  it('install.env-bad-setting', () => refusal('install.env-bad-setting'));

  it('install.env-key-in-environment', async () => {
    const c = failureCase('install.env-key-in-environment');
    const key = 'a'.repeat(64);
    const r = await runCase({ ...c, args: [...backupArgs(), ...c.args] }, { ...vars(), key });
    expectCase(r, c, r.vars);
    const written = dotenv.parse(readFileSync(path.join(r.cwd, '.env'), 'utf8'));
    expect(written.ENCRYPTION_KEY).toBeUndefined();
    expect(Object.keys(written).sort()).toEqual(['DATABASE_URL', 'JWT_SECRET', 'SESSION_SECRET']);
  });
});
