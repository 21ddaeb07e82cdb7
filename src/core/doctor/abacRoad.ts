/**
 * Azure ABAC role-assignment conditions (version 2.0), the subset ACR's repository permissions use: `AND`, `OR`,
 * `!`/`NOT`, parentheses, `ActionMatches{'<action>'}` (with `*` wildcards) and string comparisons of
 * `@Request[Microsoft.ContainerRegistry/registries/repositories:name]` with one value or a `{'a', 'b'}` set
 * (StringEquals, StringStartsWith, StringLike and their `Not` and `IgnoreCase` forms). Anything else (another
 * attribute, another operator) is not understood and says so: the caller then treats the assignment as granting
 * everything its role grants (fail closed). Pure.
 */
import { actionMatches } from './roles';

/** The repository-name attribute ACR's conditions compare. */
export const REPOSITORY_NAME_ATTRIBUTE = '@Request[Microsoft.ContainerRegistry/registries/repositories:name]';

/** Longest condition (characters) parsed; ARM's own limit is 8 KiB. */
export const MAX_CONDITION_CHARS = 8192;

type Node =
  | { kind: 'and' | 'or'; items: Node[] }
  | { kind: 'not'; item: Node }
  | { kind: 'action'; pattern: string }
  | { kind: 'compare'; op: string; values: string[] };

const OPERATORS = new Set(
  ['StringEquals', 'StringStartsWith', 'StringLike'].flatMap((base) => {
    const not = base.replace(/^String/, 'StringNot');
    return [base, `${base}IgnoreCase`, not, `${not}IgnoreCase`];
  }),
);

/** A condition that could not be read: the evidence names what was not understood. */
export class ConditionNotUnderstood extends Error {}

function tokenize(src: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== "'") j++;
      if (j >= src.length) throw new ConditionNotUnderstood('an unterminated string');
      out.push(src.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if ('(){},!'.includes(c)) {
      out.push(c);
      i++;
      continue;
    }
    if (c === '@') {
      const m = /^@[A-Za-z]+\[[^\]]*\]/.exec(src.slice(i));
      if (!m) throw new ConditionNotUnderstood(`an attribute at ${src.slice(i, i + 40)}`);
      out.push(m[0]);
      i += m[0].length;
      continue;
    }
    if (src.startsWith('&&', i) || src.startsWith('||', i)) {
      out.push(src.slice(i, i + 2));
      i += 2;
      continue;
    }
    const m = /^[A-Za-z:]+/.exec(src.slice(i));
    if (!m) throw new ConditionNotUnderstood(`the character ${JSON.stringify(c)}`);
    out.push(m[0]);
    i += m[0].length;
  }
  return out;
}

/** Parses a condition; throws {@link ConditionNotUnderstood} for anything outside the subset. */
export function parseCondition(src: string): Node {
  if (src.length > MAX_CONDITION_CHARS)
    throw new ConditionNotUnderstood(`a condition over ${MAX_CONDITION_CHARS} characters`);
  const t = tokenize(src);
  let i = 0;
  let depth = 0;
  const peek = () => t[i];
  const expect = (tok: string) => {
    if (t[i] !== tok)
      throw new ConditionNotUnderstood(`expected ${tok} at ${t.slice(i, i + 3).join(' ') || 'the end'}`);
    i++;
  };
  const str = (): string => {
    const s = t[i++];
    if (!s || !s.startsWith("'")) throw new ConditionNotUnderstood(`expected a string at ${s ?? 'the end'}`);
    return s.slice(1, -1);
  };
  const or = (): Node => {
    const items = [and()];
    while (/^(OR|\|\|)$/i.test(peek() ?? '')) {
      i++;
      items.push(and());
    }
    return items.length === 1 ? items[0] : { kind: 'or', items };
  };
  const and = (): Node => {
    const items = [unary()];
    while (/^(AND|&&)$/i.test(peek() ?? '')) {
      i++;
      items.push(unary());
    }
    return items.length === 1 ? items[0] : { kind: 'and', items };
  };
  const unary = (): Node => {
    if (++depth > 64) throw new ConditionNotUnderstood('nesting deeper than 64');
    try {
      const tok = peek();
      if (tok === '!' || /^NOT$/i.test(tok ?? '')) {
        i++;
        return { kind: 'not', item: unary() };
      }
      if (tok === '(') {
        i++;
        const inner = or();
        expect(')');
        return inner;
      }
      if (tok === 'ActionMatches') {
        i++;
        expect('{');
        const pattern = str();
        expect('}');
        return { kind: 'action', pattern };
      }
      if (tok?.startsWith('@')) {
        i++;
        if (tok.toLowerCase() !== REPOSITORY_NAME_ATTRIBUTE.toLowerCase())
          throw new ConditionNotUnderstood(`the attribute ${tok}`);
        const op = t[i++] ?? '';
        if (!OPERATORS.has(op)) throw new ConditionNotUnderstood(`the operator ${op || '(none)'}`);
        const values: string[] = [];
        if (peek() === '{') {
          i++;
          values.push(str());
          while (peek() === ',') {
            i++;
            values.push(str());
          }
          expect('}');
        } else values.push(str());
        return { kind: 'compare', op, values };
      }
      throw new ConditionNotUnderstood(`the term ${tok ?? '(end)'}`);
    } finally {
      depth--;
    }
  };
  const node = or();
  if (i !== t.length) throw new ConditionNotUnderstood(`trailing ${t.slice(i, i + 3).join(' ')}`);
  return node;
}

function like(value: string, pattern: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

function compare(op: string, name: string, values: string[]): boolean {
  const ignore = op.endsWith('IgnoreCase');
  const negate = op.startsWith('StringNot');
  const base = op.replace(/IgnoreCase$/, '').replace(/^StringNot/, 'String');
  const n = ignore ? name.toLowerCase() : name;
  const hit = values.some((raw) => {
    const v = ignore ? raw.toLowerCase() : raw;
    if (base === 'StringEquals') return n === v;
    if (base === 'StringStartsWith') return n.startsWith(v);
    return like(n, v);
  });
  return negate ? !hit : hit;
}

/** True when the condition allows `action` on the repository `name`. */
export function conditionAllows(node: Node, action: string, name: string): boolean {
  switch (node.kind) {
    case 'and':
      return node.items.every((x) => conditionAllows(x, action, name));
    case 'or':
      return node.items.some((x) => conditionAllows(x, action, name));
    case 'not':
      return !conditionAllows(node.item, action, name);
    case 'action':
      return actionMatches(node.pattern, action);
    case 'compare':
      return compare(node.op, name, node.values);
  }
}

/** Every string literal of the condition (the names at which its answer can change). */
export function conditionLiterals(node: Node): string[] {
  switch (node.kind) {
    case 'and':
    case 'or':
      return node.items.flatMap(conditionLiterals);
    case 'not':
      return conditionLiterals(node.item);
    case 'action':
      return [];
    case 'compare':
      return node.values;
  }
}

/**
 * Repository names under `prefix` at which the condition's answer may differ: a name of the prefix's own, and
 * each literal of the condition that lies under the prefix (with `*` made concrete and a segment appended, in
 * both letter cases), so a condition granting `release/contoso/api` alone is caught as well as one granting all.
 */
export function probeNames(node: Node, prefix: string): string[] {
  const p = prefix.toLowerCase();
  const out = new Set<string>([`${p}zz-probe/zz-probe`, `${prefix}zz-probe/zz-probe`]);
  for (const lit of conditionLiterals(node)) {
    for (const v of [lit, lit.toLowerCase()]) {
      const concrete = v.replace(/\*/g, 'zz');
      for (const name of [concrete, `${concrete}zz-probe`, `${concrete}/zz-probe`])
        if (name.toLowerCase().startsWith(p)) out.add(name);
    }
  }
  return [...out];
}
