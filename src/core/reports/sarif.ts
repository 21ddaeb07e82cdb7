/** The SARIF 2.1.0 reader (Trivy, Grype): findings, scan time and the image digests a report names. */
import { FindingsAggregator } from '../findingsSummary';
import { moreSevere, severityFromScore, severityFromText } from '../severity';
import type { Finding, Severity } from '../types';
import {
  MAX_REPORT_FINDINGS,
  malformed,
  parseTime,
  type Json,
  isObject,
  obj,
  optObj,
  arr,
  optArr,
  str,
  optStr,
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
  const root = obj(doc, '$');
  if (root.version !== '2.1.0') throw malformed('$.version', 'SARIF version "2.1.0"', root.version);
  const runs = arr(root.runs, '$.runs');
  // SARIF allows an empty `runs`, but a report that ran nothing says nothing about the image.
  if (runs.length === 0) throw malformed('$.runs', 'at least one run', runs);
  // Count every run's results before reading any (the bound is checked before the work it limits).
  let entries = 0;
  runs.forEach((runValue, r) => {
    const results = isObject(runValue) ? runValue.results : undefined;
    if (Array.isArray(results)) entries += results.length;
    if (entries > MAX_REPORT_FINDINGS) throw tooMany(entries, `$.runs[0..${r}].results`);
  });
  const digests = new Set<string>();
  let newest: { ms: number; value: string; path: string } | undefined;
  const source = `sarif:${reportDigest}`;

  runs.forEach((runValue, r) => {
    const runPath = `$.runs[${r}]`;
    const run = obj(runValue, runPath);
    const driver = obj(obj(run.tool, `${runPath}.tool`).driver, `${runPath}.tool.driver`);
    str(driver.name, `${runPath}.tool.driver.name`);
    const rules = optArr(driver.rules, `${runPath}.tool.driver.rules`).map((rule, i) =>
      obj(rule, `${runPath}.tool.driver.rules[${i}]`),
    );
    const rulesById = new Map<string, { rule: Json; index: number }>();
    rules.forEach((rule, i) => {
      const id = str(rule.id, `${runPath}.tool.driver.rules[${i}].id`);
      if (!rulesById.has(id)) rulesById.set(id, { rule, index: i });
    });

    const props = optObj(run.properties, `${runPath}.properties`);
    if (props) collectSarifDigests(props, `${runPath}.properties`, digests);

    optArr(run.invocations, `${runPath}.invocations`).forEach((invValue, i) => {
      const inv = obj(invValue, `${runPath}.invocations[${i}]`);
      for (const key of ['endTimeUtc', 'startTimeUtc'] as const) {
        const path = `${runPath}.invocations[${i}].${key}`;
        const value = optStr(inv[key], path);
        if (value === undefined) continue;
        const ms = parseTime(value, path);
        if (!newest || ms > newest.ms) newest = { ms, value, path };
        break; // end time preferred; start time only when there is no end time
      }
    });

    // Absent `results` means the tool did not run to completion (SARIF §3.14.23); an empty array is "no results".
    const results = arr(run.results, `${runPath}.results`);
    for (let i = 0; i < results.length; i++) {
      const path = `${runPath}.results[${i}]`;
      const result = obj(results[i], path);
      const { rule, ruleId } = resolveRule(result, rules, rulesById, path);
      sink.add(sarifFinding({ result, rule, ruleId, path, source }));
    }
  });

  return { digests: [...digests], createdAt: newest?.value, createdPath: newest?.path };
}

function collectSarifDigests(props: Json, path: string, into: Set<string>): void {
  // Trivy: repoDigests ["repo@sha256:…"]; others write imageDigest / digest. `imageID` is Trivy's config
  // digest, not a manifest digest, so it is deliberately not read.
  optArr(props.repoDigests, `${path}.repoDigests`).forEach((v, i) => {
    const s = str(v, `${path}.repoDigests[${i}]`);
    const at = s.lastIndexOf('@');
    const digest = (at >= 0 ? s.slice(at + 1) : s).toLowerCase();
    if (!DIGEST_RE.test(digest)) throw malformed(`${path}.repoDigests[${i}]`, 'name@<digest>', s);
    into.add(digest);
  });
  for (const key of ['imageDigest', 'digest']) {
    const v = optStr(props[key], `${path}.${key}`);
    if (v === undefined) continue;
    const digest = v.toLowerCase();
    if (!DIGEST_RE.test(digest)) throw malformed(`${path}.${key}`, 'a digest', v);
    into.add(digest);
  }
}

function resolveRule(
  result: Json,
  rules: Json[],
  rulesById: Map<string, { rule: Json; index: number }>,
  path: string,
): { rule?: Json; ruleId: string } {
  let ruleId = optStr(result.ruleId, `${path}.ruleId`);
  const ruleRef = optObj(result.rule, `${path}.rule`);
  if (ruleId === undefined && ruleRef) ruleId = optStr(ruleRef.id, `${path}.rule.id`);
  let index: number | undefined;
  const rawIndex = result.ruleIndex ?? ruleRef?.index;
  if (rawIndex !== undefined && rawIndex !== null) {
    if (typeof rawIndex !== 'number' || !Number.isInteger(rawIndex) || rawIndex < 0)
      throw malformed(`${path}.ruleIndex`, 'a non-negative integer', rawIndex);
    index = rawIndex;
  }
  let rule: Json | undefined;
  if (index !== undefined) {
    rule = rules[index];
    if (!rule) throw malformed(`${path}.ruleIndex`, `an index below ${rules.length}`, index);
    if (ruleId !== undefined && rule.id !== ruleId)
      throw malformed(`${path}.ruleIndex`, `the index of rule ${JSON.stringify(ruleId)}`, index);
  } else if (ruleId !== undefined) {
    rule = rulesById.get(ruleId)?.rule;
  }
  const id = ruleId ?? (rule ? (rule.id as string) : undefined);
  if (id === undefined || id.trim() === '') throw malformed(`${path}.ruleId`, 'a rule id (the vulnerability id)');
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

function messageText(v: unknown, path: string): string | undefined {
  const m = optObj(v, path);
  return m ? optStr(m.text, `${path}.text`) : undefined;
}

function sarifFinding(options: { result: Json; rule?: Json; ruleId: string; path: string; source: string }): Finding {
  const { result, rule, path, source } = options;
  let ruleId = options.ruleId.trim();

  // Trivy's older template wrote rule ids like "[HIGH] CVE-2024-1234".
  let severity: Severity = 'unknown';
  const bracket = /^\[([A-Za-z]+)\]\s*(.+)$/.exec(ruleId);
  if (bracket) {
    severity = moreSevere(severity, severityFromText(bracket[1]) ?? 'unknown');
    ruleId = bracket[2].trim();
  }

  const resultProps = optObj(result.properties, `${path}.properties`);
  const ruleProps = rule ? optObj(rule.properties, `${path}(rule).properties`) : undefined;
  const message = messageText(result.message, `${path}.message`);
  const help = rule ? messageText(rule.help, `${path}(rule).help`) : undefined;
  const fields = textFields(message);
  for (const [k, v] of textFields(help)) if (!fields.has(k)) fields.set(k, v);

  let explicit = severity !== 'unknown';
  for (const [props, where] of [
    [resultProps, `${path}.properties`],
    [ruleProps, `${path}(rule).properties`],
  ] as const) {
    if (!props) continue;
    const score = props['security-severity'];
    if (score !== undefined && score !== null) {
      const n =
        typeof score === 'number' ? score : typeof score === 'string' && score.trim() !== '' ? Number(score) : NaN;
      if (!Number.isFinite(n) || n < 0 || n > 10)
        throw malformed(`${where}["security-severity"]`, 'a CVSS score 0.0–10.0', score);
      severity = moreSevere(severity, severityFromScore(n));
      explicit = true;
    }
    const text = optStr(props.severity, `${where}.severity`);
    const fromText = text === undefined ? undefined : severityFromText(text);
    if (fromText) {
      severity = moreSevere(severity, fromText);
      explicit = true;
    }
    optArr(props.tags, `${where}.tags`).forEach((tag, i) => {
      const fromTag = severityFromText(str(tag, `${where}.tags[${i}]`));
      if (fromTag && fromTag !== 'unknown') {
        severity = moreSevere(severity, fromTag);
        explicit = true;
      }
    });
  }
  const fromField = fields.get('severity');
  if (fromField && severityFromText(fromField)) {
    severity = moreSevere(severity, severityFromText(fromField)!);
    explicit = true;
  }
  if (!explicit) {
    const level = optStr(result.level, `${path}.level`) ?? (rule ? levelOfRule(rule, path) : undefined);
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

  const pkg =
    nonEmpty(optStr(resultProps?.pkgName ?? resultProps?.package, `${path}.properties.pkgName`)) ??
    nonEmpty(fields.get('package'));
  const installed =
    nonEmpty(optStr(resultProps?.installedVersion, `${path}.properties.installedVersion`)) ??
    nonEmpty(fields.get('installed version')) ??
    nonEmpty(fields.get('version'));
  const fixed = joinVersions(
    splitVersions(
      nonEmpty(optStr(resultProps?.fixedVersion, `${path}.properties.fixedVersion`)) ??
        nonEmpty(fields.get('fixed version')) ??
        nonEmpty(fields.get('fix version')),
    ),
  );
  const title = rule ? messageText(rule.shortDescription, `${path}(rule).shortDescription`) : undefined;

  const finding: Finding = { id, severity, source };
  if (pkg) finding.package = pkg;
  if (installed) finding.installedVersion = installed;
  if (fixed) finding.fixedVersion = fixed;
  if (title) finding.title = title.slice(0, 200);
  return finding;
}

function levelOfRule(rule: Json, path: string): string | undefined {
  const config = optObj(rule.defaultConfiguration, `${path}(rule).defaultConfiguration`);
  return config ? optStr(config.level, `${path}(rule).defaultConfiguration.level`) : undefined;
}
