/**
 * Azure role assignment conditions (ABAC, condition version 2.0) in the forms Microsoft documents for ACR
 * repository permissions (learn.microsoft.com/azure/container-registry/container-registry-rbac-abac-repository-permissions,
 * learn.microsoft.com/azure/role-based-access-control/conditions-format):
 *
 *   ((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})
 *      AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'}))
 *    OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'team-a/'))
 *
 * Parsed into a tree and evaluated for one action and one repository name. Also read: `&&`/`||` for AND/OR, and a
 * `{'a', 'b'}` set after a plain operator (any value matches, as after `ForAnyOfAnyValues:`). Anything outside these
 * forms (another attribute, another operator, `SubOperationMatches`, a malformed string, nesting deeper than
 * {@link MAX_CONDITION_DEPTH}) is `undefined` ("unknown"), never true: a condition doctor cannot read never passes a
 * check. `doctor pull` (conditionAllows) and the road's release-writers check (probeNames) share this reader. Pure.
 */

import { globMatch } from './glob';

/** The repository-name attribute ACR conditions test. */
export const ACR_REPOSITORY_ATTRIBUTE = '@Request[Microsoft.ContainerRegistry/registries/repositories:name]';
/** Longest condition parsed (ARM's own limit is 8 KB). */
export const MAX_CONDITION_CHARS = 8192;
/** Deepest nesting of parentheses and negations parsed (a bound on recursion, far above real conditions). */
export const MAX_CONDITION_DEPTH = 64;

/** The string operators Azure conditions define (each with `IgnoreCase` and `Not` forms). */
type StringOp = 'Equals' | 'StartsWith' | 'Like';

/** A parsed condition. */
export type Condition =
  | { kind: 'and' | 'or'; items: Condition[] }
  | { kind: 'not'; item: Condition }
  | { kind: 'action'; pattern: string }
  | {
      kind: 'compare';
      op: StringOp;
      negated: boolean;
      ignoreCase: boolean;
      /** `ForAnyOfAnyValues:` over the listed values (the attribute is single-valued: any value matches). */
      values: string[];
    };

/** What a condition is evaluated against. */
export interface ConditionRequest {
  /** The data action asked for, e.g. `Microsoft.ContainerRegistry/registries/repositories/content/read`. */
  action: string;
  /** The repository name, e.g. `contoso/api`. */
  repository: string;
}

/** What was not understood (the message names it); caught inside this module only. */
class Unreadable extends Error {
  constructor(what = 'a malformed condition') {
    super(what);
  }
}

/** Tokens: parens, `!`, `AND`/`OR`/`NOT`, `ActionMatches{'…'}`, the attribute, an operator word, a string, a list. */
type Token =
  | { t: '(' | ')' | '!' | 'AND' | 'OR' | 'NOT' }
  | { t: 'action'; value: string }
  | { t: 'attr' }
  | { t: 'op'; value: string }
  | { t: 'str'; value: string }
  | { t: 'list'; values: string[] };

function readString(text: string, at: number): { value: string; end: number } {
  if (text[at] !== "'") throw new Unreadable();
  let i = at + 1;
  let value = '';
  for (;;) {
    if (i >= text.length) throw new Unreadable();
    if (text[i] === "'") {
      if (text[i + 1] === "'") {
        value += "'";
        i += 2;
        continue;
      }
      return { value, end: i + 1 };
    }
    value += text[i++];
  }
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (text.startsWith('&&', i) || text.startsWith('||', i)) {
      out.push({ t: c === '&' ? 'AND' : 'OR' });
      i += 2;
      continue;
    }
    if (c === '(' || c === ')' || c === '!') {
      out.push({ t: c });
      i++;
      continue;
    }
    if (c === "'") {
      const s = readString(text, i);
      out.push({ t: 'str', value: s.value });
      i = s.end;
      continue;
    }
    if (c === '{') {
      const values: string[] = [];
      i++;
      for (;;) {
        while (/\s/.test(text[i] ?? '')) i++;
        const s = readString(text, i);
        values.push(s.value);
        i = s.end;
        while (/\s/.test(text[i] ?? '')) i++;
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          break;
        }
        throw new Unreadable();
      }
      out.push({ t: 'list', values });
      continue;
    }
    if (text.startsWith('@', i)) {
      const end = text.indexOf(']', i);
      if (end < 0) throw new Unreadable(`an attribute at ${text.slice(i, i + 40)}`);
      const attr = text.slice(i, end + 1);
      // Only the repository name, as ACR documents it (attribute names compare case-insensitively).
      if (attr.toLowerCase() !== ACR_REPOSITORY_ATTRIBUTE.toLowerCase())
        throw new Unreadable(`the attribute ${attr.slice(0, 120)}`);
      out.push({ t: 'attr' });
      i = end + 1;
      continue;
    }
    const word = /^[A-Za-z][A-Za-z:]*/.exec(text.slice(i, i + 200))?.[0];
    if (!word) throw new Unreadable(`the character ${JSON.stringify(c)}`);
    i += word.length;
    const upper = word.toUpperCase();
    if (upper === 'AND' || upper === 'OR' || upper === 'NOT') {
      out.push({ t: upper });
      continue;
    }
    if (word.toLowerCase() === 'actionmatches') {
      while (/\s/.test(text[i] ?? '')) i++;
      if (text[i] !== '{') throw new Unreadable();
      i++;
      while (/\s/.test(text[i] ?? '')) i++;
      const s = readString(text, i);
      i = s.end;
      while (/\s/.test(text[i] ?? '')) i++;
      if (text[i] !== '}') throw new Unreadable();
      i++;
      out.push({ t: 'action', value: s.value });
      continue;
    }
    out.push({ t: 'op', value: word });
  }
  return out;
}

const OPS: Record<string, StringOp> = { equals: 'Equals', startswith: 'StartsWith', like: 'Like' };
const OPERATOR = /^(?:(ForAnyOfAnyValues):)?String(Not)?(Equals|StartsWith|Like)(IgnoreCase)?$/i;

function parseTokens(tokens: Token[]): Condition {
  let pos = 0;
  let depth = 0;
  const peek = () => tokens[pos];
  const take = () => tokens[pos++];
  const orExpr = (): Condition => {
    const items = [andExpr()];
    while (peek()?.t === 'OR') {
      take();
      items.push(andExpr());
    }
    return items.length === 1 ? items[0] : { kind: 'or', items };
  };
  const andExpr = (): Condition => {
    const items = [unary()];
    while (peek()?.t === 'AND') {
      take();
      items.push(unary());
    }
    return items.length === 1 ? items[0] : { kind: 'and', items };
  };
  const unary = (): Condition => {
    if (++depth > MAX_CONDITION_DEPTH) throw new Unreadable(`nesting deeper than ${MAX_CONDITION_DEPTH}`);
    try {
      return term();
    } finally {
      depth--;
    }
  };
  const term = (): Condition => {
    const tok = take();
    if (!tok) throw new Unreadable('a condition that ends too early');
    if (tok.t === '!' || tok.t === 'NOT') return { kind: 'not', item: unary() };
    if (tok.t === '(') {
      const inner = orExpr();
      if (take()?.t !== ')') throw new Unreadable('an unclosed parenthesis');
      return inner;
    }
    if (tok.t === 'action') return { kind: 'action', pattern: tok.value };
    if (tok.t === 'attr') {
      const op = take();
      if (op?.t !== 'op') throw new Unreadable('an attribute without an operator');
      const m = OPERATOR.exec(op.value);
      if (!m) throw new Unreadable(`the operator ${op.value.slice(0, 60)}`);
      const operand = take();
      const forAny = m[1] !== undefined;
      let values: string[];
      // A set after a plain operator is read as any-of too (the attribute is single-valued).
      if (operand?.t === 'list') values = operand.values;
      else if (!forAny && operand?.t === 'str') values = [operand.value];
      else throw new Unreadable(`the operand of ${op.value.slice(0, 60)}`);
      return {
        kind: 'compare',
        op: OPS[m[3].toLowerCase()],
        negated: m[2] !== undefined,
        ignoreCase: m[4] !== undefined,
        values,
      };
    }
    throw new Unreadable(`the term ${tok.t}`);
  };
  const tree = orExpr();
  if (pos !== tokens.length) throw new Unreadable('trailing text after the condition');
  return tree;
}

/** A condition read, or what in it was not understood (for evidence). */
export type ConditionReading = { condition: Condition } | { problem: string };

/** Reads a condition; `problem` names what is not in the documented forms doctor reads. */
export function readCondition(text: string): ConditionReading {
  if (text.length > MAX_CONDITION_CHARS) return { problem: `a condition over ${MAX_CONDITION_CHARS} characters` };
  try {
    return { condition: parseTokens(tokenize(text)) };
  } catch (err) {
    if (err instanceof Unreadable) return { problem: err.message };
    throw err;
  }
}

/** Parses a condition; `undefined` when it is not in the documented forms doctor reads. */
export function parseCondition(text: string): Condition | undefined {
  const read = readCondition(text);
  return 'condition' in read ? read.condition : undefined;
}

function compare(op: StringOp, ignoreCase: boolean, want: string, have: string): boolean {
  // `StringLike`: `*` any run of characters, `?` one character (Azure's wildcard form).
  if (op === 'Like') return globMatch(want, have, { ignoreCase, questionMark: true });
  const a = ignoreCase ? have.toLowerCase() : have;
  const b = ignoreCase ? want.toLowerCase() : want;
  return op === 'Equals' ? a === b : a.startsWith(b);
}

/** Evaluates a parsed condition for one request. */
export function evaluateCondition(c: Condition, req: ConditionRequest): boolean {
  switch (c.kind) {
    case 'and':
      return c.items.every((i) => evaluateCondition(i, req));
    case 'or':
      return c.items.some((i) => evaluateCondition(i, req));
    case 'not':
      return !evaluateCondition(c.item, req);
    case 'action':
      return globMatch(c.pattern, req.action, { ignoreCase: true });
    case 'compare': {
      const hit = c.values.some((v) => compare(c.op, c.ignoreCase, v, req.repository));
      return c.negated ? !hit : hit;
    }
  }
}

/**
 * Whether a role assignment's condition allows the request: `true` (no condition, or it holds), `false` (it does
 * not), `undefined` (doctor cannot read it: unknown, never a pass).
 */
export function conditionAllows(condition: string | undefined, req: ConditionRequest): boolean | undefined {
  if (condition === undefined || condition.trim() === '') return true;
  const parsed = parseCondition(condition);
  return parsed === undefined ? undefined : evaluateCondition(parsed, req);
}

/** The condition ACR documents for read (pull) access to one repository (for fixes). */
export function repositoryReadCondition(repository: string): string {
  const quoted = repository.replace(/'/g, "''");
  return `((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})) OR (${ACR_REPOSITORY_ATTRIBUTE} StringEqualsIgnoreCase '${quoted}'))`;
}

/** Every string literal of the condition (the names at which its answer can change). */
export function conditionLiterals(c: Condition): string[] {
  switch (c.kind) {
    case 'and':
    case 'or':
      return c.items.flatMap(conditionLiterals);
    case 'not':
      return conditionLiterals(c.item);
    case 'action':
      return [];
    case 'compare':
      return c.values;
  }
}

/**
 * Repository names under `prefix` at which the condition's answer may differ: a name of the prefix's own, and
 * each literal of the condition that lies under the prefix (with `*` and `?` made concrete and a segment appended,
 * in both letter cases), so a condition granting `release/contoso/api` alone is caught as well as one granting all.
 */
export function probeNames(c: Condition, prefix: string): string[] {
  const p = prefix.toLowerCase();
  const out = new Set<string>([`${p}zz-probe/zz-probe`, `${prefix}zz-probe/zz-probe`]);
  for (const lit of conditionLiterals(c)) {
    for (const v of [lit, lit.toLowerCase()]) {
      const concrete = v.replace(/\*/g, 'zz').replace(/\?/g, 'z');
      for (const name of [concrete, `${concrete}zz-probe`, `${concrete}/zz-probe`])
        if (name.toLowerCase().startsWith(p)) out.add(name);
    }
  }
  return [...out];
}
