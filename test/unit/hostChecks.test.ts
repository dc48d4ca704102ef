import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { hostChecks, portIsFree, publishedPorts } from '../../lib/install/hostChecks.ts';

describe('install host checks', () => {
  it('reads published ports from compose config in both long and short syntax', () => {
    const json = JSON.stringify({
      services: {
        api: { ports: [{ target: 3000, published: '8080', protocol: 'tcp' }] },
        web: { ports: ['127.0.0.1:8443:443', '9000:80'] },
        db: {},
      },
    });
    expect(publishedPorts(json)).toEqual([
      { service: 'api', port: 8080 },
      { service: 'web', port: 8443 },
      { service: 'web', port: 9000 },
    ]);
  });

  it('tells a taken port from a free one', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
    const port = (server.address() as { port: number }).port;
    try {
      expect(await portIsFree(port)).toBe(false);
    } finally {
      server.close();
    }
    expect(await portIsFree(port)).toBe(true);
  });

  it('refuses without Docker Compose, naming what to install', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(await hostChecks('/srv/pulse/docker-compose.yml', 8 * 1024 ** 3)).toEqual([
        expect.objectContaining({
          severity: 'error',
          code: 'install.compose',
          hint: 'install Docker Engine with the Compose plugin, or run with --no-containers',
        }),
      ]);
    } finally {
      process.env.PATH = path;
    }
  });
});
