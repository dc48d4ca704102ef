// Verify's look at the profile's repeatable SQL (docs/repeatable.md): a file new or changed
// and not applied, and an object a file defines (view, function, policy, trigger, row level
// security, grant) that the database has lost since it was applied. Both are errors: the
// database lacks what this release's files define, and the upgrade applies the file again.
import type { Client } from 'pg';
import { isUpkitError } from '../lib/errors.ts';
import type { Profile } from '../lib/profileTypes.ts';
import { sqlIdent } from '../lib/quote.ts';
import { readRepeatableDir, repeatableKey } from '../lib/repeatable/files.ts';
import { readRepeatableLedger, repeatableStates, REPEATABLE_LEDGER } from '../lib/repeatable/state.ts';
import { finding, type VerifyFinding } from './model.ts';

const APPLY = 'apply it: npx zx upgrade.ts (npx zx upgrade.ts --dry-run lists what it applies first)';

export async function checkRepeatable(
  client: Pick<Client, 'query'>,
  profile: Pick<Profile, 'repeatableDir'>,
): Promise<VerifyFinding[]> {
  const files = readRepeatableDir(profile.repeatableDir);
  if (files.length === 0) return [];
  const ledger = await readRepeatableLedger(client);
  if (ledger === 'unreadable') {
    const { rows } = await client.query<{ user: string }>('select current_user as user');
    return [
      finding(
        'ledgers',
        'error',
        'verify.privilege',
        `role ${rows[0]!.user} cannot read ${REPEATABLE_LEDGER}, so the repeatable files were not checked`,
        `run as an administrator: GRANT USAGE ON SCHEMA upkit TO ${sqlIdent(rows[0]!.user)}` +
          `; GRANT SELECT ON ${REPEATABLE_LEDGER} TO ${sqlIdent(rows[0]!.user)};`,
      ),
    ];
  }
  let states: Awaited<ReturnType<typeof repeatableStates>>;
  try {
    states = await repeatableStates(client, files, new Map(), ledger);
  } catch (err) {
    if (!isUpkitError(err)) throw err;
    return [
      finding(
        'ledgers',
        'error',
        'repeatable.unparsable',
        err.message,
        err.hint ?? 'fix the file, then run: npx zx upgrade.ts --dry-run',
      ),
    ];
  }
  const out: VerifyFinding[] = [];
  for (const s of states) {
    const name = repeatableKey(s.file);
    if (s.status === 'new')
      out.push(finding('ledgers', 'error', 'repeatable.pending', `${name} has never been applied`, APPLY));
    if (s.status === 'changed')
      out.push(
        finding(
          'ledgers',
          'error',
          'repeatable.pending',
          `${name} changed since it was applied (${s.last!.appliedAt.toISOString()}, ` +
            `sha256 ${s.last!.checksum.slice(0, 12)}, now ${s.checksum.slice(0, 12)}) and the change is not applied`,
          APPLY,
        ),
      );
    if (s.status === 'missing') {
      out.push(
        finding(
          'ledgers',
          'error',
          'repeatable.object_missing',
          `${name} defines ${s.missing.join(', ')}, which the database no longer ` +
            `has (dropped or revoked since ${s.last!.appliedAt.toISOString()})`,
          'run the upgrade again, which applies the file again: npx zx upgrade.ts',
        ),
      );
    }
  }
  return out;
}
