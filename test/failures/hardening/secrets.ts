// Hardening cases, part two: see test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

const HEALTH_HINT =
  'check that the platform is started and HEALTHCHECK_URLS points at it, then run: npx zx scripts/health.ts';

export const secretsCases: FailureCase[] = [
  // Health cases: the --json report has one health.endpoint finding per endpoint (its
  // message is the line under ✖); the tests check it besides the terminal.
  {
    id: 'sec.health-url-no-scheme',
    group: 'output',
    title: 'A health check URL with credentials but no scheme',
    did: 'Wrote `HEALTHCHECK_URLS=admin:S3cret-Hc-77@app.internal:8080/health` (no `http://`).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', HEALTHCHECK_URLS: 'admin:S3cret-Hc-77@app.internal:8080/health' },
    code: 'config.invalid',
    message: 'HEALTHCHECK_URLS: "admin:***@app.internal:8080/health" is not an http(s) URL',
    hint: 'fix HEALTHCHECK_URLS in the environment, then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed: 'nothing',
    test: 'failures-secrets.test.ts',
    note:
      'Before, the whole entry, password included, was printed and logged: without `scheme://` no rule knew where ' +
      'the password stood. Credentials in HEALTHCHECK_URLS, DATABASE_URL and DIRECT_URL are now taken as secrets ' +
      'whether or not the value parses, before any of them is checked, and every configuration error is redacted.',
  },
  {
    id: 'sec.health-echo-basic',
    group: 'output',
    title: 'A health endpoint that echoes the Authorization header',
    did:
      'HEALTHCHECK_URLS holds `http://ops:Echo-Pass-913@…/health`; the endpoint answers 401 with the ' +
      '`Authorization` header it received (`Basic ` and base64 ' +
      'of `ops:Echo-Pass-913`) in its body and its reason phrase.',
    entry: 'scripts/health.ts',
    args: [],
    env: {
      DATABASE_URL: '{url}',
      HEALTHCHECK_URLS: 'http://ops:Echo-Pass-913@127.0.0.1:{port}/health',
      HEALTH_TIMEOUT: '1500',
    },
    code: 'health.endpoint',
    json: false,
    message: 'health checks failed within 1.5 s: http://127.0.0.1:{port}/health not healthy',
    details: [
      'http://127.0.0.1:{port}/health: started, not healthy: last answer 401 Bad Basic *** "denied: ' +
        'Basic *** unpadded=*** url=*** user:pw=ops:***" ({attempts} attempts)',
    ],
    hint: HEALTH_HINT,
    exit: 6,
    changed: 'nothing',
    test: 'failures-secrets.test.ts',
    note:
      'What upkit sends is registered as a secret when the request is made, in every encoding it is sent in ' +
      '(the password raw and percent-encoded, base64 of `user:password`, unpadded and base64url too); ' +
      "the endpoint's body and reason phrase are shown with it masked, on the terminal, in --json and in the log.",
  },
  {
    id: 'sec.health-echo-token-user',
    group: 'output',
    title: 'A token used as the user name, echoed by the endpoint',
    did:
      'HEALTHCHECK_URLS holds `http://tok_9f8e7d6c5b4a@…/health` (a token as the user name, ' +
      'no password); the endpoint answers 403 naming the token and the header.',
    entry: 'scripts/health.ts',
    args: [],
    env: {
      DATABASE_URL: '{url}',
      HEALTHCHECK_URLS: 'http://tok_9f8e7d6c5b4a@127.0.0.1:{port}/health',
      HEALTH_TIMEOUT: '1500',
    },
    code: 'health.endpoint',
    json: false,
    message: 'health checks failed within 1.5 s: http://127.0.0.1:{port}/health not healthy',
    details: [
      'http://127.0.0.1:{port}/health: started, not healthy: last answer 403 ' +
        'Forbidden "token *** is not allowed (Basic ***)" ({attempts} attempts)',
    ],
    hint: HEALTH_HINT,
    exit: 6,
    changed: 'nothing',
    test: 'failures-secrets.test.ts',
  },
  {
    id: 'sec.health-redirect-loop',
    group: 'output',
    title: 'A health endpoint that redirects in a loop',
    did: 'The endpoint `/a` redirects to `/b`, which redirects back to `/a`.',
    entry: 'scripts/health.ts',
    args: [],
    env: { DATABASE_URL: '{url}', HEALTHCHECK_URLS: 'http://127.0.0.1:{port}/a', HEALTH_TIMEOUT: '1500' },
    code: 'health.endpoint',
    json: false,
    message: 'health checks failed within 1.5 s: http://127.0.0.1:{port}/a not healthy (redirect loop)',
    details: [
      'http://127.0.0.1:{port}/a: started, not healthy: last answer 302 Found: redirect loop: ' +
        'http://127.0.0.1:{port}/a → http://127.0.0.1:{port}/b → http://127.0.0.1:{port}/a ({attempts} attempts)',
    ],
    hint: HEALTH_HINT,
    exit: 6,
    changed: 'nothing',
    test: 'failures-secrets.test.ts',
    note:
      'The line under it shows the chain: `http://127.0.0.1:PORT/a: started, not healthy: ' +
      'last answer 302 Found: redirect loop: …/a → …/b → …/a`. Before, fetch gave up with ' +
      '"redirect count exceeded" and the endpoint was called "not started". Redirects are ' +
      "followed by upkit (at most 20), credentials sent to the endpoint's own origin only.",
  },
  {
    id: 'sec.health-request-timeout',
    group: 'output',
    title: 'A health endpoint that never answers',
    did: 'The endpoint accepts the connection and never sends a response; HEALTH_TIMEOUT=6000.',
    entry: 'scripts/health.ts',
    args: [],
    env: { DATABASE_URL: '{url}', HEALTHCHECK_URLS: 'http://127.0.0.1:{port}/health', HEALTH_TIMEOUT: '6000' },
    code: 'health.endpoint',
    json: false,
    message: 'health checks failed within 6.0 s: http://127.0.0.1:{port}/health not started',
    details: ['http://127.0.0.1:{port}/health: not started: no answer within 5000 ms (2 attempts)'],
    hint: HEALTH_HINT,
    exit: 6,
    changed: 'nothing',
    test: 'failures-secrets.test.ts',
    note:
      'Every request waits 5 s for its answer (HEALTH_TIMEOUT when that is shorter), ' +
      'the last one too; before, the last attempt was cut to the time left (5 s, ' +
      'then 0.75 s). The run may therefore end up to 5 s after HEALTH_TIMEOUT.',
  },
  {
    id: 'sec.health-body-controls',
    group: 'output',
    title: 'A health endpoint whose body holds terminal control sequences',
    did:
      'The endpoint answers 503 with `down`, then ESC [2K ESC [1G (erase the line, ' +
      'back to its start), `✔ health checks passed` and a right-to-left override.',
    entry: 'scripts/health.ts',
    args: [],
    env: { DATABASE_URL: '{url}', HEALTHCHECK_URLS: 'http://127.0.0.1:{port}/health', HEALTH_TIMEOUT: '1500' },
    code: 'health.endpoint',
    json: false,
    message: 'health checks failed within 1.5 s: http://127.0.0.1:{port}/health not healthy',
    details: [
      'http://127.0.0.1:{port}/health: started, not healthy: last answer 503 Service ' +
        'Unavailable "down\\u001b[2K\\u001b[1G✔ health checks passed\\u202e" ({attempts} attempts)',
    ],
    hint: HEALTH_HINT,
    exit: 6,
    changed: 'nothing',
    test: 'failures-secrets.test.ts',
    note:
      'Before, the sequences reached the terminal raw and the line read "✔ health checks passed". ' +
      "What upkit did not write (an endpoint's body and reason phrase, table, " +
      'column and role names, every error line) is printed with control and invisible characters shown ' +
      'as \\uXXXX on the terminal and in the log, and Markdown-escaped in `verify --markdown`.',
  },
];
