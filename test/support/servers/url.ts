// A server someone else runs, named by TEST_DATABASE_URL. We never stop it.
import { parse } from 'pg-connection-string';
import { readServerVersion, redactUrl, type ServerHandle } from './common.ts';

export async function connectUrlServer(url: string): Promise<ServerHandle> {
  const parsed = parse(url);
  const host = parsed.host ?? 'localhost';
  const port = parsed.port ? Number(parsed.port) : 5432;
  const user = parsed.user ?? process.env.USER ?? 'postgres';
  const password = parsed.password ?? '';
  const info = await readServerVersion(url).catch((error: unknown) => {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`TEST_DATABASE_URL ${redactUrl(url)} does not answer: ${why}`, { cause: error });
  });
  if (!info.isSuperuser) {
    throw new Error(
      `TEST_DATABASE_URL ${redactUrl(url)} logs in as "${user}", who is not a superuser; ` +
        'the tests create, clone and force-drop databases: give a superuser URL.',
    );
  }
  return {
    source: 'url',
    adminUrl: url,
    host,
    port,
    user,
    password,
    majorVersion: info.majorVersion,
    version: info.version,
    stop: async () => undefined,
  };
}
