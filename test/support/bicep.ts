/**
 * Reads the project's Bicep with the real tree-sitter-bicep grammar (through web-tree-sitter's wasm
 * runtime) and answers the questions the infra tests ask: syntax errors, declarations and their
 * descriptions, and the literal values of properties and variables.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import Parser from 'web-tree-sitter';

export type Node = Parser.SyntaxNode;

/** The repository root and its infra folder. */
export const ROOT = join(__dirname, '..', '..');
export const INFRA = join(ROOT, 'infra');

/** One parsed Bicep file. */
export interface BicepFile {
  /** Path relative to the repository root, e.g. `infra/modules/registry.bicep`. */
  path: string;
  text: string;
  root: Node;
}

let parser: Promise<Parser> | undefined;

function bicepParser(): Promise<Parser> {
  parser ??= (async () => {
    await Parser.init();
    const language = await Parser.Language.load(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'));
    const p = new Parser();
    p.setLanguage(language);
    return p;
  })();
  return parser;
}

/** Every `.bicep` file under `dir` (recursively), sorted by path. */
export function bicepPaths(dir = INFRA): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.bicep'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Parses every Bicep file under infra/. */
export async function parseInfra(): Promise<Map<string, BicepFile>> {
  const p = await bicepParser();
  const files = new Map<string, BicepFile>();
  for (const abs of bicepPaths()) {
    const text = readFileSync(abs, 'utf8');
    const path = relative(ROOT, abs);
    files.set(path, { path, text, root: p.parse(text).rootNode });
  }
  return files;
}

/** `ERROR` and missing nodes, as `line:column type` (1-based lines). */
export function syntaxProblems(root: Node): string[] {
  const out: string[] = [];
  const walk = (n: Node): void => {
    if (n.type === 'ERROR' || n.isMissing)
      out.push(
        `${n.startPosition.row + 1}:${n.startPosition.column + 1} ${n.isMissing ? `missing ${n.type}` : 'syntax error'}`,
      );
    n.children.forEach(walk);
  };
  walk(root);
  return out;
}

/** The value of a plain string literal (no interpolation; escapes decoded), else undefined. */
export function stringLiteral(n: Node | undefined | null): string | undefined {
  if (
    !n ||
    n.type !== 'string' ||
    n.namedChildren.some((c) => c.type !== 'string_content' && c.type !== 'escape_sequence')
  )
    return undefined;
  return n.namedChildren.map((c) => (c.type === 'escape_sequence' ? (ESCAPES[c.text] ?? c.text) : c.text)).join('');
}

const ESCAPES: Record<string, string> = { "\\'": "'", '\\\\': '\\', '\\n': '\n', '\\r': '\r', '\\t': '\t', '\\$': '$' };

/** Parses one Bicep text (for tests of the checks themselves). */
export async function parseBicep(text: string): Promise<Node> {
  return (await bicepParser()).parse(text).rootNode;
}

/** The properties of an object node, by key. */
export function properties(obj: Node): Map<string, Node> {
  const out = new Map<string, Node>();
  for (const p of obj.namedChildren) {
    if (p.type !== 'object_property') continue;
    const [key, value] = p.namedChildren;
    if (key && value) out.set(stringLiteral(key) ?? key.text, value);
  }
  return out;
}

/** Every object node below `n` that has all the given keys. */
export function objectsWith(n: Node, ...keys: string[]): Node[] {
  return n.descendantsOfType('object').filter((o) => {
    const props = properties(o);
    return keys.every((k) => props.has(k));
  });
}

/** A top-level declaration: `param`, `var`, `output`, `resource` or `module`, with its decorators. */
export interface Declaration {
  kind: string;
  name: string;
  node: Node;
  /** The `@description('…')` text, when there is one. */
  description?: string;
  /** True when a `param` has a default value. */
  hasDefault: boolean;
}

const DECLARATION_KINDS: Record<string, string> = {
  parameter_declaration: 'param',
  variable_declaration: 'var',
  output_declaration: 'output',
  resource_declaration: 'resource',
  module_declaration: 'module',
};

/** The file's top-level declarations in order. Decorators precede their declaration as a sibling node. */
export function declarations(file: BicepFile): Declaration[] {
  const out: Declaration[] = [];
  let decorators: Node | undefined;
  for (const n of file.root.namedChildren) {
    if (n.type === 'decorators') {
      decorators = n;
      continue;
    }
    const kind = DECLARATION_KINDS[n.type];
    if (kind) {
      const description = decorators
        ?.descendantsOfType('call_expression')
        .filter((c) => c.childForFieldName('function')?.text === 'description')
        .map((c) => stringLiteral(c.childForFieldName('arguments')?.namedChildren[0]))[0];
      // param NAME TYPE [= default]: a default is any named child after the type.
      const named = n.namedChildren;
      const hasDefault = kind === 'param' && named.findIndex((c) => c.type === 'type') < named.length - 1;
      out.push({ kind, name: named[0]?.text ?? '', node: n, description, hasDefault });
    }
    decorators = undefined;
  }
  return out;
}

/** The body of the named top-level declaration: a `var`'s value, or a resource's or module's object (also when conditional). */
export function declarationBody(file: BicepFile, kind: string, name: string): Node {
  const d = declarations(file).find((x) => x.kind === kind && x.name === name);
  if (!d) throw new Error(`${file.path}: no ${kind} ${name}`);
  let body = d.node.namedChildren[d.node.namedChildren.length - 1];
  // `= if (condition) { … }` and `= [for … : { … }]`: the object inside.
  if (body?.type === 'if_statement' || body?.type === 'for_statement')
    body = body.namedChildren[body.namedChildren.length - 1];
  if (!body) throw new Error(`${file.path}: ${kind} ${name} has no body`);
  return body;
}

/** A `var NAME = { key: 'literal', … }` as a map of key to string literal. */
export function literalMap(file: BicepFile, name: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of properties(declarationBody(file, 'var', name))) {
    const s = stringLiteral(v);
    if (s !== undefined) out.set(k, s);
  }
  return out;
}

/** The node at a dotted property path below an object, e.g. `properties.configuration.ingress`. */
export function at(obj: Node, path: string): Node | undefined {
  let cur: Node | undefined = obj;
  for (const key of path.split('.')) {
    if (!cur || cur.type !== 'object') return undefined;
    cur = properties(cur).get(key);
  }
  return cur;
}

/** The object of the named `resource` declaration (inside `if`/`for` when conditional or looped). */
export function resourceBody(file: BicepFile, name: string): Node {
  return declarationBody(file, 'resource', name);
}

/**
 * The JSON value of a Bicep expression node, for the literal parts of a resource body: objects, arrays, strings
 * (interpolations resolved from `env`), numbers, booleans, `null`, and identifiers found in `env`. Anything else
 * (a function call, a property access, an unknown identifier) becomes `{ $bicep: '<source text>' }`, so a test
 * sees what it could not evaluate instead of a guess.
 */
export function bicepValue(n: Node, env: Record<string, unknown> = {}): unknown {
  switch (n.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of properties(n)) out[k] = bicepValue(v, env);
      return out;
    }
    case 'array':
      return n.namedChildren.filter((c) => c.type !== 'comment').map((c) => bicepValue(c, env));
    case 'string': {
      let out = '';
      for (const c of n.namedChildren) {
        if (c.type === 'string_content') out += c.text;
        else if (c.type === 'escape_sequence') out += ESCAPES[c.text] ?? c.text;
        else if (c.type === 'interpolation') {
          const name = c.namedChildren[0]?.text ?? '';
          if (!(name in env)) return { $bicep: n.text };
          out += String(env[name]);
        } else return { $bicep: n.text };
      }
      return out;
    }
    case 'number':
      return Number(n.text);
    case 'boolean':
      return n.text === 'true';
    case 'null':
      return null;
    case 'identifier':
      return n.text in env ? env[n.text] : { $bicep: n.text };
    default:
      return { $bicep: n.text };
  }
}
