// Release detection, pure: detectRelease() over the catalog facts each Pulse release leaves
// (built from the release probes below), and over partial, hand-edited and ledger-less installs.
import { describe, expect, it } from 'vitest';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { type CatalogFacts, detectRelease, type ReleaseProbe } from '../../lib/release.ts';
import { PULSE_RELEASE_PROBES } from '../../drizzle/releases.ts';
import { PULSE_DRIZZLE_DIR } from '../../profiles/pulse.ts';

const TAG_HASHES = new Map(readMigrations(PULSE_DRIZZLE_DIR).map((m) => [m.tag, m.hash]));

function facts(over: Partial<Record<keyof CatalogFacts, string[]>> = {}): CatalogFacts {
  return {
    tables: new Set(over.tables),
    columns: new Set(over.columns),
    indexes: new Set(over.indexes),
    constraints: new Set(over.constraints),
    enums: new Set(over.enums),
    drizzleHashes: new Set(over.drizzleHashes),
  };
}

/** The catalog an install of Pulse `release` holds: every object its probes and those before it require. */
function installAt(release: string, { ledger = true } = {}): CatalogFacts {
  const upTo = PULSE_RELEASE_PROBES.slice(0, PULSE_RELEASE_PROBES.findIndex((p) => p.release === release) + 1);
  const all = (k: 'tables' | 'columns' | 'indexes' | 'enums') => upTo.flatMap((p) => p.requires[k] ?? []);
  const tags = upTo.flatMap((p) => p.requires.drizzleTags ?? []);
  // From v2.0 on, drizzle's ledger records every entry up to the release.
  const applied = tags.length ? [...TAG_HASHES].slice(0, upTo.length - 5).map(([, h]) => h) : [];
  return facts({
    tables: all('tables'),
    columns: all('columns'),
    indexes: all('indexes'),
    enums: all('enums'),
    drizzleHashes: ledger ? applied : [],
  });
}

const without = (f: CatalogFacts, k: keyof CatalogFacts, name: string): CatalogFacts => {
  const copy = { ...f, [k]: new Set(f[k]) };
  copy[k].delete(name);
  return copy;
};

describe('detectRelease over each Pulse release', () => {
  const releases = PULSE_RELEASE_PROBES.map((p) => p.release);
  it('knows the releases in order', () => {
    expect(releases).toEqual(['v1.0', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v2.0', 'v2.1', 'v2.2', 'v2.3']);
  });

  it.each(releases)('an install at %s is detected at it, nothing ahead', (release) => {
    const d = detectRelease(installAt(release), PULSE_RELEASE_PROBES, TAG_HASHES);
    expect(d.release).toBe(release);
    expect(d.ahead).toEqual([]);
    expect(d.evidence).toHaveLength(releases.length);
    expect(d.evidence[releases.indexOf(release)]).toBe(`${release}: present`);
  });
});

describe('detectRelease over partial and unusual installs', () => {
  const rows: {
    name: string;
    facts: () => CatalogFacts;
    release: string | null;
    ahead?: RegExp[];
    evidence?: RegExp[];
  }[] = [
    { name: 'an empty catalog: no release', facts: () => facts(), release: null, evidence: [/^v1\.0: missing table/] },
    {
      name: 'v1.4 without drizzle ledger: v1.4 (only the ledger tells v2.0 apart)',
      facts: () => installAt('v2.0', { ledger: false }),
      release: 'v1.4',
      evidence: [/^v2\.0: missing drizzle ledger entry 0000_init$/],
    },
    {
      name: 'v2.1 whose ledger was lost: v2.1, v2.0 implied by the later release',
      facts: () => installAt('v2.1', { ledger: false }),
      release: 'v2.1',
      evidence: [/^v2\.0: implied by later releases \(drizzle ledger entry 0000_init missing\)$/],
    },
    {
      name: 'v1.3 with the old unique constraint still there: v1.2',
      facts: () => {
        const f = installAt('v1.3');
        f.constraints.add('users_email_unique');
        return f;
      },
      release: 'v1.2',
      ahead: [
        /^v1\.3: partly present \(index users_email_lower_idx; missing constraint users_email_unique still present\)$/,
      ],
      evidence: [/^v1\.3: missing constraint users_email_unique still present$/],
    },
    {
      name: 'v1.2 missing one of its tables, v1.4 complete: v1.1, with the later objects named as ahead',
      facts: () => without(installAt('v1.4'), 'tables', 'user_roles'),
      release: 'v1.1',
      ahead: [
        /^v1\.2: partly present \(table roles, table permissions, table role_permissions; missing table user_roles\)$/,
        /^v1\.3: present although an earlier release is incomplete$/,
        /^v1\.4: present although an earlier release is incomplete$/,
      ],
    },
    {
      name: 'v2.3 half applied (its enum, not its columns): v2.2, v2.3 partly present',
      facts: () => without(installAt('v2.3'), 'columns', 'users.mfa_enabled'),
      release: 'v2.2',
      ahead: [
        new RegExp(
          String.raw`^v2\.3: partly present \(column users\.preferences, enum integration_status; ` +
            String.raw`missing column users\.mfa_enabled\)$`,
        ),
      ],
    },
  ];
  it.each(rows)('$name', ({ facts: make, release, ahead, evidence }) => {
    const d = detectRelease(make(), PULSE_RELEASE_PROBES, TAG_HASHES);
    expect(d.release).toBe(release);
    expect(d.ahead).toHaveLength(ahead?.length ?? 0);
    for (const [i, re] of (ahead ?? []).entries()) expect(d.ahead[i]).toMatch(re);
    for (const re of evidence ?? []) expect(d.evidence.some((e) => re.test(e))).toBe(true);
  });

  it('matches names the way PostgreSQL stores them: cut to 63 bytes', () => {
    const long = `t_${'x'.repeat(80)}`;
    const probes: ReleaseProbe[] = [
      { release: '1', requires: { tables: [long], columns: [`${long}.${'c'.repeat(70)}`] } },
    ];
    const stored = facts({ tables: [long.slice(0, 63)], columns: [`${long.slice(0, 63)}.${'c'.repeat(63)}`] });
    expect(detectRelease(stored, probes, new Map()).release).toBe('1');
    expect(detectRelease(facts({ tables: [long] }), probes, new Map()).release).toBeNull();
  });

  it('a ledger entry counts only with the hash of the file of that tag', () => {
    const probes: ReleaseProbe[] = [{ release: 'a', requires: { drizzleTags: ['0000_x'] } }];
    expect(detectRelease(facts({ drizzleHashes: ['h'] }), probes, new Map([['0000_x', 'h']])).release).toBe('a');
    expect(detectRelease(facts({ drizzleHashes: ['other'] }), probes, new Map([['0000_x', 'h']])).release).toBeNull();
    expect(detectRelease(facts({ drizzleHashes: ['h'] }), probes, new Map()).release).toBeNull();
  });
});
