/**
 * Microsoft Defender for Containers findings, read from Azure Resource Graph (`securityresources`): the one
 * KQL query acr-guard sends, and the mapping of its rows to a {@link FindingsResult}. Pure.
 *
 * Two row shapes exist in 2026 and both are read:
 * - individual recommendations (GA 2026-05-05): `type == "microsoft.security/assessments"`, resource type
 *   `.containerimage`, `Source == "Azure"`, category `SoftwareUpdate`; the image identity in
 *   `properties.resourceAdditionalData` (`Digest`, `RepositoryDetails.{RegistryHost,RepositoryName}`,
 *   sometimes a JSON string), the CVEs in `properties.additionalData.CvesDetails` (an array, or a JSON
 *   string of one: `CveId`, `Severity`, `Cvss[{Key,Value:{Base}}]`, `FixStatus`, `FixedVersion`), the
 *   package in `additionalData.SoftwareName` / `ScannersDetails.mdvm.DetectedSoftwareVersions`, the
 *   recommendation severity in `properties.metadata.severity`, the state in `properties.status.code`;
 * - grouped sub-assessments of the MDVM recommendation `c0b7cfc6-3172-465a-b378-53c7ff2cc0d5`
 *   (`microsoft.security/assessments/subassessments`, retiring since 2026-07-31): one row per CVE with
 *   `properties.id`, `properties.status.{code,severity}`, `additionalData.artifactDetails.{registryHost,
 *   repositoryName,digest}`, `additionalData.softwareDetails.{packageName,version,fixedVersion}`.
 * When any individual row exists for the digest, grouped rows are ignored (both describe the same scan;
 * mixing them would count a CVE twice or keep a retired answer alive). Grouped rows are the fallback.
 *
 * "No rows" means "not known yet", never "no vulnerabilities": Defender publishes minutes to hours after a
 * push, and a query that stopped matching fails silently. Only a row saying `Healthy` for this digest is
 * evidence of a clean scan.
 *
 * Sources read (search tool, stored copies):
 * - learn.microsoft.com/azure/defender-for-cloud/subassessment-rest-api (MicrosoftDocs/azure-docs
 *   articles/defender-for-cloud/subassessment-rest-api.md): the grouped row, field by field, and the
 *   MDVM key c0b7cfc6-…;
 * - learn.microsoft.com/azure/container-registry/resource-graph-samples and the Defender for Cloud ARG
 *   samples page: `securityresources`, `properties.status.code`, `properties.resourceDetails`;
 * - learn.microsoft.com/azure/defender-for-cloud/agentless-vulnerability-assessment-azure: the note on the
 *   transition from grouped to individual recommendations (the transition page itself
 *   transition-grouped-individual-recommendations was not in the stored corpus);
 * - a public migration write-up of a Defender-to-CSV tool (2026-08; read through the search tool, not kept in
 *   this repository) with field paths of the individual rows confirmed by a `bag_keys` probe in a real tenant:
 *   `recommendationCategory == "SoftwareUpdate"`, `ResourceType == ".containerimage"`,
 *   `Source == "Azure"`, `resourceAdditionalData.{Digest,RepositoryDetails.*}`, `CvesDetails[].{CveId,
 *   Severity,Cvss,FixStatus,FixedVersion}`, `ScannersDetails.mdvm.DetectedSoftwareVersions`.
 * These field names are not formally documented by Microsoft for containers; every path read here is in
 * this file, and the recorded fixtures in test/fixtures/defender/ pin them. What the gate makes of them is in
 * docs/vulnerability-reports.md ("Defender: severity and the fix signal").
 */
import { SEVERITY_RANK, severityFromScore, severityFromText } from './severity';
import { scoreCvssVector, severityFromCvss } from './cvss';
import { GuardError, ErrorCodes, invalidInput, isGuardError } from './errors';
import { JsonReader, isJsonObject as isObj, type JsonObject as Json, type JsonParent } from './jsonReader';
import { validateDigest, validateRegistryHost, validateRepository } from './reference';
import type { Finding, FindingsResult, ImageId, Severity } from './types';

/** Assessment key of "Azure registry container images should have vulnerabilities resolved (MDVM)". */
export const DEFENDER_REGISTRY_IMAGES_KEY = 'c0b7cfc6-3172-465a-b378-53c7ff2cc0d5';
/** Assessment keys of the running-container-images recommendations (rows for the same digest count too). */
export const DEFENDER_RUNNING_IMAGES_KEYS = [
  '33422d8f-ab1e-42be-bc9a-38685bb567b9',
  'c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5',
] as const;
/** Resource Graph's page size cap; the adapter pages with `$skipToken` beyond it. */
export const RESOURCE_GRAPH_PAGE_SIZE = 1000;

const INDIVIDUAL_TYPE = 'microsoft.security/assessments';
const GROUPED_TYPE = 'microsoft.security/assessments/subassessments';

function validateImage(image: ImageId): void {
  if (typeof image !== 'object' || image === null)
    throw invalidInput('image', 'an image { registry, repository, digest }', image);
  validateRegistryHost(image.registry, 'image.registry');
  validateRepository(image.repository, 'image.repository');
  validateDigest(image.digest, 'image.digest');
}

/**
 * A KQL string literal. Inputs are validated before they get here (no quote can occur), but the literal
 * is still escaped so that this function alone is safe for any string without control characters.
 */
export function kqlString(value: string): string {
  if ([...value].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f))
    throw invalidInput('kql literal', 'a string without control characters');
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The Resource Graph query for one image manifest: individual assessment rows and grouped sub-assessment
 * rows that name the digest, raw (`id`, `type`, `name`, `properties`) so that the mapping below reads
 * every field in one place. Throws `INVALID_INPUT` for a registry, repository or digest outside the
 * OCI grammar; nothing unvalidated is put into the query.
 */
export function buildDefenderQuery(image: ImageId): { query: string } {
  validateImage(image);
  const digest = kqlString(image.digest);
  const query = [
    'securityresources',
    `| where (type == "${INDIVIDUAL_TYPE}"`,
    '    and tostring(properties.resourceDetails.ResourceType) =~ ".containerimage"',
    '    and tostring(properties.resourceDetails.Source) =~ "Azure"',
    `    and (tostring(properties.resourceDetails.Id) contains ${digest}`,
    `      or tostring(parse_json(tostring(properties.resourceAdditionalData)).Digest) == ${digest}))`,
    `  or (type == "${GROUPED_TYPE}"`,
    '    and tostring(properties.additionalData.assessedResourceType) == "AzureContainerRegistryVulnerability"',
    `    and tostring(properties.additionalData.artifactDetails.digest) == ${digest})`,
    '| project id, type, name, properties',
    '| order by id asc',
  ].join('\n');
  return { query };
}

// ---------------------------------------------------------------------------------------------------------
// Row mapping

/**
 * The core JSON reader over Resource Graph rows: a row off the documented shape is `MALFORMED`, naming the row and
 * field (`rows[0].properties.status.code: expected Healthy, Unhealthy or NotApplicable, got "Sick"`).
 */
const read = new JsonReader({ code: ErrorCodes.MALFORMED });
const obj = read.requireObject.bind(read);
const optObj = read.optionalObject.bind(read);

/** `parent[key]` trimmed; undefined when absent, null or blank (Resource Graph writes `""` for "none"). */
function optStr(parent: JsonParent, key: string | number, path: string): string | undefined {
  const value = read.optionalString(parent, key, path)?.trim();
  return value === '' ? undefined : value;
}

/** `parent[key]`, which Resource Graph returns either as a value or as a JSON-encoded string of it. */
function jsonish(parent: Json, key: string, path: string): unknown {
  const v = parent[key];
  if (typeof v !== 'string') return v;
  if (v.trim() === '') return undefined;
  try {
    return JSON.parse(v);
  } catch {
    throw read.fail(read.join(path, key), 'JSON', v);
  }
}

/** {@link jsonish}, which must then be an object; undefined when absent. */
function optJsonObject(parent: Json, key: string, path: string): Json | undefined {
  const value = jsonish(parent, key, path);
  if (value === undefined || value === null) return undefined;
  if (!isObj(value)) throw read.fail(read.join(path, key), 'an object', value);
  return value;
}

function severityOf(text: string | undefined): Severity | undefined {
  return text === undefined ? undefined : severityFromText(text);
}

function severityOfScore(score: unknown): Severity | undefined {
  // Out-of-range or non-numeric scores say nothing (undefined), rather than `unknown`.
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 10) return undefined;
  return severityFromScore(score);
}

/**
 * The grouped row's `vulnerabilityDetails.cvss` (`{"2.0": …, "3.0": {base, cvssVectorString}}`): the most
 * severe of the versions given, each from its `base` or else its vector. Undefined when none says anything.
 */
function groupedVectorSeverity(vuln: Json | undefined): Severity | undefined {
  const cvss = vuln && isObj(vuln.cvss) ? vuln.cvss : undefined;
  if (!cvss) return undefined;
  let worst: Severity | undefined;
  for (const [version, entry] of Object.entries(cvss)) {
    if (!isObj(entry)) continue;
    // A v2 base score reads on NVD's v2 scale (no "critical"), as a v2 vector does.
    const base =
      version === '2.0' && typeof entry.base === 'number' && severityOfScore(entry.base) !== undefined
        ? severityFromCvss('2.0', entry.base)
        : severityOfScore(entry.base);
    const s = base ?? severityOfVector(entry.cvssVectorString);
    if (s && (!worst || SEVERITY_RANK[s] > SEVERITY_RANK[worst])) worst = s;
  }
  return worst;
}

/** A CVSS vector's severity when it scores (core/cvss.ts); a missing or malformed vector says nothing. */
function severityOfVector(vector: unknown): Severity | undefined {
  if (vector === undefined || vector === null) return undefined;
  const scored = scoreCvssVector(vector);
  return scored.ok ? scored.severity : undefined;
}

type Status = 'Healthy' | 'Unhealthy' | 'NotApplicable';

function statusOf(props: Json, path: string): Status {
  const status = obj(props, 'status', path);
  const code = optStr(status, 'code', `${path}.status`);
  if (code === 'Healthy' || code === 'Unhealthy' || code === 'NotApplicable') return code;
  throw read.fail(`${path}.status.code`, 'Healthy, Unhealthy or NotApplicable', status.code);
}

interface RowReading {
  shape: 'individual' | 'grouped';
  /** False when the row is about another registry/repository/digest (ignored). */
  matches: boolean;
  status: Status;
  findings: Finding[];
}

function sameHost(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function readIndividual(row: Json, image: ImageId, path: string): RowReading {
  const propsPath = `${path}.properties`;
  const props = obj(row, 'properties', path);
  const status = statusOf(props, propsPath);
  const details = obj(props, 'resourceDetails', propsPath);
  const idKey = details.Id === undefined || details.Id === null ? 'id' : 'Id';
  const resourceId = optStr(details, idKey, `${propsPath}.resourceDetails`);
  const radPath = `${propsPath}.resourceAdditionalData`;
  const rad = optJsonObject(props, 'resourceAdditionalData', propsPath);
  const digest = rad ? optStr(rad, 'Digest', radPath) : undefined;
  const repoDetails = rad ? optObj(rad, 'RepositoryDetails', radPath) : undefined;
  const host = repoDetails ? optStr(repoDetails, 'RegistryHost', `${radPath}.RepositoryDetails`) : undefined;
  const repository = repoDetails ? optStr(repoDetails, 'RepositoryName', `${radPath}.RepositoryDetails`) : undefined;

  const digestMatches =
    digest !== undefined
      ? digest.toLowerCase() === image.digest
      : (resourceId ?? '').toLowerCase().endsWith(image.digest);
  const matches =
    digestMatches &&
    (host === undefined || sameHost(host, image.registry)) &&
    (repository === undefined || repository === image.repository);
  if (!matches || status === 'Healthy') return { shape: 'individual', matches, status, findings: [] };

  const additionalPath = `${propsPath}.additionalData`;
  const additional = optObj(props, 'additionalData', propsPath) ?? {};
  const metadata = optObj(props, 'metadata', propsPath);
  const recommendationSeverity = severityOf(
    metadata ? optStr(metadata, 'severity', `${propsPath}.metadata`) : undefined,
  );
  const pkg = optStr(additional, 'SoftwareName', additionalPath);
  const scanners = optJsonObject(additional, 'ScannersDetails', additionalPath);
  const mdvmPath = `${additionalPath}.ScannersDetails.mdvm`;
  const mdvm = scanners ? optObj(scanners, 'mdvm', `${additionalPath}.ScannersDetails`) : undefined;
  let installed: string | undefined;
  if (mdvm && Array.isArray(mdvm.DetectedSoftwareVersions))
    installed = optStr(mdvm.DetectedSoftwareVersions, 0, `${mdvmPath}.DetectedSoftwareVersions`);
  const scannerFixed = mdvm ? optStr(mdvm, 'FixedVersion', mdvmPath) : undefined;
  const scannerFixAvailable = mdvm ? fixAvailableOf(optStr(mdvm, 'FixStatus', mdvmPath)) : false;

  const cvesPath = `${additionalPath}.CvesDetails`;
  const cvesValue = jsonish(additional, 'CvesDetails', additionalPath);
  const cves: readonly unknown[] =
    cvesValue === undefined || cvesValue === null
      ? []
      : Array.isArray(cvesValue)
        ? cvesValue
        : [read.expectObject(cvesValue, cvesPath)];
  const findings: Finding[] = [];
  cves.forEach((_, i) => {
    const cvePath = `${cvesPath}[${i}]`;
    const cve = obj(cves, i, cvesPath);
    const id = optStr(cve, 'CveId', cvePath);
    if (!id) throw read.fail(`${cvePath}.CveId`, 'a CVE id', cve.CveId);
    let score: unknown;
    let vector: unknown;
    if (Array.isArray(cve.Cvss) && isObj(cve.Cvss[0]) && isObj(cve.Cvss[0].Value)) {
      score = cve.Cvss[0].Value.Base;
      vector = cve.Cvss[0].Value.CvssVectorString;
    }
    const severity =
      nonUnknown(severityOf(optStr(cve, 'Severity', cvePath))) ??
      severityOfScore(score) ??
      severityOfVector(vector) ??
      recommendationSeverity ??
      'unknown';
    const fixed = nonEmpty(optStr(cve, 'FixedVersion', cvePath)) ?? nonEmpty(scannerFixed);
    // The fix signal is FixStatus (Microsoft's own example says FixAvailable with an empty FixedVersion).
    const fixAvailable =
      fixAvailableOf(optStr(cve, 'FixStatus', cvePath)) || (cve.FixStatus === undefined && scannerFixAvailable);
    findings.push(finding({ id, severity, pkg, installed, fixed, fixAvailable }));
  });
  if (findings.length === 0) {
    // One row per CVE may carry its id outside CvesDetails; an unhealthy row naming no CVE at all is not
    // something the gate can reason about.
    const id = optStr(additional, 'CveId', additionalPath) ?? cveLike(optStr(props, 'displayName', propsPath));
    if (!id) throw read.fail(cvesPath, `CVE details on a row with status ${status}`, additional.CvesDetails);
    findings.push(
      finding({
        id,
        severity: recommendationSeverity ?? 'unknown',
        pkg,
        installed,
        fixed: nonEmpty(scannerFixed),
        fixAvailable: scannerFixAvailable,
      }),
    );
  }
  return { shape: 'individual', matches, status, findings };
}

function nonUnknown(s: Severity | undefined): Severity | undefined {
  return s === 'unknown' ? undefined : s;
}

function cveLike(text: string | undefined): string | undefined {
  return text && /^(CVE-\d{4}-\d{4,}|GHSA(-[a-z0-9]{4}){3})$/i.test(text) ? text : undefined;
}

function finding(f: {
  id: string;
  severity: Severity;
  pkg?: string;
  installed?: string;
  fixed?: string;
  fixAvailable?: boolean;
}): Finding {
  const out: Finding = { id: f.id, severity: f.severity, source: 'defender' };
  if (f.pkg) out.package = f.pkg;
  if (f.installed) out.installedVersion = f.installed;
  if (f.fixed) out.fixedVersion = f.fixed;
  else if (f.fixAvailable) out.fixAvailable = true;
  return out;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === '' ? undefined : s;
}

/** Defender's fix signal: `FixAvailable` (any case) says a fix exists, with or without a fixed version. */
function fixAvailableOf(status: string | undefined): boolean {
  return status !== undefined && status.trim().toLowerCase() === 'fixavailable';
}

function readGrouped(row: Json, image: ImageId, path: string): RowReading {
  const propsPath = `${path}.properties`;
  const props = obj(row, 'properties', path);
  const status = statusOf(props, propsPath);
  const additionalPath = `${propsPath}.additionalData`;
  const additional = obj(props, 'additionalData', propsPath);
  const artifact = obj(additional, 'artifactDetails', additionalPath);
  const artifactPath = `${additionalPath}.artifactDetails`;
  const digest = optStr(artifact, 'digest', artifactPath);
  const host = optStr(artifact, 'registryHost', artifactPath);
  const repository = optStr(artifact, 'repositoryName', artifactPath);
  const matches =
    digest?.toLowerCase() === image.digest &&
    (host === undefined || sameHost(host, image.registry)) &&
    (repository === undefined || repository === image.repository);
  if (!matches || status === 'Healthy') return { shape: 'grouped', matches, status, findings: [] };

  const vulnPath = `${additionalPath}.vulnerabilityDetails`;
  const vuln = optObj(additional, 'vulnerabilityDetails', additionalPath);
  const softwarePath = `${additionalPath}.softwareDetails`;
  const software = optObj(additional, 'softwareDetails', additionalPath);
  const id = optStr(props, 'id', propsPath) ?? (vuln ? optStr(vuln, 'cveId', vulnPath) : undefined);
  if (!id) throw read.fail(`${propsPath}.id`, 'a CVE id', props.id);
  const statusObj = obj(props, 'status', propsPath);
  const severity =
    nonUnknown(severityOf(optStr(statusObj, 'severity', `${propsPath}.status`))) ??
    nonUnknown(severityOf(vuln ? optStr(vuln, 'severity', vulnPath) : undefined)) ??
    severityOfScore(additional.cvssV30Score) ??
    groupedVectorSeverity(vuln) ??
    'unknown';
  const fixStatus = software ? optStr(software, 'fixStatus', softwarePath) : undefined;
  return {
    shape: 'grouped',
    matches,
    status,
    findings: [
      finding({
        id,
        severity,
        pkg: software ? optStr(software, 'packageName', softwarePath) : undefined,
        installed: software ? optStr(software, 'version', softwarePath) : undefined,
        fixed: software ? nonEmpty(optStr(software, 'fixedVersion', softwarePath)) : undefined,
        fixAvailable: fixAvailableOf(fixStatus),
      }),
    ],
  };
}

/**
 * Maps Resource Graph rows (the `data` of every page, `objectArray` format) to a findings result:
 * - no row about this digest: `pending` (not known yet, never "clean");
 * - rows about it: `ready` with their findings (zero when Defender says `Healthy`); individual rows win over
 *   grouped ones; `NotApplicable` (exempted in Defender) rows still count as findings, because waivers
 *   belong to the policy's exceptions, which expire;
 * - a row that is not the documented shape: `error` `MALFORMED` naming the row and field.
 */
export function mapDefenderRows(rows: unknown[], image: ImageId): FindingsResult {
  validateImage(image);
  const readings: RowReading[] = [];
  try {
    if (!Array.isArray(rows)) throw read.fail('rows', 'an array', rows);
    rows.forEach((_, i) => {
      const path = `rows[${i}]`;
      const row = obj(rows, i, 'rows');
      const type = typeof row.type === 'string' ? row.type.toLowerCase() : undefined;
      if (type === INDIVIDUAL_TYPE) readings.push(readIndividual(row, image, path));
      else if (type === GROUPED_TYPE) readings.push(readGrouped(row, image, path));
      else throw read.fail(`${path}.type`, `"${INDIVIDUAL_TYPE}" or "${GROUPED_TYPE}"`, row.type);
    });
  } catch (err) {
    // The reader's refusals are MALFORMED; anything else is a bug and is thrown (the caller fails closed).
    if (isGuardError(err, ErrorCodes.MALFORMED)) {
      return {
        source: 'defender',
        status: 'error',
        code: ErrorCodes.MALFORMED,
        detail: `Resource Graph row not in a known Defender shape: ${err.message}`,
      };
    }
    throw err;
  }

  const ours = readings.filter((r) => r.matches);
  const individual = ours.filter((r) => r.shape === 'individual');
  const used = individual.length > 0 ? individual : ours.filter((r) => r.shape === 'grouped');
  const name = `${image.registry}/${image.repository}@${image.digest}`;
  if (used.length === 0) {
    return {
      source: 'defender',
      status: 'pending',
      detail: `Defender has no assessment of ${name} yet (not known yet; this is not a clean result)`,
    };
  }
  const byKey = new Map<string, Finding>();
  for (const f of used.flatMap((r) => r.findings)) {
    const key = `${f.id}\u0000${f.package ?? ''}\u0000${f.installedVersion ?? ''}`;
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, f);
    else if (SEVERITY_RANK[f.severity] > SEVERITY_RANK[seen.severity]) seen.severity = f.severity;
  }
  const findings = [...byKey.values()];
  const shape = individual.length > 0 ? 'individual recommendations' : 'grouped sub-assessments (retiring)';
  const healthy = used.filter((r) => r.status === 'Healthy').length;
  const exempt = used.filter((r) => r.status === 'NotApplicable').length;
  const extras = [healthy ? `${healthy} healthy` : '', exempt ? `${exempt} exempted in Defender (still counted)` : '']
    .filter(Boolean)
    .join(', ');
  return {
    source: 'defender',
    status: 'ready',
    findings,
    detail: `Defender ${shape}: ${used.length} row(s)${extras ? ` (${extras})` : ''}, ${findings.length} finding(s) for ${name}`,
  };
}

/** Thrown by callers that need a GuardError for a malformed Defender answer outside row mapping. */
export function malformedDefenderResponse(detail: string): GuardError {
  return new GuardError(ErrorCodes.MALFORMED, `Resource Graph response not understood: ${detail}`);
}
