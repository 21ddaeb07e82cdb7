/**
 * The effective rule set: the shipped rules, changed by the user's alerts file (YAML or JSON):
 *
 * ```yaml
 * enable: [registry-access-outside-allowlist]      # shipped rules that are off by default
 * disable: [console-errors]
 * parameters:                                      # typed values for a rule's `let` declarations
 *   registry-access-outside-allowlist:
 *     allowedIdentities: [ci-pipeline, 00000000-0000-0000-0000-000000000000]
 * rules: [ { name, query, window, threshold, severity, dedupKey, columns, ... } ]
 * ```
 */
import { parse as parseYaml } from 'yaml';
import { ErrorCodes, GuardError } from '../errors';
import { isJsonObject } from '../jsonReader';
import { ruleReader, validateParameter, validateRule, type AlertRule } from './rule';
import { SHIPPED_RULE_DEFINITIONS } from './shipped';

/** Most bytes of an alert rules file (checked by the reader before parsing, and here for inline text). */
export const MAX_FILE_BYTES = 256 * 1024;

function bad(field: string, expected: string, got: unknown): GuardError {
  return ruleReader.fail(field, expected, got);
}
const join = ruleReader.join.bind(ruleReader);

function names(value: unknown, field: string, known: Set<string>): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw bad(field, 'a list of rule names', value);
  return value.map((v, i) => {
    if (typeof v !== 'string' || !known.has(v))
      throw bad(join(field, i), `one of the rules ${[...known].join(', ')}`, v);
    return v;
  });
}

/**
 * Builds the rule set from the optional alerts file text (`source` names it in errors). Every error is
 * `INVALID_POLICY` with the path of the bad key in the core reader's form (`rules[1].threshold.above`,
 * `parameters["registry-access-outside-allowlist"].allowedIdentities[0]`).
 */
export function loadRuleSet(text: string | undefined, source = 'alerts file'): AlertRule[] {
  let doc: unknown = {};
  if (text !== undefined && text.trim() !== '') {
    if (Buffer.byteLength(text) > MAX_FILE_BYTES)
      throw new GuardError(ErrorCodes.INVALID_POLICY, `${source}: larger than ${MAX_FILE_BYTES} bytes`, {
        field: source,
      });
    try {
      doc = parseYaml(text, { maxAliasCount: 20 }) ?? {};
    } catch (err) {
      throw new GuardError(
        ErrorCodes.INVALID_POLICY,
        `${source}: not valid YAML (${(err as Error).message.split('\n')[0]})`,
        { field: source },
      );
    }
  }
  if (!isJsonObject(doc)) throw bad(source, 'a map with enable, disable, parameters, rules', doc);
  const d = doc;
  for (const key of Object.keys(d))
    if (!['enable', 'disable', 'parameters', 'rules'].includes(key))
      throw bad(key, 'one of the keys enable, disable, parameters, rules', key);

  const shippedNames = new Set(SHIPPED_RULE_DEFINITIONS.map((r) => r.name as string));
  const enable = new Set(names(d.enable, 'enable', shippedNames));
  const disable = new Set(names(d.disable, 'disable', shippedNames));
  for (const n of enable) if (disable.has(n)) throw bad('enable', 'rules not also listed under disable', n);

  const userRaw = d.rules === undefined ? [] : d.rules;
  if (!Array.isArray(userRaw)) throw bad('rules', 'a list of rules', userRaw);
  const overrides = d.parameters === undefined ? {} : d.parameters;
  if (!isJsonObject(overrides)) throw bad('parameters', 'a map of rule name to parameters', overrides);

  const rules: AlertRule[] = SHIPPED_RULE_DEFINITIONS.map((raw, i) => {
    const name = raw.name as string;
    const params = overrides[name];
    const merged: Record<string, unknown> = { ...raw };
    if (enable.has(name)) merged.enabled = true;
    if (disable.has(name)) merged.enabled = false;
    if (params !== undefined) {
      if (!isJsonObject(params)) throw bad(join('parameters', name), 'a map of parameter name to value', params);
      const declared = raw.parameters as Record<string, unknown>;
      const checked: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(params)) {
        if (!(key in declared))
          throw bad(
            join(join('parameters', name), key),
            `one of the rule's parameters ${Object.keys(declared).join(', ')}`,
            key,
          );
        checked[key] = validateParameter(value, join(join('parameters', name), key));
      }
      merged.parameters = { ...declared, ...checked };
    }
    return validateRule(merged, join('shipped', i));
  });
  const seen = new Set(rules.map((r) => r.name));
  for (const name of Object.keys(overrides))
    if (!shippedNames.has(name))
      throw bad(
        join('parameters', name),
        'the name of a shipped rule (user rules set parameters in their own definition)',
        name,
      );
  userRaw.forEach((raw, i) => {
    const rule = validateRule(raw, join('rules', i));
    if (seen.has(rule.name)) throw bad(join(join('rules', i), 'name'), 'a name no other rule uses', rule.name);
    seen.add(rule.name);
    rules.push(rule);
  });
  return rules;
}
