// Checks Kubernetes objects against the API's OpenAPI schemas (kubernetes-models), and also
// for fields the schema does not have. The schemas' validators accept unknown fields, and an
// API server that is not asked for strict field validation (Helm does not ask) drops them with
// a warning: a misspelt `backofLimit` would leave the Job its default of 6 retries. A field is
// known when the schema's validator reads it: the validator is run on proxies that record the
// keys it reads, and every other key is reported.
import { Job } from 'kubernetes-models/batch/v1';
import { PersistentVolumeClaim, Pod, ServiceAccount } from 'kubernetes-models/v1';

interface ModelClass {
  new (data: object): { validate(): void };
  prototype: { validate(this: object): void };
}

const MODELS: Record<string, ModelClass> = {
  'batch/v1 Job': Job as unknown as ModelClass,
  'v1 PersistentVolumeClaim': PersistentVolumeClaim as unknown as ModelClass,
  'v1 Pod': Pod as unknown as ModelClass,
  'v1 ServiceAccount': ServiceAccount as unknown as ModelClass,
};

/** The problems of one object: schema errors and unknown fields, each with its path; [] when valid. */
export function schemaProblems(object: Record<string, unknown>): string[] {
  const key = `${String(object.apiVersion)} ${String(object.kind)}`;
  const model = MODELS[key];
  if (!model) return [`${key}: no schema known here (add its kubernetes-models class to test/support/kubeSchema.ts)`];
  const problems: string[] = [];
  try {
    new model(object).validate();
  } catch (err) {
    problems.push(...String((err as Error).message).split(', '));
  }
  const copy = structuredClone(object);
  const read = new WeakMap<object, Set<string>>();
  const proxies = new WeakMap<object, object>();
  const wrap = (target: object): object => {
    let proxy = proxies.get(target);
    if (!proxy) {
      read.set(target, new Set());
      proxy = new Proxy(target, {
        get(t, k, r) {
          if (typeof k === 'string') read.get(t)!.add(k);
          const v = Reflect.get(t, k, r) as unknown;
          return v !== null && typeof v === 'object' ? wrap(v) : v;
        },
        has(t, k) {
          if (typeof k === 'string') read.get(t)!.add(k);
          return Reflect.has(t, k);
        },
      });
      proxies.set(target, proxy);
    }
    return proxy;
  };
  try {
    model.prototype.validate.call(wrap(copy));
  } catch {
    // reported above
  }
  const walk = (value: unknown, at: string): void => {
    if (Array.isArray(value)) for (const [i, v] of value.entries()) walk(v, `${at}[${i}]`);
    else if (value !== null && typeof value === 'object') {
      const seen = read.get(value);
      for (const [k, v] of Object.entries(value)) {
        if (seen && !seen.has(k)) problems.push(`${at}/${k}: unknown field (the API server drops it)`);
        else walk(v, `${at}/${k}`);
      }
    }
  };
  walk(copy, 'data');
  return problems;
}
