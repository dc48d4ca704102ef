import { afterEach, describe, expect, it } from 'vitest';
import { clearSecrets, redact, registerSentCredentials, registerUrlCredentials } from '../../lib/redact.ts';

afterEach(() => clearSecrets());

describe('credentials in URL-ish settings and in what upkit sends', () => {
  it('takes the password of a URL with or without a scheme, an @ inside it too', () => {
    registerUrlCredentials('admin:S3cret-Hc-77@app.internal:8080/health');
    registerUrlCredentials('//ops:p@ss-w0rd!@host/x');
    registerUrlCredentials('https://u:Sp%40ce-123@host/');
    expect(redact('"admin:S3cret-Hc-77@app.internal:8080/health" ops:p@ss-w0rd! Sp@ce-123 Sp%40ce-123')).toBe(
      '"admin:***@app.internal:8080/health" ops:*** *** ***',
    );
  });

  it('takes a lone user name as a token only for an HTTP endpoint', () => {
    registerUrlCredentials('postgres://pulse_admin@db/pulse');
    expect(redact('pulse_admin')).toBe('pulse_admin');
    registerUrlCredentials('http://tok_9f8e7d6c5b4a@127.0.0.1/health', { userIsToken: true });
    expect(redact('token tok_9f8e7d6c5b4a')).toBe('token ***');
  });

  it('masks a Basic header in its padded, unpadded and base64url forms', () => {
    const basic = Buffer.from('ops:Echo-Pass-913?>').toString('base64');
    registerSentCredentials({ user: 'ops', password: 'Echo-Pass-913?>', basic });
    const url = basic.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    expect(redact(`${basic} ${basic.replace(/=+$/, '')} ${url}`)).toBe('*** *** ***');
  });
});
