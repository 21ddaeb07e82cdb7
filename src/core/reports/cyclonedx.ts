/** The CycloneDX 1.4–1.7 reader (Trivy, Grype/Syft): findings, rating sources, packages, scan time and named digests. */
import { FindingsAggregator } from '../findingsSummary';
import { SEVERITY_RANK, moreSevere, severityFromScore, severityFromText } from '../severity';
import { cvssVersionOfMethod, scoreCvssVector } from '../cvss';
import { isJsonObject, type JsonObject } from '../jsonReader';
import type { Finding, Severity } from '../types';
import {
  MAX_REPORT_FINDINGS,
  ReportErrorCodes,
  ReportFailure,
  malformed,
  reportReader as read,
  nonEmpty,
  type Parsed,
  DIGEST_RE,
  DIGEST_IN_TEXT,
  tooMany,
  splitVersions,
  joinVersions,
  versionsFromRecommendation,
} from './shared';

/** Refuses a CycloneDX media type whose `version` parameter is not 1.4 to 1.7 (no parameter is accepted). */
export function checkCycloneDxMediaTypeVersion(mediaType: string): void {
  const params = mediaType.split(';').slice(1);
  for (const param of params) {
    const [key, value] = param.split('=').map((s) => s.trim().toLowerCase());
    if (key === 'version' && !/^1\.[4-7]$/.test(value ?? '')) {
      throw malformed('mediaType;version', 'CycloneDX version 1.4 to 1.7', value);
    }
  }
}

/** The bom-ref a BOM-Link (`urn:cdx:<serial>/<version>#<bom-ref>`) points at, percent-decoded; undefined otherwise. */
function bomRefOfLink(ref: string): string | undefined {
  const m = /^urn:cdx:[^/#]+\/\d+#(.+)$/i.exec(ref);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

/** Name and version of a purl (`pkg:rpm/redhat/openssl-libs@1:3.0.7-27.el9?arch=x86_64`); undefined when not a purl. */
function purlParts(purl: string): { name: string; version?: string } | undefined {
  const name = nameFromPurl(purl);
  if (!name) return undefined;
  const at = purl.split(/[?#]/)[0].lastIndexOf('@');
  if (at < 0) return { name };
  const raw = purl.split(/[?#]/)[0].slice(at + 1);
  let version = raw;
  try {
    version = decodeURIComponent(raw);
  } catch {
    /* keep raw */
  }
  return version ? { name, version } : { name };
}

/**
 * The severity of one vulnerability from its ratings: the most severe, or (with `preferred`) the first listed
 * source that rated it. Returns the rating source that decided, when the rating names one.
 */
function rateVulnerability(
  ratings: readonly unknown[],
  path: string,
  preferred: readonly string[],
): { severity: Severity; source?: string } {
  let worst: { severity: Severity; source?: string } = { severity: 'unknown' };
  const bySource = new Map<string, Severity>();
  const ratingsPath = `${path}.ratings`;
  ratings.forEach((_, j) => {
    const rPath = `${ratingsPath}[${j}]`;
    const rating = read.requireObject(ratings, j, ratingsPath);
    const sourceObj = read.optionalObject(rating, 'source', rPath);
    const sourceName = sourceObj ? nonEmpty(read.optionalString(sourceObj, 'name', `${rPath}.source`)) : undefined;
    let s: Severity | undefined;
    const text = read.optionalString(rating, 'severity', rPath);
    if (text !== undefined) {
      s = severityFromText(text);
      if (!s) throw malformed(`${rPath}.severity`, 'critical, high, medium, low, info, none or unknown', text);
    }
    // A score is a severity only for CVSS (or an unnamed method): Grype adds EPSS probabilities and the CISA KEV
    // flag as ratings with method `other` (score 0.03, 1), which say nothing about severity.
    const method = read.optionalString(rating, 'method', rPath);
    if (rating.score !== undefined && rating.score !== null && (method === undefined || /^cvss/i.test(method))) {
      if (typeof rating.score !== 'number') throw malformed(`${rPath}.score`, 'a number', rating.score);
      const fromScore = severityFromScore(rating.score);
      if (fromScore !== 'unknown') s = moreSevere(s ?? 'unknown', fromScore);
    } else if (
      rating.vector !== undefined &&
      rating.vector !== null &&
      (method === undefined || /^cvss/i.test(method))
    ) {
      // A CVSS vector without a score (issue 17 case 5): scored here; a malformed one is ignored (the rating
      // then says nothing, as a rating without severity or score does), never a failure of the report.
      const scored = scoreCvssVector(rating.vector, cvssVersionOfMethod(method));
      if (scored.ok) s = moreSevere(s ?? 'unknown', scored.severity);
    }
    if (s === undefined) return;
    if (
      SEVERITY_RANK[s] > SEVERITY_RANK[worst.severity] ||
      (worst.source === undefined && s === worst.severity && sourceName)
    ) {
      worst = sourceName ? { severity: s, source: sourceName } : { severity: s };
    }
    const key = sourceName?.toLowerCase();
    // One source may rate twice (Trivy writes NVD's CVSS v2 and v3 ratings): the more severe of its own counts.
    if (key !== undefined && s !== 'unknown') bySource.set(key, moreSevere(bySource.get(key) ?? 'unknown', s));
  });
  for (const want of preferred) {
    const s = bySource.get(want);
    if (s !== undefined) return { severity: s, source: want };
  }
  return worst;
}

/** Reads a CycloneDX BOM's vulnerabilities into `sink`; returns the digests it names and its scan time. */
export function readCycloneDx(
  doc: unknown,
  reportDigest: string,
  sink: FindingsAggregator,
  ratingSources: readonly string[],
): Parsed {
  const root = read.expectObject(doc, '$');
  if (root.bomFormat !== 'CycloneDX') throw malformed('$.bomFormat', '"CycloneDX"', root.bomFormat);
  const spec = read.requireString(root, 'specVersion', '$', true);
  if (!/^1\.[4-7]$/.test(spec)) throw malformed('$.specVersion', 'CycloneDX 1.4 to 1.7', spec);
  const source = `cyclonedx:${reportDigest}`;
  // An SBOM attached with the same media type is not a scan: "no vulnerabilities key" must never read as
  // "no vulnerabilities". Scanners write `"vulnerabilities": []` when they found none.
  if (root.vulnerabilities === undefined) {
    throw new ReportFailure(
      ReportErrorCodes.NOT_A_VULNERABILITY_REPORT,
      '$.vulnerabilities is absent: this CycloneDX document is an SBOM, not a vulnerability scan',
    );
  }

  const digests = new Set<string>();
  let createdAt: string | undefined;
  const metadata = read.optionalObject(root, 'metadata', '$');
  if (metadata) {
    createdAt = read.optionalString(metadata, 'timestamp', '$.metadata');
    const component = read.optionalObject(metadata, 'component', '$.metadata');
    if (component) collectComponentDigests(component, '$.metadata.component', digests);
    collectPropertyDigests(metadata, '$.metadata', digests);
  }

  // Components by bom-ref, walking nested components without recursion (bounded by the JSON depth check).
  const components = new Map<string, { name?: string; version?: string; purl?: string }>();
  const stack: Array<{ value: unknown; path: string }> = read
    .optionalArray(root, 'components', '$')
    .map((value, i) => ({ value, path: `$.components[${i}]` }));
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    const c = read.expectObject(value, path);
    const ref = read.optionalString(c, 'bom-ref', path);
    const entry = {
      name: read.optionalString(c, 'name', path),
      version: read.optionalString(c, 'version', path),
      purl: read.optionalString(c, 'purl', path),
    };
    if (ref !== undefined) components.set(ref, entry);
    read
      .optionalArray(c, 'components', path)
      .forEach((child, i) => stack.push({ value: child, path: `${path}.components[${i}]` }));
  }

  const vulnerabilities = read.requireArray(root, 'vulnerabilities', '$');
  // Count the entries (vulnerability × affected package) before reading any.
  let entries = 0;
  for (let i = 0; i < vulnerabilities.length; i++) {
    const v = vulnerabilities[i];
    const affects = isJsonObject(v) && Array.isArray(v.affects) ? v.affects.length : 0;
    entries += Math.max(1, affects);
    if (entries > MAX_REPORT_FINDINGS) throw tooMany(entries, `$.vulnerabilities[0..${i}]`);
  }
  for (let i = 0; i < vulnerabilities.length; i++) {
    const path = `$.vulnerabilities[${i}]`;
    const v = read.requireObject(vulnerabilities, i, '$.vulnerabilities');
    const id = read.requireString(v, 'id', path, true).trim();
    if (id === '') throw malformed(`${path}.id`, 'a vulnerability id', v.id);
    const rated = rateVulnerability(read.optionalArray(v, 'ratings', path), path, ratingSources);
    const severity = rated.severity;
    const title = nonEmpty(read.optionalString(v, 'description', path));
    const recommendation = read.optionalString(v, 'recommendation', path);
    const fromRecommendation = versionsFromRecommendation(recommendation);
    const base = (): Finding => {
      const f: Finding = { id, severity, source };
      if (rated.source) f.severitySource = rated.source;
      return f;
    };
    const analysis = read.optionalObject(v, 'analysis', path);
    if (analysis) read.optionalString(analysis, 'state', `${path}.analysis`);

    const affects = read.optionalArray(v, 'affects', path);
    if (affects.length === 0) {
      const f = base();
      if (title) f.title = title.slice(0, 200);
      const fixedVersion = joinVersions(fromRecommendation);
      if (fixedVersion) f.fixedVersion = fixedVersion;
      sink.add(f);
      continue;
    }
    const affectsPath = `${path}.affects`;
    affects.forEach((_, j) => {
      const aPath = `${affectsPath}[${j}]`;
      const a = read.requireObject(affects, j, affectsPath);
      const ref = read.requireString(a, 'ref', aPath, true);
      // components by bom-ref; else the BOM-Link's bom-ref; else the ref itself read as a purl.
      const linked = bomRefOfLink(ref);
      const component = components.get(ref) ?? (linked !== undefined ? components.get(linked) : undefined);
      const fromPurl = purlParts(component?.purl ?? linked ?? ref);
      const fixed: string[] = [];
      let affectedVersion: string | undefined;
      const versions = read.optionalArray(a, 'versions', aPath);
      versions.forEach((_, k) => {
        const verPath = `${aPath}.versions[${k}]`;
        const ver = read.requireObject(versions, k, `${aPath}.versions`);
        const version = nonEmpty(
          read.optionalString(ver, 'version', verPath) ?? read.optionalString(ver, 'range', verPath),
        );
        const status = read.optionalString(ver, 'status', verPath) ?? 'affected';
        if (status === 'unaffected' && version) fixed.push(...splitVersions(version));
        if (status === 'affected' && version && !affectedVersion) affectedVersion = version;
      });
      const f = base();
      const pkg = component?.name ?? fromPurl?.name;
      if (pkg) f.package = pkg;
      const installed = component?.version ?? fromPurl?.version ?? affectedVersion;
      if (installed) f.installedVersion = installed;
      const fixedVersion = joinVersions([...fixed, ...fromRecommendation]);
      if (fixedVersion) f.fixedVersion = fixedVersion;
      if (title) f.title = title.slice(0, 200);
      sink.add(f);
    });
  }

  return {
    digests: [...digests],
    createdAt,
    createdPath: createdAt === undefined ? undefined : '$.metadata.timestamp',
  };
}

function collectComponentDigests(component: JsonObject, path: string, into: Set<string>): void {
  const version = read.optionalString(component, 'version', path);
  if (version && DIGEST_RE.test(version.toLowerCase())) into.add(version.toLowerCase());
  for (const key of ['purl', 'bom-ref']) {
    const value = read.optionalString(component, key, path);
    const digest = value ? digestFromPurl(value) : undefined;
    if (digest) into.add(digest);
  }
  const hashes = read.optionalArray(component, 'hashes', path);
  hashes.forEach((_, i) => {
    const hPath = `${path}.hashes[${i}]`;
    const h = read.requireObject(hashes, i, `${path}.hashes`);
    const alg = read.requireString(h, 'alg', hPath, true).toUpperCase();
    const content = read.requireString(h, 'content', hPath, true).toLowerCase();
    const digest = alg === 'SHA-256' ? `sha256:${content}` : alg === 'SHA-512' ? `sha512:${content}` : undefined;
    if (digest !== undefined && DIGEST_RE.test(digest)) into.add(digest);
  });
  collectPropertyDigests(component, path, into);
}

/**
 * `owner.properties: [{ name, value }]`: Trivy's `aquasecurity:trivy:RepoDigest` and any `…digest` property (not
 * `ImageID`).
 */
function collectPropertyDigests(owner: JsonObject, ownerPath: string, into: Set<string>): void {
  const path = `${ownerPath}.properties`;
  const properties = read.optionalArray(owner, 'properties', ownerPath);
  properties.forEach((_, i) => {
    const p = read.requireObject(properties, i, path);
    const name = read.requireString(p, 'name', `${path}[${i}]`, true);
    const v = read.optionalString(p, 'value', `${path}[${i}]`);
    if (!v || !/digest/i.test(name)) return;
    const m = DIGEST_IN_TEXT.exec(v);
    if (m) into.add(m[1].toLowerCase());
  });
}

/** The version of a `pkg:oci/…@<digest>` purl (percent-encoded `sha256%3A…`), when it is a digest. */
function digestFromPurl(purl: string): string | undefined {
  if (!/^pkg:oci\//i.test(purl)) return undefined;
  const at = purl.indexOf('@');
  if (at < 0) return undefined;
  let version = purl.slice(at + 1).split(/[?#]/)[0];
  try {
    version = decodeURIComponent(version);
  } catch {
    return undefined;
  }
  version = version.toLowerCase();
  return DIGEST_RE.test(version) ? version : undefined;
}

function nameFromPurl(purl: string): string | undefined {
  const m = /^pkg:[a-z0-9.+-]+\/(?:[^@?#]*\/)?([^/@?#]+)/i.exec(purl);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}
