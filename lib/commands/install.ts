import { readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { COMMON_OPTIONS, VERSION, type CommandSpec } from '../cliSpec.ts';
import { EXIT, usageError } from '../errors.ts';
import { canAsk, confirm } from '../prompt.ts';
import { registerSecret } from '../redact.ts';
import { ALLOW_DESTRUCTIVE, allowDestructive } from './destructive.ts';

/** Asks twice on the terminal without echoing. */
async function promptPassword(): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    const ask = async (q: string) => {
      process.stderr.write(q);
      muted = true;
      const a = await rl.question('');
      muted = false;
      process.stderr.write('\n');
      return a;
    };
    const first = await ask('Password for the admin user: ');
    const second = await ask('Again: ');
    if (first !== second) throw usageError('the two passwords differ; nothing was changed');
    return first;
  } finally {
    rl.close();
  }
}

function readPasswordFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`--admin-password-file ${file} cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  const password = text.replace(/\r?\n$/, '');
  if (password.length < 12) throw usageError(`the password in ${file} is shorter than 12 characters`);
  if ((statSync(file).mode & 0o077) !== 0)
    process.stderr.write(`warning: ${file} can be read by other users; delete it once the install is done\n`);
  return password;
}

export const installCommand: CommandSpec = {
  name: 'install',
  invocation: 'npx zx install.ts',
  summary: 'Fresh install on an empty or missing database; refuses (exit 3, nothing changed) where an install exists.',
  description: [
    'Writes .env when there is none (mode 0600, secrets from a cryptographic source; an existing .env is never',
    'overwritten, missing keys are added and listed by name), ' +
      'waits for PostgreSQL (DB_WAIT_TIMEOUT ms, default 60000),',
    'creates the database if it is missing, applies the drizzle migrations and seed data with the upgrade engine, and',
    'optionally creates the first organization and its admin user.',
  ].join('\n'),
  options: {
    ...COMMON_OPTIONS,
    yes: { type: 'boolean', description: 'do not ask for confirmation' },
    'no-containers': { type: 'boolean', description: 'do not build or start containers or wait for health' },
    'admin-email': {
      type: 'string',
      valueName: 'EMAIL',
      description: 'create the first organization and its admin user',
    },
    'admin-password-file': {
      type: 'string',
      valueName: 'PATH',
      description: "read the admin user's password from PATH (else asked on the terminal)",
    },
    organization: {
      type: 'string',
      valueName: 'NAME',
      description: 'name of the first organization (default: Default)',
    },
    'drizzle-dir': {
      type: 'string',
      valueName: 'PATH',
      description: "install another app's drizzle folder (UPKIT_DRIZZLE_DIR)",
    },
    'no-backup': {
      type: 'boolean',
      description: "your own snapshots replace upkit's backups: pg_dump and backup room are not checked",
    },
    'allow-destructive': ALLOW_DESTRUCTIVE,
  },
  config: false,
  async run({ values, log, report, signal }) {
    const email = values['admin-email'] as string | undefined;
    if (email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email))
      throw usageError(`--admin-email "${email}" is not an email address`);
    const accept = allowDestructive(values, 'npx zx install.ts');
    const file = values['admin-password-file'] as string | undefined;
    if (file && !email) throw usageError('--admin-password-file goes with --admin-email');
    const adminPassword = async () => {
      const p = file ? readPasswordFile(file) : process.stdin.isTTY ? await promptPassword() : '';
      registerSecret(p);
      return p;
    };
    if (!values.yes && canAsk()) {
      const drizzleDir = values['drizzle-dir'] as string | undefined;
      const { confirmed } = await confirm(
        `Install ${drizzleDir ? `the migrations of ${drizzleDir}` : 'Pulse'}` +
          ` into the configured database? Type yes to go on: `,
        { signal },
      );
      if (!confirmed) return EXIT.refused;
    }
    const { givenEnvFile } = await import('../config.ts');
    const { runInstall } = await import('../install.ts');
    const { profileFor } = await import('../../profiles/index.ts');
    return runInstall(log, report, {
      profileFor,
      cwd: process.cwd(),
      envFile: givenEnvFile(values, installCommand.invocation),
      adminEmail: email,
      adminPassword: email ? adminPassword : undefined,
      organization: (values.organization as string | undefined) ?? 'Default',
      drizzleDir: values['drizzle-dir'] as string | undefined,
      containers: values['no-containers'] !== true,
      noBackup: values['no-backup'] === true,
      allowDestructive: accept,
      upkitVersion: VERSION,
      signal,
    });
  },
};
