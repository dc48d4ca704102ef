// Whether the session can write at all: a standby in recovery cannot, and neither can a role
// whose transactions start read-only (default_transaction_read_only set by ALTER ROLE, ALTER
// DATABASE, the connection's options or postgresql.conf). Both are known before the first
// write; each is refused naming where the setting comes from and the statement that undoes it.
import type { Client } from 'pg';
import type { Problem } from '../plan.ts';
import { sqlIdent } from '../quote.ts';

export interface WriteFacts {
  user: string;
  database: string;
  inRecovery: boolean;
  readOnlyDefault: boolean;
  /**
   * pg_settings.source of default_transaction_read_only: `user`, `database`, `database user`, `client`, `configuration
   * file`, …
   */
  readOnlySource: string;
  /** A superuser, or CREATE on the database and on schema public (what preflight's privileges check asks). */
  canCreate: boolean;
}

export async function readWriteFacts(client: Pick<Client, 'query'>): Promise<WriteFacts> {
  const { rows } = await client.query<{
    usr: string;
    db: string;
    recovery: boolean;
    setting: string;
    source: string;
    can_create: boolean;
  }>(
    `select current_user as usr, current_database() as db, pg_is_in_recovery() as recovery, s.setting, s.source,
            coalesce((select rolsuper from pg_roles where rolname = current_user), false)
              or (has_database_privilege(current_database(), 'CREATE') ` +
      `and coalesce(has_schema_privilege('public', 'CREATE'), false)) as can_create
       from pg_settings s where s.name = 'default_transaction_read_only'`,
  );
  const r = rows[0]!;
  return {
    user: r.usr,
    database: r.db,
    inRecovery: r.recovery,
    readOnlyDefault: r.setting === 'on',
    readOnlySource: r.source,
    canCreate: r.can_create,
  };
}

const AGAIN = 'then run the upgrade again; nothing was changed';

export function writeProblems(f: WriteFacts): Problem[] {
  if (f.inRecovery) {
    return [
      {
        code: 'check.standby',
        message: `the server is a standby in recovery (a read-only replica): upkit must write to the primary`,
        hint: 'point DATABASE_URL (or DIRECT_URL) at the primary server, then run: npx zx scripts/preflight.ts',
      },
    ];
  }
  if (!f.readOnlyDefault) return [];
  const role = sqlIdent(f.user);
  const db = sqlIdent(f.database);
  const by: Record<string, { said: string; fix: string }> = {
    user: { said: `ALTER ROLE ${role}`, fix: `ALTER ROLE ${role} RESET default_transaction_read_only;` },
    database: { said: `ALTER DATABASE ${db}`, fix: `ALTER DATABASE ${db} RESET default_transaction_read_only;` },
    'database user': {
      said: `ALTER ROLE ${role} IN DATABASE ${db}`,
      fix: `ALTER ROLE ${role} IN DATABASE ${db} RESET default_transaction_read_only;`,
    },
    client: {
      said: "the connection's options",
      fix:
        `remove -c default_transaction_read_only=on from the connection's ` +
        `options (options= in DATABASE_URL, or PGOPTIONS), ${AGAIN}`,
    },
    'configuration file': {
      said: 'postgresql.conf',
      fix: `ALTER ROLE ${role} SET default_transaction_read_only = off;`,
    },
  };
  const source = by[f.readOnlySource] ?? {
    said: f.readOnlySource,
    fix: `ALTER ROLE ${role} SET default_transaction_read_only = off;`,
  };
  return [
    {
      code: 'check.read_only',
      message:
        `role ${role} starts every transaction read-only (default_transaction_read_only is on, ` +
        `set by ${source.said}), so no change could be written`,
      hint: f.readOnlySource === 'client' ? source.fix : `as an administrator: ${source.fix} ${AGAIN}`,
    },
  ];
}
