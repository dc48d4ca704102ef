// A throwaway server in a container, through testcontainers (only when a Docker engine answers).
import { buildUrl, newPassword, readServerVersion, type ServerHandle } from './common.ts';

const SUPERUSER = 'postgres';

export interface DockerServerOptions {
  image: string;
}

export async function startDockerServer({ image }: DockerServerOptions): Promise<ServerHandle> {
  // Loaded on demand: testcontainers is slow to import and useless without an engine.
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const password = newPassword();
  // The password reaches the container as POSTGRES_PASSWORD in its environment, not in argv.
  const container = await new PostgreSqlContainer(image)
    .withUsername(SUPERUSER)
    .withPassword(password)
    .withDatabase('postgres')
    // The module's default check runs `PGPASSWORD=... pg_isready` in a shell, exposing the password
    // in argv; pg_isready never authenticates, so it needs none. TCP, because the entrypoint's
    // first, temporary server listens on the socket only.
    .withHealthCheck({
      test: ['CMD-SHELL', `pg_isready --host 127.0.0.1 --username ${SUPERUSER} --dbname postgres`],
      interval: 250,
      timeout: 1_000,
      retries: 1_000,
    })
    .withCommand([
      'postgres',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
    ])
    .start();
  try {
    const host = container.getHost();
    const port = container.getPort();
    const adminUrl = buildUrl({ user: SUPERUSER, password, host, port, database: 'postgres' });
    const { majorVersion, version } = await readServerVersion(adminUrl);
    const stop = async (): Promise<void> => {
      await container.stop();
    };
    return { source: 'docker', adminUrl, host, port, user: SUPERUSER, password, majorVersion, version, stop };
  } catch (error) {
    await container.stop().catch(() => undefined);
    throw error;
  }
}
