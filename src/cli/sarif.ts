/**
 * `acr-guard gate --output sarif`: a verdict as a SARIF 2.1.0 log that GitHub code scanning and Azure DevOps
 * (SARIF SAST Scans tab) accept. Pure: the verdict in, the log out.
 *
 * - `tool.driver.rules`: one rule per vulnerability id (CVE, GHSA, …) with `properties.security-severity` (the
 *   number GitHub ranks security alerts by) and the `security` tag; one rule `acr-guard/<check>` per failed or
 *   inconclusive non-vulnerability check (signatures, manifest, a scan source that failed).
 * - `results`: one per finding the verdict lists (`details.findings` of each `vulnerabilities` check: the worst
 *   100 per manifest; the rest are counted in `run.properties.findingsNotListed`). `level` is `error` for a
 *   finding that blocks, `warning` for one of medium severity or worse that does not, `note` below that; an
 *   excepted finding carries an accepted external suppression naming the policy's exception.
 * - Locations: as Trivy's image SARIF, the image reference is the artifact location's `uri` (GitHub requires a
 *   `physicalLocation.artifactLocation.uri`), with a one-line region; a logical location names the image and,
 *   for an index, the platform manifest.
 */
import { createHash } from 'node:crypto';
import type { ListedFinding } from '../core/decision';
import { formatImage } from '../core/reference';
import type { Check, Severity, Verdict } from '../core/types';

/** The schema URI a SARIF 2.1.0 log names (OASIS errata 01, the one GitHub documents). */
export const SARIF_SCHEMA_URI =
  'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

/**
 * GitHub's `security-severity` per severity: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
 * `unknown` gets none (GitHub then shows the alert without a security severity).
 */
const SECURITY_SEVERITY: Record<Severity, string | undefined> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '2.0',
  negligible: '0.1',
  unknown: undefined,
};

type Json = Record<string, unknown>;

/**
 * An image reference as a URI reference: the first path segment of a relative reference may not hold `:`
 * (RFC 3986 path-noscheme), so a registry port is percent-encoded (`127.0.0.1%3A5000/team/api@sha256:…`).
 */
export function imageUri(image: string): string {
  const slash = image.indexOf('/');
  const first = slash < 0 ? image : image.slice(0, slash);
  return first.replace(/:/g, '%3A') + (slash < 0 ? '' : image.slice(slash));
}

/** Text from a report (package names, ids: whoever attached the report wrote them) made inert in Markdown. */
function markdownText(text: string): string {
  return text.replace(/[\\`*_{}[\]()<>#+!|~-]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
}

function helpUri(id: string): string | undefined {
  if (/^CVE-\d{4}-\d{4,}$/i.test(id)) return `https://nvd.nist.gov/vuln/detail/${id.toUpperCase()}`;
  if (/^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$/i.test(id)) return `https://github.com/advisories/${id}`;
  return undefined;
}

function levelOf(f: ListedFinding): 'error' | 'warning' | 'note' {
  if (f.status === 'blocking') return 'error';
  return f.severity === 'critical' || f.severity === 'high' || f.severity === 'medium' ? 'warning' : 'note';
}

const STATUS_TEXT: Record<ListedFinding['status'], string> = {
  blocking: 'blocks the image',
  'below-threshold': 'below the block threshold',
  'passed-over': 'no fixed version (passed over by onlyFixable)',
  excepted: 'excepted',
};

function findingText(f: ListedFinding, where: string): string {
  const lines = [
    `Package: ${f.package ?? 'unknown'}`,
    `Installed Version: ${f.installedVersion ?? 'unknown'}`,
    `Vulnerability ${f.id}`,
    `Severity: ${f.severity.toUpperCase()}${f.severitySource ? ` (rated by ${f.severitySource})` : ''}`,
    `Fixed Version: ${f.fixedVersion ?? 'none known'}`,
    `Status: ${STATUS_TEXT[f.status]}${f.exception ? ` (${f.exception}${f.exceptionExpired ? `, expired ${f.exceptionExpired}` : f.exceptionExpires ? ` until ${f.exceptionExpires}` : ''})` : ''}`,
    `Source: ${f.sources.join(', ')}`,
    `Image: ${where}`,
  ];
  return lines.join('\n');
}

/** Stable across runs for the same finding in the same repository, so code scanning tracks one alert. */
function fingerprint(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/** `details.findings` of a vulnerabilities check, each entry checked for shape (a stored verdict is data). */
function listedFindings(check: Check): ListedFinding[] {
  const raw = check.details?.findings;
  if (!Array.isArray(raw)) return [];
  return raw.filter(
    (f): f is ListedFinding =>
      typeof f === 'object' &&
      f !== null &&
      typeof (f as ListedFinding).id === 'string' &&
      typeof (f as ListedFinding).severity === 'string' &&
      Array.isArray((f as ListedFinding).sources) &&
      typeof (f as ListedFinding).status === 'string' &&
      (f as ListedFinding).status in STATUS_TEXT,
  );
}

/** The SARIF 2.1.0 log of one verdict (see the module comment). */
export function verdictSarif(verdict: Verdict, toolVersion: string): Json {
  const image = formatImage(verdict.image);
  const rules: Json[] = [];
  const ruleIndex = new Map<string, number>();
  const results: Json[] = [];
  const ruleFor = (id: string, build: () => Json): number => {
    let index = ruleIndex.get(id);
    if (index === undefined) {
      index = rules.length;
      ruleIndex.set(id, index);
      rules.push(build());
    }
    return index;
  };
  const locationsFor = (manifest: string | undefined): Json[] => [
    {
      physicalLocation: imageLocation(image),
      logicalLocations: [
        {
          name: verdict.image.repository,
          fullyQualifiedName: manifest ? `${image} (platform manifest ${manifest})` : image,
          kind: 'container-image',
        },
      ],
    },
  ];
  let notListed = 0;
  for (const check of verdict.checks) {
    if (check.name === 'vulnerabilities') {
      const n = check.details?.findingsNotListed;
      if (typeof n === 'number' && Number.isFinite(n)) notListed += n;
      for (const f of listedFindings(check)) {
        const score = SECURITY_SEVERITY[f.severity];
        const index = ruleFor(f.id, () => {
          const link = helpUri(f.id);
          const title = `${f.id}${f.package ? ` in ${f.package}` : ''}`;
          return {
            id: f.id,
            name: 'ContainerImageVulnerability',
            shortDescription: { text: title },
            fullDescription: { text: `${title} (${f.severity})` },
            ...(link ? { helpUri: link } : {}),
            help: {
              text: `Vulnerability ${f.id}\nSeverity: ${f.severity}\nPackage: ${f.package ?? 'unknown'}\nFixed Version: ${f.fixedVersion ?? 'none known'}${link ? `\nLink: ${link}` : ''}`,
              markdown: `**Vulnerability ${markdownText(f.id)}**\n| Severity | Package | Fixed Version | Link |\n| --- | --- | --- | --- |\n| ${f.severity} | ${markdownText(f.package ?? 'unknown')} | ${markdownText(f.fixedVersion ?? 'none known')} | ${link ? `[${f.id}](${link})` : '-'} |`,
            },
            defaultConfiguration: { level: f.severity === 'critical' || f.severity === 'high' ? 'error' : 'warning' },
            properties: {
              ...(score ? { 'security-severity': score } : {}),
              precision: 'very-high',
              tags: ['vulnerability', 'security', f.severity.toUpperCase()],
            },
          };
        });
        results.push({
          ruleId: f.id,
          ruleIndex: index,
          level: levelOf(f),
          message: { text: findingText(f, check.manifest ? `${image} (platform ${check.manifest})` : image) },
          locations: locationsFor(check.manifest),
          partialFingerprints: {
            'acrGuardFinding/v1': fingerprint([
              verdict.image.registry,
              verdict.image.repository,
              f.id,
              f.package ?? '',
              f.installedVersion ?? '',
            ]),
          },
          ...(f.status === 'excepted'
            ? {
                suppressions: [
                  {
                    kind: 'external',
                    status: 'accepted',
                    justification: `${f.exception ?? 'policy exception'} until ${f.exceptionExpires ?? 'unknown'}`,
                  },
                ],
              }
            : {}),
          properties: {
            status: f.status,
            severity: f.severity,
            ...(f.severitySource ? { severitySource: f.severitySource } : {}),
            sources: f.sources,
            ...(check.manifest ? { manifest: check.manifest } : {}),
          },
        });
      }
      continue;
    }
    // Other checks that stopped a release (a failed signature, a scan source that failed, …): one result each.
    if (check.status !== 'fail' && check.status !== 'inconclusive') continue;
    const id = `acr-guard/${check.name}`;
    const index = ruleFor(id, () => ({
      id,
      name: check.name.replace(/[^A-Za-z0-9]+/g, '-'),
      shortDescription: { text: `acr-guard check ${check.name}` },
      defaultConfiguration: { level: 'error' },
      properties: { tags: ['acr-guard', 'supply-chain'] },
    }));
    results.push({
      ruleId: id,
      ruleIndex: index,
      level: 'error',
      message: { text: `${check.name} ${check.status}: ${check.reason}` },
      locations: locationsFor(check.manifest),
      partialFingerprints: {
        'acrGuardCheck/v1': fingerprint([verdict.image.registry, verdict.image.repository, check.name]),
      },
      properties: { status: check.status, ...(check.manifest ? { manifest: check.manifest } : {}) },
    });
  }
  return sarifLog(toolVersion, rules, {
    // GitHub keeps one analysis per category: one per repository, so gating two images does not replace alerts.
    automationDetails: { id: `acr-guard/${verdict.image.registry}/${verdict.image.repository}/` },
    results,
    properties: {
      image,
      ...(verdict.tag ? { tag: verdict.tag } : {}),
      decision: verdict.decision,
      summary: verdict.summary,
      decidedAt: verdict.decidedAt,
      rule: verdict.rule,
      findingCounts: verdict.findingCounts,
      ...(notListed > 0 ? { findingsNotListed: notListed } : {}),
      ...(verdict.findingsOmitted ? { findingsOmitted: verdict.findingsOmitted } : {}),
    },
  });
}

/** The SARIF log of a gate that reached no verdict (ignored, failed): one error result saying why. */
export function noVerdictSarif(image: string, status: string, reason: string, toolVersion: string): Json {
  const rules = [{ id: 'acr-guard/gate', shortDescription: { text: 'the gate reached no verdict' } }];
  return sarifLog(toolVersion, rules, {
    results: [
      {
        ruleId: 'acr-guard/gate',
        ruleIndex: 0,
        level: 'error',
        message: { text: `${status}: ${reason}` },
        locations: [{ physicalLocation: imageLocation(image) }],
      },
    ],
    properties: { image, decision: 'block', status },
  });
}

/** A SARIF 2.1.0 log of one run by acr-guard: its rules, then the run's own fields (results, properties, …). */
function sarifLog(toolVersion: string, rules: Json[], run: Json): Json {
  return {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: [
      { tool: { driver: { name: 'acr-guard', version: toolVersion, semanticVersion: toolVersion, rules } }, ...run },
    ],
  };
}

/** Where a result about the image is: the image's URI, with the one-line region SARIF consumers expect. */
function imageLocation(image: string): Json {
  return {
    artifactLocation: { uri: imageUri(image) },
    region: { startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 },
  };
}
