// The Kubernetes recipe (deploy/kubernetes/), checked without a cluster: the plain Job manifest
// and the Helm chart, rendered by test/support/helmTemplate.ts (no helm binary here), are
// validated against the API's schemas (kubernetes-models) and held to upkit's contract: a hook
// that runs the upgrade with --yes --json, once, reading the connection from a Secret, with its
// backups on a claim, as a non-root user on a read-only root filesystem.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { readManifest, renderChart, renderTemplate, YAML_OPTIONS } from '../support/helmTemplate.ts';
import { schemaProblems } from '../support/kubeSchema.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEPLOY = path.join(ROOT, 'deploy/kubernetes');
const CHART = path.join(DEPLOY, 'helm/upkit');

// biome-ignore lint/suspicious/noExplicitAny: manifests parsed from YAML, read by path in the assertions
type Obj = Record<string, any>;

const byKind = (objects: Obj[], kind: string): Obj[] => objects.filter((o) => o.kind === kind);
const one = (objects: Obj[], kind: string): Obj => {
  const found = byKind(objects, kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

/** Settings whose value is a credential, or may carry one: never a literal in a manifest. */
const SECRET_VARIABLES = ['DATABASE_URL', 'DIRECT_URL', 'DB_PASSWORD', 'PGPASSWORD'];
const CREDENTIAL = /postgres(?:ql)?:\/\/|password\s*[=:]/i;

function under(dir: string, mount: string): boolean {
  return dir === mount || dir.startsWith(`${mount.replace(/\/$/, '')}/`);
}

/** The mount a path is written through: the deepest mountPath that contains it. */
function mountOf(container: Obj, dir: string): Obj | undefined {
  return (container.volumeMounts as Obj[])
    .filter((m) => under(dir, m.mountPath))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

interface Expected {
  secretName: string;
  /** The Secret's key read as DATABASE_URL; undefined: every key, through envFrom. */
  urlKey?: string;
  claimName: string;
}

/**
 * What every pod running upkit holds to: the Secret only, backups and logs on the claim, nothing else written, no
 * privilege.
 */
function expectUpkitPod(pod: Obj, expected: Expected): Obj {
  expect(pod.restartPolicy).toBe('Never');
  expect(pod.containers).toHaveLength(1);
  const c = pod.containers[0];
  expect(c.workingDir, 'tsx is resolved from the working directory').toBe('/app');
  for (const a of [...c.command, ...(c.args ?? [])]) expect(a).not.toMatch(CREDENTIAL);

  // Connection settings come from the Secret only.
  const env: Obj[] = c.env ?? [];
  for (const e of env) {
    if (SECRET_VARIABLES.includes(e.name)) expect(e.value, `${e.name} is never a literal`).toBeUndefined();
    if (typeof e.value === 'string') expect(e.value).not.toMatch(CREDENTIAL);
  }
  if (expected.urlKey) {
    expect(c.envFrom).toBeUndefined();
    expect(env.find((e) => e.name === 'DATABASE_URL')?.valueFrom).toEqual({
      secretKeyRef: { name: expected.secretName, key: expected.urlKey },
    });
  } else {
    expect(c.envFrom).toEqual([{ secretRef: { name: expected.secretName } }]);
  }
  const value = (name: string): string => {
    const found = env.filter((e) => e.name === name);
    expect(found, name).toHaveLength(1);
    expect(typeof found[0]!.value, `${name} is set here, not by the Secret`).toBe('string');
    return found[0]!.value;
  };

  // Backups and logs go to the claim; everything upkit writes goes to a writable volume.
  const volumes = new Map<string, Obj>((pod.volumes as Obj[]).map((v) => [v.name, v]));
  for (const m of c.volumeMounts as Obj[]) expect(volumes.has(m.name), `volume ${m.name} is defined`).toBe(true);
  const onClaim = (dir: string): void => {
    const mount = mountOf(c, dir);
    expect(mount, `${dir} is on a volume`).toBeDefined();
    expect(volumes.get(mount!.name)!.persistentVolumeClaim, `${dir} is on the claim`).toEqual({
      claimName: expected.claimName,
    });
    expect(mount!.readOnly ?? false).toBe(false);
  };
  onClaim(value('BACKUP_DIR'));
  onClaim(value('UPKIT_LOG_DIR'));
  for (const dir of [value('UPKIT_CACHE_DIR'), value('TMPDIR')]) {
    const mount = mountOf(c, dir);
    expect(mount, `${dir} is on a writable volume`).toBeDefined();
    expect(mount!.readOnly ?? false).toBe(false);
  }
  expect(volumes.get(mountOf(c, value('TMPDIR'))!.name)!.emptyDir).toBeDefined();

  // Non-root, read-only root filesystem, nothing to escalate to, no API token.
  expect(pod.securityContext.runAsNonRoot).toBe(true);
  expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
  expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
  expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
  expect(c.securityContext.capabilities.drop).toContain('ALL');
  expect(pod.automountServiceAccountToken).toBe(false);

  expect(c.resources.requests.memory).toBeDefined();
  expect(c.resources.limits.memory).toBeDefined();
  return c;
}

/** upkit's contract for the upgrade Job, in every form it is shipped in. */
function expectUpgradeJob(objects: Obj[], expected: Expected): Obj {
  for (const o of objects) expect(schemaProblems(o), `${o.kind} ${o.metadata?.name}`).toEqual([]);
  expect(byKind(objects, 'Secret'), 'no Secret (and so no password) is shipped').toEqual([]);

  const job = one(objects, 'Job');
  expect(job.spec.backoffLimit, 'a failed upgrade is not retried').toBe(0);
  expect(Number.isInteger(job.spec.activeDeadlineSeconds) && job.spec.activeDeadlineSeconds > 0).toBe(true);
  const pod = job.spec.template.spec;
  const c = expectUpkitPod(pod, expected);
  expect(c.command.slice(-1)).toEqual(['upgrade.ts']);
  expect(c.args.slice(0, 3)).toEqual(['--yes', '--json', '--no-containers']);
  const sa = one(objects, 'ServiceAccount');
  expect(sa.automountServiceAccountToken).toBe(false);
  expect(pod.serviceAccountName).toBe(sa.metadata.name);
  return job;
}

const annotations = (o: Obj): Record<string, string> => o.metadata.annotations ?? {};
const hooks = (o: Obj): string[] =>
  (annotations(o)['helm.sh/hook'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const weight = (o: Obj): number => {
  const w = annotations(o)['helm.sh/hook-weight'];
  expect(w, `${o.kind} has a hook weight`).toMatch(/^-?\d+$/);
  return Number(w);
};

/** The chart's hooks: the Job after what it needs, a failed Job kept, the backups never deleted. */
function expectHooks(objects: Obj[], createsClaim: boolean): void {
  const job = one(objects, 'Job');
  expect(hooks(job).sort()).toEqual(['pre-install', 'pre-upgrade']);
  const policy = (annotations(job)['helm.sh/hook-delete-policy'] ?? '').split(',');
  expect(policy).toContain('before-hook-creation');
  expect(policy, 'a failed Job stays for inspection').not.toContain('hook-failed');

  // At install the release's objects do not exist yet when the hook runs:
  // what the Job uses is a hook too, weighed before it.
  const sa = one(objects, 'ServiceAccount');
  expect(hooks(sa).sort()).toEqual(['pre-install', 'pre-upgrade']);
  expect(weight(sa)).toBeLessThan(weight(job));

  const claims = byKind(objects, 'PersistentVolumeClaim');
  expect(claims).toHaveLength(createsClaim ? 1 : 0);
  for (const pvc of claims) {
    // Created once; a hook on pre-upgrade too would meet the existing
    // claim, and a delete policy would take the backups.
    expect(hooks(pvc)).toEqual(['pre-install']);
    expect(weight(pvc)).toBeLessThan(weight(job));
    expect(annotations(pvc)['helm.sh/hook-delete-policy']).toBeUndefined();
    expect(annotations(pvc)['helm.sh/resource-policy']).toBe('keep');
  }
}

describe("Kubernetes manifests (no cluster: API schemas, and the chart rendered by upkit's renderer)", () => {
  test(
    'job.yaml with claim.yaml: a valid Job that runs the ' + 'upgrade once, from a Secret, backing up to the claim',
    () => {
      const claim = readManifest(path.join(DEPLOY, 'claim.yaml'));
      expect(
        claim.map((o) => o.kind),
        "the claim is alone in its file: deleting the Job's objects never takes the backups",
      ).toEqual(['PersistentVolumeClaim']);
      const job = readManifest(path.join(DEPLOY, 'job.yaml'));
      expect(byKind(job, 'PersistentVolumeClaim')).toEqual([]);
      expectUpgradeJob([...claim, ...job], {
        secretName: 'upkit-database',
        claimName: one(claim, 'PersistentVolumeClaim').metadata.name,
      });
    },
  );

  test('restore-pod.yaml: the same claim, Secret and posture, for a restore run by hand', () => {
    const jobObjects = readManifest(path.join(DEPLOY, 'job.yaml'));
    const objects = readManifest(path.join(DEPLOY, 'restore-pod.yaml'));
    for (const o of objects) expect(schemaProblems(o)).toEqual([]);
    const pod = one(objects, 'Pod');
    const claim = one(readManifest(path.join(DEPLOY, 'claim.yaml')), 'PersistentVolumeClaim');
    expectUpkitPod(pod.spec, { secretName: 'upkit-database', claimName: claim.metadata.name });
    expect(pod.spec.serviceAccountName).toBe(one(jobObjects, 'ServiceAccount').metadata.name);
    expect(pod.spec.activeDeadlineSeconds).toBeGreaterThan(0);
  });

  test('the chart with its default values: hooks before install and upgrade, the claim created once', () => {
    const objects = renderChart(CHART, {}, { name: 'pulse', namespace: 'pulse' }).map((r) => r.object);
    expect(objects.map((o) => o.kind).sort()).toEqual(['Job', 'PersistentVolumeClaim', 'ServiceAccount']);
    const pvc = one(objects, 'PersistentVolumeClaim');
    expect(pvc.metadata.name).toBe('pulse-upkit-backups');
    expect(pvc.spec.storageClassName).toBeUndefined();
    const job = expectUpgradeJob(objects, { secretName: 'upkit-database', claimName: 'pulse-upkit-backups' });
    expect(job.spec.template.spec.containers[0].image).toBe('registry.example.com/upkit:0.1.0');
    expectHooks(objects, true);
  });

  test("the chart with an existing claim, one key of a database operator's Secret, and more settings", () => {
    const values = {
      image: { repository: 'registry.internal/upkit', tag: '' },
      database: { secretName: 'pulse-db-app', urlKey: 'uri' },
      persistence: { existingClaim: 'pulse-backups' },
      upgrade: { extraArgs: ['--allow-destructive=0007_drop_old_column'], activeDeadlineSeconds: 7200 },
      extraEnv: [
        { name: 'BACKUP_KEEP', value: '3' },
        { name: 'LOCK_TIMEOUT', value: '500' },
      ],
      podAnnotations: { 'sidecar.istio.io/inject': 'false' },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }],
    };
    const objects = renderChart(CHART, values, { name: 'pulse', isInstall: false }).map((r) => r.object);
    const job = expectUpgradeJob(objects, { secretName: 'pulse-db-app', urlKey: 'uri', claimName: 'pulse-backups' });
    expectHooks(objects, false);
    const pod = job.spec.template.spec;
    const c = pod.containers[0];
    expect(c.image, 'an empty tag falls back to the appVersion').toBe('registry.internal/upkit:0.1.0');
    expect(c.args).toEqual(['--yes', '--json', '--no-containers', '--allow-destructive=0007_drop_old_column']);
    expect(job.spec.activeDeadlineSeconds).toBe(7200);
    expect(c.env.slice(-2)).toEqual(values.extraEnv);
    expect(job.spec.template.metadata.annotations).toEqual({ 'sidecar.istio.io/inject': 'false' });
    expect(pod.nodeSelector).toEqual(values.nodeSelector);
    expect(pod.tolerations).toEqual(values.tolerations);
  });

  test('the chart with DB_* keys in a Secret of another name and a storage class', () => {
    const objects = renderChart(CHART, {
      database: { secretName: 'pulse-db-parts' },
      persistence: { storageClassName: 'fast-ssd', size: '50Gi' },
    }).map((r) => r.object);
    expectUpgradeJob(objects, { secretName: 'pulse-db-parts', claimName: 'pulse-upkit-backups' });
    expectHooks(objects, true);
    const pvc = one(objects, 'PersistentVolumeClaim');
    expect(pvc.spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'fast-ssd',
      resources: { requests: { storage: '50Gi' } },
    });
  });

  test('the chart refuses to render without a Secret to read', () => {
    expect(() => renderChart(CHART, { database: { secretName: '' } })).toThrow(
      /^database\.secretName: name the Secret/,
    );
  });

  test('values.yaml holds no credential', () => {
    const values = parse(readFileSync(path.join(CHART, 'values.yaml'), 'utf8'), YAML_OPTIONS) as unknown;
    const walk = (v: unknown, at: string): void => {
      if (typeof v === 'string') expect(v, at).not.toMatch(CREDENTIAL);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          expect(k, `${at}.${k}`).not.toMatch(/passw|pgpass|^(database_?url|direct_?url)$/i);
          walk(x, `${at}.${k}`);
        }
      }
    };
    walk(values, 'values');
  });

  test('Chart.yaml is a Helm 3 application chart', () => {
    const chart = parse(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8'), YAML_OPTIONS) as Obj;
    expect(chart.apiVersion).toBe('v2');
    expect(chart.name).toBe('upkit');
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(chart.type).toBe('application');
  });

  test('the Dockerfile is the image the Job expects', () => {
    const dockerfile = readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
    const [job] = byKind(readManifest(path.join(DEPLOY, 'job.yaml')), 'Job');
    const pod = job!.spec.template.spec;
    expect(dockerfile).toMatch(new RegExp(`^WORKDIR ${pod.containers[0].workingDir}$`, 'm'));
    expect(dockerfile).toMatch(
      new RegExp(`^USER ${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}$`, 'm'),
    );
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev\b/m);
    expect(dockerfile).toMatch(/postgresql-client/);
    const ignored = readFileSync(path.join(DEPLOY, 'Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['.env', '.env.*', 'node_modules', 'logs', 'backups']));
    for (const needed of [
      'lib',
      'verify',
      'profiles',
      'scripts',
      'drizzle',
      'legacy-sql',
      'upgrade.ts',
      'package.json',
    ])
      expect(ignored).not.toContain(needed);
  });
});

describe('the schema check itself', () => {
  const job = (): Obj => structuredClone(readManifest(path.join(DEPLOY, 'job.yaml')).find((o) => o.kind === 'Job')!);

  test('reports a misspelt field, which the API server would drop', () => {
    const o = job();
    o.spec.backofLimit = o.spec.backoffLimit;
    delete o.spec.backoffLimit;
    o.spec.template.spec.containers[0].envFom = [];
    expect(schemaProblems(o).sort()).toEqual([
      'data/spec/backofLimit: unknown field (the API server drops it)',
      'data/spec/template/spec/containers[0]/envFom: unknown field (the API server drops it)',
    ]);
  });

  test('reports a wrong type and a missing required field', () => {
    const o = job();
    o.spec.backoffLimit = '0';
    delete o.spec.template.spec.containers[0].name;
    expect(schemaProblems(o).sort()).toEqual([
      'data/spec/backoffLimit must be integer',
      'data/spec/template/spec/containers/0 must have required property name',
    ]);
  });

  test('keys of a map (labels, annotations) are not fields', () => {
    const o = job();
    o.metadata.labels['example.com/anything'] = 'x';
    expect(schemaProblems(o)).toEqual([]);
  });
});

describe('the chart renderer (Go templates as helm renders them, and nothing else)', () => {
  const root = {
    Values: { a: { b: 'x', n: 3, list: ['p', 'q'], map: { k: 'v' }, empty: '', off: false } },
    Release: { Name: 'rel' },
  };
  const render = (t: string): string => renderTemplate(t, root);

  test("fields, quote, default, not, and Go's whitespace trimming", () => {
    expect(render('name: {{ .Release.Name }}-{{ .Values.a.b }}')).toBe('name: rel-x');
    expect(render('n: {{ .Values.a.n }} q: {{ .Values.a.b | quote }} {{ .Values.a.n | quote }}')).toBe(
      'n: 3 q: "x" "3"',
    );
    expect(
      render(
        '{{ .Values.a.empty | default "d" }} {{ .Values.a.b | default "d" }} {{ .Values.a.missing | default "d" }}',
      ),
    ).toBe('d x d');
    expect(render('{{ not .Values.a.off }} {{ not .Values.a.b }}')).toBe('true false');
    expect(render('a:\n  {{- if .Values.a.b }}\n  b: 1\n  {{- end }}\nc')).toBe('a:\n  b: 1\nc');
    expect(render('x {{- /* a comment */ -}} y')).toBe('xy');
    expect(render('a {{ "s" -}}\n\n  b')).toBe('a sb');
  });

  test('if/else and with, which moves the dot', () => {
    expect(render('{{ if .Values.a.empty }}yes{{ else }}no{{ end }}')).toBe('no');
    expect(render('{{ if .Values.a.list }}yes{{ end }}{{ if .Values.a.missing }}no{{ end }}')).toBe('yes');
    expect(
      render('{{ with .Values.a.map }}{{ .k }}{{ end }}{{ with .Values.a.off }}never{{ else }}else{{ end }}'),
    ).toBe('velse');
  });

  test('toYaml | nindent, as helm writes lists and maps into a manifest', () => {
    expect(
      render('l:\n  {{- toYaml .Values.a.list | nindent 2 }}\nm:\n  {{- toYaml .Values.a.map | nindent 2 }}'),
    ).toBe('l:\n  - p\n  - q\nm:\n  k: v');
    expect(render('{{ toYaml .Values.a.map | indent 4 }}')).toBe('    k: v');
  });

  test('required stops the rendering with its message', () => {
    expect(() => render('{{ required "a.c: set it" .Values.a.c }}')).toThrow('a.c: set it');
    expect(() => render('{{ required "a.empty: set it" .Values.a.empty }}')).toThrow('a.empty: set it');
  });

  test('refuses every construct it does not know instead of rendering it differently', () => {
    for (const t of [
      '{{ range .Values.a.list }}{{ . }}{{ end }}',
      '{{ include "upkit.labels" . }}',
      '{{ $x := 1 }}',
      '{{ .Values.a.b | upper }}',
      '{{ default (printf "%s" .Values.a.b) .Values.a.c }}',
      '{{ if .Values.a.b }}x{{ else if .Values.a.n }}y{{ end }}',
      '{{ if .Values.a.b }}unclosed',
      '{{ end }}',
      '{{ .Values.a.missing }}',
      '{{ .Values.a.map }}',
      '{{ .Values.nothing.here }}',
      '{{ 1000000 }}',
      '{{ `raw` }}',
    ]) {
      expect(() => render(t), t).toThrow();
    }
  });
});
