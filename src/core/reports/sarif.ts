/** The SARIF 2.1.0 reader (Trivy, Grype): findings, scan time and the image digests a report names. */
import { FindingsAggregator } from '../findingsSummary';
import { isJsonObject, type JsonObject } from '../jsonReader';
import { moreSevere, severityFromScore, severityFromText } from '../severity';
import type { Finding, Severity } from '../types';
import {
  MAX_REPORT_FINDINGS,
  malformed,
  parseTime,
  reportReader as read,
  nonEmpty,
  type Parsed,
  DIGEST_RE,
  tooMany,
  splitVersions,
  joinVersions,
} from './shared';

/** Vulnerability ids at the start of a rule id (Grype writes `CVE-2024-1234-openssl`). */
const VULN_ID_PREFIX = /^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3}|[A-Z][A-Z0-9]*-[A-Za-z0-9:._-]+)/;
/** A CVE or GHSA id at the start of a text. */
const CVE_OR_GHSA = /^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3})/i;

/** Reads a SARIF 2.1.0 log's results into `sink`; returns the digests it names and its scan time. */
export function readSarif(doc: unknown, reportDigest: string, sink: FindingsAggregator): Parsed {
  const root = read.expectObject(doc, '$');
  if (root.version !== '2.1.0') throw malformed('$.version', 'SARIF version "2.1.0"', root.version);
  const runs = read.requireArray(root, 'runs', '$');
  // SARIF allows an empty `runs`, but a report that ran nothing says nothing about the image.
  if (runs.length === 0) throw malformed('$.runs', 'at least one run', runs);
  // Count every run's results before reading any (the bound is checked before the work it limits).
  let entries = 0;
  runs.forEach((runValue, r) => {
    const results = isJsonObject(runValue) ? runValue.results : undefined;
    if (Array.isArray(results)) entries += results.length;
    if (entries > MAX_REPORT_FINDINGS) throw tooMany(entries, `$.runs[0..${r}].results`);
  });
  const digests = new Set<string>();
  let newest: { ms: number; value: string; path: string } | undefined;
  const source = `sarif:${reportDigest}`;

  for (let r = 0; r < runs.length; r++) {
    const runPath = `$.runs[${r}]`;
    const run = read.requireObject(runs, r, '$.runs');
    const toolPath = `${runPath}.tool`;
    const driver = read.requireObject(read.requireObject(run, 'tool', runPath), 'driver', toolPath);
    const driverPath = `${toolPath}.driver`;
    read.requireString(driver, 'name', driverPath, true);
    const rulesPath = `${driverPath}.rules`;
    const ruleValues = read.optionalArray(driver, 'rules', driverPath);
    const rules: Rule[] = [];
    const rulesById = new Map<string, Rule>();
    for (let i = 0; i < ruleValues.length; i++) {
      const path = `${rulesPath}[${i}]`;
      const value = read.requireObject(ruleValues, i, rulesPath);
      const rule = { value, id: read.requireString(value, 'id', path, true), path };
      rules.push(rule);
      if (!rulesById.has(rule.id)) rulesById.set(rule.id, rule);
    }

    const props = read.optionalObject(run, 'properties', runPath);
    if (props) collectSarifDigests(props, `${runPath}.properties`, digests);

    const invocationsPath = `${runPath}.invocations`;
    const invocations = read.optionalArray(run, 'invocations', runPath);
    invocations.forEach((_, i) => {
      const invPath = `${invocationsPath}[${i}]`;
      const inv = read.requireObject(invocations, i, invocationsPath);
      for (const key of ['endTimeUtc', 'startTimeUtc'] as const) {
        const value = read.optionalString(inv, key, invPath);
        if (value === undefined) continue;
        const path = `${invPath}.${key}`;
        const ms = parseTime(value, path);
        if (!newest || ms > newest.ms) newest = { ms, value, path };
        break; // end time preferred; start time only when there is no end time
      }
    });

    // Absent `results` means the tool did not run to completion (SARIF §3.14.23); an empty array is "no results".
    const results = read.requireArray(run, 'results', runPath);
    const resultsPath = `${runPath}.results`;
    for (let i = 0; i < results.length; i++) {
      const path = `${resultsPath}[${i}]`;
      const result = read.requireObject(results, i, resultsPath);
      const { rule, ruleId } = resolveRule(result, rules, rulesById, path);
      sink.add(sarifFinding({ result, rule, ruleId, path, source }));
    }
  }

  return { digests: [...digests], createdAt: newest?.value, createdPath: newest?.path };
}

/** A rule of the driver, with its id and its path (a finding's rule fields are named by the rule's own path). */
interface Rule {
  value: JsonObject;
  id: string;
  path: string;
}

function collectSarifDigests(props: JsonObject, path: string, into: Set<string>): void {
  // Trivy: repoDigests ["repo@sha256:…"]; others write imageDigest / digest. `imageID` is Trivy's config
  // digest, not a manifest digest, so it is deliberately not read.
  const repoDigests = read.optionalArray(props, 'repoDigests', path);
  repoDigests.forEach((_, i) => {
    const s = read.requireString(repoDigests, i, `${path}.repoDigests`, true);
    const at = s.lastIndexOf('@');
    const digest = (at >= 0 ? s.slice(at + 1) : s).toLowerCase();
    if (!DIGEST_RE.test(digest)) throw malformed(`${path}.repoDigests[${i}]`, 'name@<digest>', s);
    into.add(digest);
  });
  for (const key of ['imageDigest', 'digest']) {
    const v = read.optionalString(props, key, path);
    if (v === undefined) continue;
    const digest = v.toLowerCase();
    if (!DIGEST_RE.test(digest)) throw malformed(`${path}.${key}`, 'a digest', v);
    into.add(digest);
  }
}

function resolveRule(
  result: JsonObject,
  rules: readonly Rule[],
  rulesById: ReadonlyMap<string, Rule>,
  path: string,
): { rule?: Rule; ruleId: string } {
  let ruleId = read.optionalString(result, 'ruleId', path);
  const ruleRef = read.optionalObject(result, 'rule', path);
  if (ruleId === undefined && ruleRef) ruleId = read.optionalString(ruleRef, 'id', `${path}.rule`);
  let index: number | undefined;
  const rawIndex = result.ruleIndex ?? ruleRef?.index;
  if (rawIndex !== undefined && rawIndex !== null) {
    if (typeof rawIndex !== 'number' || !Number.isInteger(rawIndex) || rawIndex < 0)
      throw malformed(`${path}.ruleIndex`, 'a non-negative integer', rawIndex);
    index = rawIndex;
  }
  let rule: Rule | undefined;
  if (index !== undefined) {
    rule = rules[index];
    if (!rule) throw malformed(`${path}.ruleIndex`, `an index below ${rules.length}`, index);
    if (ruleId !== undefined && rule.id !== ruleId)
      throw malformed(`${path}.ruleIndex`, `the index of rule ${JSON.stringify(ruleId)}`, index);
  } else if (ruleId !== undefined) {
    rule = rulesById.get(ruleId);
  }
  const id = ruleId ?? rule?.id;
  if (id === undefined || id.trim() === '')
    throw malformed(`${path}.ruleId`, 'a rule id (the vulnerability id)', ruleId);
  return { rule, ruleId: id };
}

/** `Key: value` lines of Trivy/Grype message and help texts. */
function textFields(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!text) return out;
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z][A-Za-z ]{1,30}):\s?(.*)$/.exec(line);
    if (m && !out.has(m[1].toLowerCase())) out.set(m[1].toLowerCase(), m[2].trim());
  }
  return out;
}

/** The id in a "Vulnerability CVE-…" line (Trivy's and Grype's message/help text). */
function vulnerabilityNamedIn(text: string | undefined): string | undefined {
  return text ? /^\W*Vulnerability\s+([A-Za-z][A-Za-z0-9:._-]+)/m.exec(text)?.[1] : undefined;
}

/** `parent[key].text`, the text of a SARIF message object, when there is one. */
function messageText(parent: JsonObject, key: string, path: string): string | undefined {
  const m = read.optionalObject(parent, key, path);
  return m ? read.optionalString(m, 'text', read.join(path, key)) : undefined;
}

function sarifFinding(options: {
  result: JsonObject;
  rule?: Rule;
  ruleId: string;
  path: string;
  source: string;
}): Finding {
  const { result, rule, path, source } = options;
  let ruleId = options.ruleId.trim();

  // Trivy's older template wrote rule ids like "[HIGH] CVE-2024-1234".
  let severity: Severity = 'unknown';
  const bracket = /^\[([A-Za-z]+)\]\s*(.+)$/.exec(ruleId);
  if (bracket) {
    severity = moreSevere(severity, severityFromText(bracket[1]) ?? 'unknown');
    ruleId = bracket[2].trim();
  }

  const resultProps = read.optionalObject(result, 'properties', path);
  const ruleProps = rule ? read.optionalObject(rule.value, 'properties', rule.path) : undefined;
  const message = messageText(result, 'message', path);
  const help = rule ? messageText(rule.value, 'help', rule.path) : undefined;
  const fields = textFields(message);
  for (const [k, v] of textFields(help)) if (!fields.has(k)) fields.set(k, v);

  let explicit = severity !== 'unknown';
  for (const [props, owner] of [
    [resultProps, path],
    [ruleProps, rule?.path],
  ] as const) {
    if (!props) continue;
    // Paths under the properties are joined only when a value is refused.
    const where = `${owner}.properties`;
    const score = props['security-severity'];
    if (score !== undefined && score !== null) {
      const n =
        typeof score === 'number' ? score : typeof score === 'string' && score.trim() !== '' ? Number(score) : NaN;
      if (!Number.isFinite(n) || n < 0 || n > 10)
        throw malformed(read.join(where, 'security-severity'), 'a CVSS score 0.0–10.0', score);
      severity = moreSevere(severity, severityFromScore(n));
      explicit = true;
    }
    const text = read.optionalString(props, 'severity', where);
    const fromText = text === undefined ? undefined : severityFromText(text);
    if (fromText) {
      severity = moreSevere(severity, fromText);
      explicit = true;
    }
    const tags = read.optionalArray(props, 'tags', where);
    for (let i = 0; i < tags.length; i++) {
      const fromTag = severityFromText(read.requireString(tags, i, `${where}.tags`, true));
      if (fromTag && fromTag !== 'unknown') {
        severity = moreSevere(severity, fromTag);
        explicit = true;
      }
    }
  }
  const fromField = fields.get('severity');
  if (fromField && severityFromText(fromField)) {
    severity = moreSevere(severity, severityFromText(fromField)!);
    explicit = true;
  }
  if (!explicit) {
    const level = read.optionalString(result, 'level', path) ?? (rule ? levelOfRule(rule) : undefined);
    if (level === 'error') severity = 'high';
    else if (level === 'warning') severity = 'medium';
    else if (level === 'note') severity = 'low';
  }

  // The vulnerability id: Trivy's rule id is the CVE; Grype's is "<CVE>-<package>"; the message or help
  // text ("Vulnerability CVE-…") settles which prefix is the id.
  const named = vulnerabilityNamedIn(message) ?? vulnerabilityNamedIn(help);
  let id = ruleId;
  if (named && ruleId.startsWith(named)) id = named;
  else {
    const m = CVE_OR_GHSA.exec(ruleId);
    if (m) id = m[1].toUpperCase();
    else if (!named) id = VULN_ID_PREFIX.exec(ruleId)?.[1] ?? ruleId;
  }

  const propsPath = `${path}.properties`;
  const prop = (key: string): string | undefined =>
    resultProps ? nonEmpty(read.optionalString(resultProps, key, propsPath)) : undefined;
  const pkg =
    (resultProps?.pkgName !== undefined && resultProps.pkgName !== null ? prop('pkgName') : prop('package')) ??
    nonEmpty(fields.get('package'));
  const installed =
    prop('installedVersion') ?? nonEmpty(fields.get('installed version')) ?? nonEmpty(fields.get('version'));
  const fixed = joinVersions(
    splitVersions(prop('fixedVersion') ?? nonEmpty(fields.get('fixed version')) ?? nonEmpty(fields.get('fix version'))),
  );
  const title = rule ? messageText(rule.value, 'shortDescription', rule.path) : undefined;

  const finding: Finding = { id, severity, source };
  if (pkg) finding.package = pkg;
  if (installed) finding.installedVersion = installed;
  if (fixed) finding.fixedVersion = fixed;
  if (title) finding.title = title.slice(0, 200);
  return finding;
}

function levelOfRule(rule: Rule): string | undefined {
  const config = read.optionalObject(rule.value, 'defaultConfiguration', rule.path);
  return config ? read.optionalString(config, 'level', `${rule.path}.defaultConfiguration`) : undefined;
}
