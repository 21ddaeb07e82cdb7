/**
 * A small evaluator of the Azure Policy rule language, for the subset infra/modules/policies/*.json uses, written
 * from the documented semantics. The infra tests evaluate the deploy-time policy's rules with it, and `doctor
 * platform` probes an assigned definition with it (does it refuse an image from outside the release repository?),
 * deciding by the rule's content, not by its name. Pure; bounded (depth, steps, expression length), because a
 * definition in a snapshot was written by whoever could write policy definitions. Documented semantics (learn.microsoft.com/azure/governance/policy/concepts/definition-structure-policy-rule):
 *
 * - logical operators `allOf`, `anyOf`, `not`;
 * - conditions on `field` (an alias or `type`), `value` (a literal or a template expression) and `count` (a field
 *   count over an alias array `…[*]`, with an optional `where` evaluated per member; `current('<alias>[*].x')`
 *   reads the member being counted; a missing array counts 0);
 * - operators `equals`, `notEquals`, `like`, `notLike` (one `*` wildcard at most), `in`, `notIn`, `greater`,
 *   `greaterOrEquals`, `less`, `lessOrEquals`, `exists`; string comparisons are case-insensitive;
 * - template functions `parameters`, `current`, `first`, `last`, `split`, `length`, `startsWith`, `endsWith`
 *   (case-insensitive, as ARM documents them), `contains`, `equals` (case-sensitive on strings, as ARM's are),
 *   `toLower`, `concat`.
 *
 * Aliases resolve through {@link ALIASES}, the default paths Azure publishes for them (`Get-AzPolicyAlias`); an
 * alias not in the table throws, as Azure refuses a definition that names an unknown alias. What this does not
 * model is listed in docs/deploy-policy.md.
 */

/** A resource body as ARM receives it on PUT (type, name and properties are what the rules read). */
export interface PolicyResource {
  type: string;
  name?: string;
  properties?: Record<string, unknown>;
}

/**
 * Alias → default path (`[*]` marks an array), for the aliases the rules use. Source: the alias listings of the
 * resource providers (Microsoft.App/containerApps, Microsoft.App/jobs, Microsoft.ContainerInstance/containerGroups).
 */
export const ALIASES: Readonly<Record<string, string>> = {
  'Microsoft.App/containerApps/template.containers[*]': 'properties.template.containers[*]',
  'Microsoft.App/containerApps/template.containers[*].image': 'properties.template.containers[*].image',
  'Microsoft.App/containerApps/template.initContainers[*]': 'properties.template.initContainers[*]',
  'Microsoft.App/containerApps/template.initContainers[*].image': 'properties.template.initContainers[*].image',
  'Microsoft.App/jobs/template.containers[*]': 'properties.template.containers[*]',
  'Microsoft.App/jobs/template.containers[*].image': 'properties.template.containers[*].image',
  'Microsoft.App/jobs/template.initContainers[*]': 'properties.template.initContainers[*]',
  'Microsoft.App/jobs/template.initContainers[*].image': 'properties.template.initContainers[*].image',
  'Microsoft.ContainerInstance/containerGroups/containers[*]': 'properties.containers[*]',
  'Microsoft.ContainerInstance/containerGroups/containers[*].image': 'properties.containers[*].properties.image',
  'Microsoft.ContainerInstance/containerGroups/initContainers[*]': 'properties.initContainers[*]',
  'Microsoft.ContainerInstance/containerGroups/initContainers[*].image':
    'properties.initContainers[*].properties.image',
};

function aliasPath(alias: string): string {
  const key = Object.keys(ALIASES).find((a) => a.toLowerCase() === alias.toLowerCase());
  if (!key) throw new Error(`unknown alias ${alias}: Azure refuses a definition that uses it`);
  return ALIASES[key];
}

/** Reads a dotted path without `[*]` from an object. */
function readPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.').filter(Boolean)) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    const rec = cur as Record<string, unknown>;
    // Property names in ARM bodies are matched case-insensitively.
    const k = Object.keys(rec).find((x) => x.toLowerCase() === key.toLowerCase());
    cur = k === undefined ? undefined : rec[k];
  }
  return cur;
}

/** One member being counted: the array's path and the member. */
interface CountScope {
  arrayPath: string;
  member: unknown;
}

interface Context {
  resource: PolicyResource;
  parameters: Record<string, unknown>;
  scopes: CountScope[];
  /** Conditions, expressions and counted members evaluated so far, shared by the whole evaluation. */
  budget: { steps: number };
  depth: number;
}

/** Most conditions, expression calls and counted members one evaluation may visit. */
export const MAX_RULE_STEPS = 100_000;
/** Deepest nesting of conditions (allOf/anyOf/not/count) one rule may have. */
export const MAX_RULE_DEPTH = 64;
/** Longest template expression (characters) evaluated. */
export const MAX_EXPRESSION_CHARS = 4096;

function step(ctx: Context): void {
  if (++ctx.budget.steps > MAX_RULE_STEPS)
    throw new Error(`the rule needs more than ${MAX_RULE_STEPS} evaluation steps`);
}

/** Resolves a field (alias or `type`/`name`); inside a count, an alias under the counted array reads the member. */
function field(ctx: Context, name: string): unknown {
  if (/^type$/i.test(name)) return ctx.resource.type;
  if (/^name$/i.test(name)) return ctx.resource.name;
  const path = aliasPath(name);
  for (const s of [...ctx.scopes].reverse()) {
    if (path.toLowerCase().startsWith(s.arrayPath.toLowerCase())) {
      const rest = path.slice(s.arrayPath.length).replace(/^\./, '');
      if (rest.includes('[*]')) throw new Error(`nested arrays are not modelled: ${name}`);
      return rest === '' ? s.member : readPath(s.member, rest);
    }
  }
  if (path.includes('[*]')) throw new Error(`${name} is an array alias outside a count: not modelled`);
  return readPath(ctx.resource, path);
}

// ---- template expressions ---------------------------------------------------------------------------------

type Expr = { kind: 'lit'; value: unknown } | { kind: 'call'; name: string; args: Expr[] };

/** Parses the inside of `[ … ]`: function calls, single-quoted strings ('' escapes a quote), integers. */
function parseExpression(src: string): Expr {
  let i = 0;
  const ws = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  const parse = (): Expr => {
    ws();
    if (src[i] === "'") {
      let out = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new Error(`unterminated string in ${src}`);
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            out += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        out += src[i++];
      }
      return { kind: 'lit', value: out };
    }
    const num = /^-?\d+/.exec(src.slice(i));
    if (num) {
      i += num[0].length;
      return { kind: 'lit', value: Number(num[0]) };
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (!name) throw new Error(`unexpected ${src.slice(i, i + 10)} in ${src}`);
    i += name[0].length;
    ws();
    if (src[i] !== '(') throw new Error(`expected ( after ${name[0]} in ${src}`);
    i++;
    const args: Expr[] = [];
    ws();
    if (src[i] === ')') i++;
    else
      for (;;) {
        args.push(parse());
        ws();
        if (src[i] === ',') {
          i++;
          continue;
        }
        if (src[i] === ')') {
          i++;
          break;
        }
        throw new Error(`expected , or ) in ${src}`);
      }
    return { kind: 'call', name: name[0], args };
  };
  const e = parse();
  ws();
  if (i !== src.length) throw new Error(`trailing text in ${src}`);
  return e;
}

function str(v: unknown, fn: string): string {
  if (typeof v !== 'string')
    throw new Error(`${fn}: expected a string, got ${JSON.stringify(v)} (the evaluation fails)`);
  return v;
}

function call(ctx: Context, name: string, args: unknown[]): unknown {
  switch (name.toLowerCase()) {
    case 'parameters': {
      const key = Object.keys(ctx.parameters).find((k) => k.toLowerCase() === str(args[0], name).toLowerCase());
      if (key === undefined) throw new Error(`parameter ${String(args[0])} is not set`);
      return ctx.parameters[key];
    }
    case 'current':
      return field(ctx, str(args[0], name));
    case 'tolower':
      return str(args[0], name).toLowerCase();
    case 'split':
      return str(args[0], name).split(str(args[1], name));
    case 'first':
    case 'last': {
      const v = args[0];
      if (typeof v !== 'string' && !Array.isArray(v)) throw new Error(`${name}: expected a string or array`);
      if (v.length === 0) return typeof v === 'string' ? '' : null;
      return name.toLowerCase() === 'first' ? v[0] : v[v.length - 1];
    }
    case 'length': {
      const v = args[0];
      if (typeof v !== 'string' && !Array.isArray(v)) throw new Error(`length: expected a string or array`);
      return v.length;
    }
    case 'startswith':
      return str(args[0], name).toLowerCase().startsWith(str(args[1], name).toLowerCase());
    case 'endswith':
      return str(args[0], name).toLowerCase().endsWith(str(args[1], name).toLowerCase());
    case 'contains': {
      const [c, x] = args;
      if (typeof c === 'string') return c.includes(str(x, name));
      if (Array.isArray(c)) return c.includes(x);
      throw new Error('contains: expected a string or array');
    }
    case 'equals':
      return args[0] === args[1];
    case 'concat':
      return args.map((a) => str(a, name)).join('');
    default:
      throw new Error(`template function ${name} is not modelled`);
  }
}

function evaluateExpr(ctx: Context, e: Expr): unknown {
  step(ctx);
  return e.kind === 'lit'
    ? e.value
    : call(
        ctx,
        e.name,
        e.args.map((a) => evaluateExpr(ctx, a)),
      );
}

/** A policy value: `[expr]` is evaluated, `[[…` is the literal `[…`, anything else is itself. */
function resolveValue(ctx: Context, v: unknown): unknown {
  if (typeof v !== 'string') return v;
  if (v.startsWith('[[')) return v.slice(1);
  if (v.startsWith('[') && v.endsWith(']')) {
    if (v.length > MAX_EXPRESSION_CHARS)
      throw new Error(`an expression longer than ${MAX_EXPRESSION_CHARS} characters`);
    return evaluateExpr(ctx, parseExpression(v.slice(1, -1)));
  }
  return v;
}

// ---- conditions -------------------------------------------------------------------------------------------

const OPERATORS = [
  'equals',
  'notEquals',
  'like',
  'notLike',
  'in',
  'notIn',
  'greater',
  'greaterOrEquals',
  'less',
  'lessOrEquals',
  'exists',
] as const;

function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  return a === b;
}

function like(value: unknown, pattern: string): boolean {
  if ((pattern.match(/\*/g) ?? []).length > 1) throw new Error(`like: at most one wildcard (${pattern})`);
  if (typeof value !== 'string') return false;
  const v = value.toLowerCase();
  const p = pattern.toLowerCase();
  const star = p.indexOf('*');
  if (star < 0) return v === p;
  const head = p.slice(0, star);
  const tail = p.slice(star + 1);
  return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail);
}

function compare(op: (typeof OPERATORS)[number], actual: unknown, expected: unknown): boolean {
  switch (op) {
    case 'equals':
      return same(actual, expected);
    case 'notEquals':
      return !same(actual, expected);
    case 'like':
      return like(actual, String(expected));
    case 'notLike':
      return !like(actual, String(expected));
    case 'in':
    case 'notIn': {
      if (!Array.isArray(expected)) throw new Error(`${op}: expected an array`);
      const hit = expected.some((e) => same(actual, e));
      return op === 'in' ? hit : !hit;
    }
    case 'greater':
      return (actual as number) > (expected as number);
    case 'greaterOrEquals':
      return (actual as number) >= (expected as number);
    case 'less':
      return (actual as number) < (expected as number);
    case 'lessOrEquals':
      return (actual as number) <= (expected as number);
    case 'exists':
      return (actual !== undefined && actual !== null) === (expected === true || expected === 'true');
  }
}

function evaluateCondition(outer: Context, cond: unknown): boolean {
  step(outer);
  if (outer.depth >= MAX_RULE_DEPTH) throw new Error(`conditions nested deeper than ${MAX_RULE_DEPTH}`);
  const ctx = { ...outer, depth: outer.depth + 1 };
  if (cond === null || typeof cond !== 'object' || Array.isArray(cond))
    throw new Error(`not a condition: ${JSON.stringify(cond)}`);
  const c = cond as Record<string, unknown>;
  if (Array.isArray(c.allOf)) return c.allOf.every((x) => evaluateCondition(ctx, x));
  if (Array.isArray(c.anyOf)) return c.anyOf.some((x) => evaluateCondition(ctx, x));
  if ('not' in c) return !evaluateCondition(ctx, c.not);
  const op = OPERATORS.find((o) => o in c);
  if (!op) throw new Error(`no operator in ${JSON.stringify(c)}`);
  const expected = resolveValue(ctx, c[op]);
  let actual: unknown;
  if (typeof c.field === 'string') actual = field(ctx, c.field);
  else if ('value' in c) actual = resolveValue(ctx, c.value);
  else if (c.count && typeof c.count === 'object') {
    const count = c.count as { field?: string; where?: unknown };
    if (typeof count.field !== 'string' || !count.field.endsWith('[*]'))
      throw new Error('count.field must be an alias array [*]');
    const arrayPath = aliasPath(count.field);
    const array = readPath(ctx.resource, arrayPath.slice(0, -'[*]'.length));
    // A missing (or non-array) field counts 0 members.
    const members = Array.isArray(array) ? array : [];
    for (let k = 0; k < members.length; k++) step(ctx);
    actual = members.filter(
      (member) =>
        count.where === undefined ||
        evaluateCondition({ ...ctx, scopes: [...ctx.scopes, { arrayPath, member }] }, count.where),
    ).length;
  } else throw new Error(`no field, value or count in ${JSON.stringify(c)}`);
  return compare(op, actual, expected);
}

/** The effect a rule applies to a resource: its `then.effect` (parameters resolved) when `if` holds, else undefined. */
export function evaluatePolicyRule(
  rule: { if: unknown; then: { effect: string } },
  resource: PolicyResource,
  parameters: Record<string, unknown>,
): string | undefined {
  const ctx: Context = { resource, parameters, scopes: [], budget: { steps: 0 }, depth: 0 };
  return evaluateCondition(ctx, rule.if) ? String(resolveValue(ctx, rule.then.effect)) : undefined;
}

/** The definition's parameters with their defaults, overridden by an assignment's values. */
export function assignmentParameters(
  definitionParameters: Record<string, { defaultValue?: unknown; allowedValues?: unknown[] }>,
  values: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(definitionParameters)) {
    const v = name in values ? values[name] : p.defaultValue;
    if (v === undefined) throw new Error(`parameter ${name} has no value and no default: Azure refuses the assignment`);
    if (p.allowedValues && !p.allowedValues.some((a) => same(a, v)))
      throw new Error(`parameter ${name}: ${String(v)} is not allowed`);
    out[name] = v;
  }
  for (const name of Object.keys(values))
    if (!(name in definitionParameters)) throw new Error(`parameter ${name} is not defined`);
  return out;
}
