// Renders deploy/kubernetes/helm/upkit as `helm template` would, for the tests: no helm binary
// exists where upkit's tests run. It knows exactly the Go-template constructs the chart uses
// ({{ .Values.x }}, {{ .Release.Name }}, {{ .Chart.Version }}, {{- if }}/{{- else }}/{{- end }},
// {{- with }}, {{/* */}}, and the functions quote, default, required, not, toYaml, nindent,
// indent) with Go's whitespace trimming, and throws on anything else, so that a construct it
// would render differently from helm is never rendered at all.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Document, parse, parseAllDocuments, stringify } from 'yaml';

type Value = unknown;
type Pipeline = Command[];
type Command = Arg[];
type Arg = { kind: 'field'; path: string[] } | { kind: 'literal'; value: Value } | { kind: 'func'; name: string };
type Node =
  | { kind: 'text'; text: string }
  | { kind: 'print'; pipe: Pipeline }
  | { kind: 'if' | 'with'; pipe: Pipeline; then: Node[]; else: Node[] };

export interface Release {
  name: string;
  namespace?: string;
  /** An install (pre-install hooks) or an upgrade. */
  isInstall?: boolean;
}

export interface RenderedObject {
  /** templates/FILE the object came from. */
  source: string;
  object: Record<string, unknown>;
}

/** Kubernetes and helm read YAML as go-yaml does: YAML 1.1 (`on`, `yes` are booleans). */
export const YAML_OPTIONS = { version: '1.1', uniqueKeys: true, prettyErrors: true } as const;

class TemplateError extends Error {}

// ---- lexing and parsing -------------------------------------------------------------------

interface Token {
  text?: string;
  action?: string;
  where: string;
}

function lex(source: string, file: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let trimNext = false;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    let text = source.slice(i, open === -1 ? source.length : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open === -1) {
      tokens.push({ text, where: file });
      break;
    }
    const line = source.slice(0, open).split('\n').length;
    const where = `${file}:${line}`;
    const close = findClose(source, open + 2, where);
    let body = source.slice(open + 2, close);
    if (/^-\s/.test(body)) {
      text = text.replace(/\s+$/, '');
      body = body.slice(1);
    }
    trimNext = /\s-$/.test(body);
    if (trimNext) body = body.slice(0, -1);
    tokens.push({ text, where });
    tokens.push({ action: body.trim(), where });
    i = close + 2;
  }
  return tokens;
}

function findClose(source: string, from: number, where: string): number {
  let inString = false;
  for (let j = from; j < source.length - 1; j++) {
    const c = source[j];
    if (inString) {
      if (c === '\\') j++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '}' && source[j + 1] === '}') return j;
  }
  throw new TemplateError(`${where}: unclosed action`);
}

function parseNodes(
  tokens: Token[],
  pos: { i: number },
  inBlock: boolean,
): { nodes: Node[]; stop: 'else' | 'end' | 'eof' } {
  const nodes: Node[] = [];
  while (pos.i < tokens.length) {
    const t = tokens[pos.i++]!;
    if (t.text !== undefined) {
      if (t.text) nodes.push({ kind: 'text', text: t.text });
      continue;
    }
    const action = t.action!;
    if (/^\/\*[\s\S]*\*\/$/.test(action)) continue;
    if (action === 'end' || action === 'else') {
      if (!inBlock) throw new TemplateError(`${t.where}: {{ ${action} }} without an open block`);
      return { nodes, stop: action };
    }
    const block = /^(if|with)\s+([\s\S]+)$/.exec(action);
    if (block) {
      const pipe = parsePipeline(block[2]!, t.where);
      const first = parseNodes(tokens, pos, true);
      let elseNodes: Node[] = [];
      if (first.stop === 'else') {
        const second = parseNodes(tokens, pos, true);
        if (second.stop !== 'end') throw new TemplateError(`${t.where}: {{ ${block[1]} }} has no {{ end }}`);
        elseNodes = second.nodes;
      } else if (first.stop !== 'end') throw new TemplateError(`${t.where}: {{ ${block[1]} }} has no {{ end }}`);
      // biome-ignore lint/suspicious/noThenProperty: the branch of a template's if/with, never awaited
      nodes.push({ kind: block[1] as 'if' | 'with', pipe, then: first.nodes, else: elseNodes });
      continue;
    }
    nodes.push({ kind: 'print', pipe: parsePipeline(action, t.where) });
  }
  return { nodes, stop: 'eof' };
}

const FUNCTIONS = new Set(['quote', 'default', 'required', 'not', 'toYaml', 'nindent', 'indent']);

function parsePipeline(text: string, where: string): Pipeline {
  if (/^(range|define|template|block|include|else\s+if|break|continue)\b/.test(text) || /[$()`]/.test(text)) {
    throw new TemplateError(
      `${where}: {{ ${text} }} is not a construct this renderer knows; ` +
        `render with helm, or extend test/support/helmTemplate.ts`,
    );
  }
  const commands: Pipeline = [];
  for (const part of splitOutsideStrings(text, '|')) {
    const args: Command = [];
    const re = /\s*("(?:\\.|[^"\\])*"|-?\d+|\S+)/gy;
    const body = part.trim();
    while (re.lastIndex < body.length) {
      const m = re.exec(body);
      if (!m) break;
      args.push(parseArg(m[1]!, where, text));
    }
    if (args.length === 0) throw new TemplateError(`${where}: empty command in {{ ${text} }}`);
    if (args[0]!.kind !== 'func' && args.length > 1)
      throw new TemplateError(`${where}: {{ ${text} }}: a value cannot take arguments`);
    if (args.slice(1).some((a) => a.kind === 'func'))
      throw new TemplateError(
        `${where}: {{ ${text} }}: a function as an argument needs parentheses, which this renderer does not know`,
      );
    commands.push(args);
  }
  return commands;
}

function splitOutsideStrings(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  let inString = false;
  for (let j = 0; j < text.length; j++) {
    const c = text[j]!;
    if (inString && c === '\\') {
      current += c + (text[++j] ?? '');
      continue;
    }
    if (c === '"') inString = !inString;
    if (!inString && c === sep) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

function parseArg(token: string, where: string, text: string): Arg {
  if (token.startsWith('"')) return { kind: 'literal', value: JSON.parse(token) as string };
  if (/^-?\d+$/.test(token)) return { kind: 'literal', value: Number(token) };
  if (token === 'true' || token === 'false') return { kind: 'literal', value: token === 'true' };
  if (token === '.') return { kind: 'field', path: [] };
  if (/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(token)) return { kind: 'field', path: token.slice(1).split('.') };
  if (FUNCTIONS.has(token)) return { kind: 'func', name: token };
  throw new TemplateError(`${where}: {{ ${text} }}: "${token}" is not a value or function this renderer knows`);
}

// ---- evaluation ----------------------------------------------------------------------------

/** Go templates' truth: false, 0, nil, "" and empty lists and maps are false. */
function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function isMap(v: Value): v is Record<string, Value> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function lookup(dot: Value, fieldPath: string[], where: string): Value {
  let v = dot;
  for (const [n, key] of fieldPath.entries()) {
    if (!isMap(v))
      throw new TemplateError(
        `${where}: .${fieldPath.join('.')}: .${fieldPath.slice(0, n).join('.')}` +
          ` is ${v === undefined ? 'missing' : 'not a map'} (helm: nil pointer evaluating)`,
      );
    v = v[key];
  }
  return v;
}

/** Numbers as helm prints them from values (float64, %v): exact only for integers below 1e6. */
function numberText(n: number, where: string): string {
  if (!Number.isInteger(n) || Math.abs(n) >= 1e6)
    throw new TemplateError(`${where}: ${n} would print differently in helm (float64, %v); quote it in values`);
  return String(n);
}

function checkNumbers(v: Value, where: string): void {
  if (typeof v === 'number') numberText(v, where);
  else if (Array.isArray(v)) for (const x of v) checkNumbers(x, where);
  else if (isMap(v)) for (const x of Object.values(v)) checkNumbers(x, where);
}

function goQuote(s: string, where: string): string {
  if (!/^[\x20-\x7e]*$/.test(s))
    throw new TemplateError(
      `${where}: quote of a string with characters outside printable ASCII: Go's %q differs from JSON there`,
    );
  return JSON.stringify(s);
}

function toText(v: Value, where: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return numberText(v, where);
  if (typeof v === 'boolean') return String(v);
  throw new TemplateError(
    `${where}: printing ${v === undefined || v === null ? 'a missing value' : 'a map or list'} (helm would ` +
      `print ${v === undefined || v === null ? 'nothing' : 'Go syntax'}); use required, default or toYaml`,
  );
}

function call(name: string, args: Value[], where: string): Value {
  const arity: Record<string, number> = { quote: 1, default: 2, required: 2, not: 1, toYaml: 1, nindent: 2, indent: 2 };
  if (args.length !== arity[name])
    throw new TemplateError(`${where}: ${name} takes ${arity[name]} arguments here, got ${args.length}`);
  const [a, b] = args;
  switch (name) {
    case 'quote':
      return a === undefined || a === null ? '' : goQuote(toText(a, where), where);
    case 'default':
      return truthy(b) ? b : a;
    case 'required':
      if (b === undefined || b === null || b === '') throw new TemplateError(String(a));
      return b;
    case 'not':
      return !truthy(a);
    case 'toYaml': {
      checkNumbers(a, where);
      return stringify(a ?? null, { version: '1.1' }).replace(/\n$/, '');
    }
    case 'nindent':
    case 'indent': {
      if (typeof a !== 'number' || typeof b !== 'string')
        throw new TemplateError(`${where}: ${name} takes a number and a string`);
      const pad = ' '.repeat(a);
      return (name === 'nindent' ? '\n' : '') + pad + b.replace(/\n/g, `\n${pad}`);
    }
  }
  throw new TemplateError(`${where}: unknown function ${name}`);
}

function evalPipeline(pipe: Pipeline, dot: Value, where: string): Value {
  let piped: { value: Value } | undefined;
  for (const command of pipe) {
    const [head, ...rest] = command;
    const value = (a: Arg): Value => (a.kind === 'field' ? lookup(dot, a.path, where) : (a as { value: Value }).value);
    let result: Value;
    if (head!.kind === 'func') {
      const args = rest.map(value);
      if (piped) args.push(piped.value);
      result = call(head!.name, args, where);
    } else {
      if (piped) throw new TemplateError(`${where}: a value cannot take a piped argument`);
      result = value(head!);
    }
    piped = { value: result };
  }
  return piped!.value;
}

function execute(nodes: Node[], dot: Value, where: string): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'print') out += toText(evalPipeline(node.pipe, dot, where), where);
    else {
      const v = evalPipeline(node.pipe, dot, where);
      if (truthy(v)) out += execute(node.then, node.kind === 'with' ? v : dot, where);
      else out += execute(node.else, dot, where);
    }
  }
  return out;
}

/** Renders one template source against the given root (Values, Release, Chart). */
export function renderTemplate(source: string, root: Record<string, Value>, file = 'template'): string {
  const tokens = lex(source, file);
  const parsed = parseNodes(tokens, { i: 0 }, false);
  // Errors name the file; line numbers are given where parsing found them.
  return execute(parsed.nodes, root, file);
}

// ---- values and chart ----------------------------------------------------------------------

/** helm's coalescing of user values over the chart's: maps merge, null removes a key, anything else replaces. */
export function mergeValues(base: Value, over: Value): Value {
  if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
  const out: Record<string, Value> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else out[k] = mergeValues(base[k], v);
  }
  return out;
}

/** Renders every template of the chart, split into objects as helm splits its output. */
export function renderChart(
  chartDir: string,
  overrides: Record<string, Value> = {},
  release: Release = { name: 'pulse' },
): RenderedObject[] {
  const chart = parse(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8'), YAML_OPTIONS) as Record<string, string>;
  const values = mergeValues(parse(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8'), YAML_OPTIONS), overrides);
  const root = {
    Values: values,
    Release: {
      Name: release.name,
      Namespace: release.namespace ?? 'default',
      Service: 'Helm',
      IsInstall: release.isInstall ?? true,
      IsUpgrade: !(release.isInstall ?? true),
    },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion, Description: chart.description },
  };
  const objects: RenderedObject[] = [];
  const dir = path.join(chartDir, 'templates');
  for (const file of readdirSync(dir).sort()) {
    if (!/\.ya?ml$/.test(file) || file.startsWith('_')) {
      throw new TemplateError(`templates/${file}: only manifests (*.yaml) are known to this renderer`);
    }
    const text = renderTemplate(readFileSync(path.join(dir, file), 'utf8'), root, `templates/${file}`);
    for (const doc of documents(text)) {
      if (doc.errors.length > 0)
        throw new TemplateError(`templates/${file} renders invalid YAML: ${doc.errors[0]!.message}\n${text}`);
      const object = doc.toJS() as Value;
      if (object === null || object === undefined) continue;
      if (!isMap(object)) throw new TemplateError(`templates/${file} renders a document that is not an object`);
      objects.push({ source: `templates/${file}`, object });
    }
  }
  return objects;
}

function documents(text: string): Document.Parsed[] {
  return [...parseAllDocuments(text, YAML_OPTIONS)];
}

/** Every object of a plain multi-document manifest. */
export function readManifest(file: string): Array<Record<string, unknown>> {
  return documents(readFileSync(file, 'utf8')).map((doc, n) => {
    if (doc.errors.length > 0) throw new Error(`${file} document ${n + 1}: ${doc.errors[0]!.message}`);
    const object = doc.toJS() as unknown;
    if (!isMap(object)) throw new Error(`${file} document ${n + 1} is not an object`);
    return object;
  });
}
