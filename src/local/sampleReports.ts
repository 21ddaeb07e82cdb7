/**
 * Vulnerability reports in the shapes real scanners emit (Trivy-style SARIF 2.1.0 and CycloneDX 1.5), made
 * for sample images by `npm start`, the benchmark and tests. Pure: time and digests are passed in.
 */
import type { Severity } from '../core/types';

/** A vulnerability to put into a sample report. */
export interface SampleVulnerability {
  id: string;
  severity: Exclude<Severity, 'unknown' | 'negligible'>;
  package: string;
  installedVersion: string;
  fixedVersion?: string;
}

const CVSS: Record<SampleVulnerability['severity'], string> = {
  critical: '9.8',
  high: '7.5',
  medium: '5.3',
  low: '2.1',
};

/** A Trivy-style SARIF 2.1.0 report of `imageRef` (`registry/repo@digest`), finished at `scannedAt`. */
export function sampleSarif(options: {
  imageName: string;
  digest: string;
  scannedAt: string;
  vulnerabilities: SampleVulnerability[];
}): Buffer {
  const { imageName, digest, scannedAt, vulnerabilities } = options;
  const rules = vulnerabilities.map((v) => ({
    id: v.id,
    name: 'OsPackageVulnerability',
    shortDescription: { text: `${v.package}: ${v.id}` },
    helpUri: `https://avd.aquasec.com/nvd/${v.id.toLowerCase()}`,
    properties: {
      precision: 'very-high',
      'security-severity': CVSS[v.severity],
      tags: ['vulnerability', 'security', v.severity.toUpperCase()],
    },
  }));
  const results = vulnerabilities.map((v, ruleIndex) => ({
    ruleId: v.id,
    ruleIndex,
    level: v.severity === 'critical' || v.severity === 'high' ? 'error' : v.severity === 'medium' ? 'warning' : 'note',
    message: {
      text: `Package: ${v.package}\nInstalled Version: ${v.installedVersion}\nVulnerability ${v.id}\nSeverity: ${v.severity.toUpperCase()}\nFixed Version: ${v.fixedVersion ?? ''}\nLink: [${v.id}](https://avd.aquasec.com/nvd/${v.id.toLowerCase()})`,
    },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: imageName, uriBaseId: 'ROOTPATH' },
          region: { startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 },
        },
        message: { text: `${imageName}: ${v.package}@${v.installedVersion}` },
      },
    ],
  }));
  const repo = imageName.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
  const sarif = {
    version: '2.1.0',
    $schema: 'https://raw.githubusercontent.com/oasis-tcs/sarif-spec/main/sarif-2.1/schema/sarif-schema-2.1.0.json',
    runs: [
      {
        tool: {
          driver: {
            fullName: 'Trivy Vulnerability Scanner',
            informationUri: 'https://github.com/aquasecurity/trivy',
            name: 'Trivy',
            rules,
            version: '0.58.1',
          },
        },
        results,
        columnKind: 'utf16CodeUnits',
        invocations: [{ executionSuccessful: true, startTimeUtc: scannedAt, endTimeUtc: scannedAt }],
        originalUriBaseIds: { ROOTPATH: { uri: 'file:///' } },
        properties: { imageName, repoDigests: [`${repo}@${digest}`], repoTags: [] },
      },
    ],
  };
  return Buffer.from(JSON.stringify(sarif, null, 2));
}

/** A CycloneDX 1.5 BOM with `vulnerabilities`, whose metadata component names the image digest. */
export function sampleCycloneDx(options: {
  imageName: string;
  digest: string;
  scannedAt: string;
  vulnerabilities: SampleVulnerability[];
}): Buffer {
  const { imageName, digest, scannedAt, vulnerabilities } = options;
  const name = imageName.replace(/@.*$/, '');
  const imageRef = `pkg:oci/${name.split('/').pop()}@${encodeURIComponent(digest)}?repository_url=${encodeURIComponent(name)}`;
  const packages = [...new Map(vulnerabilities.map((v) => [`${v.package}@${v.installedVersion}`, v])).values()];
  const bom = {
    $schema: 'http://cyclonedx.org/schema/bom-1.5.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:00000000-0000-4000-8000-${digest.slice(7, 19)}`,
    version: 1,
    metadata: {
      timestamp: scannedAt,
      tools: { components: [{ type: 'application', group: 'aquasecurity', name: 'trivy', version: '0.58.1' }] },
      component: { 'bom-ref': imageRef, type: 'container', name, version: digest, purl: imageRef },
    },
    components: packages.map((v) => ({
      'bom-ref': `pkg:deb/debian/${v.package}@${v.installedVersion}`,
      type: 'library',
      name: v.package,
      version: v.installedVersion,
      purl: `pkg:deb/debian/${v.package}@${v.installedVersion}`,
    })),
    vulnerabilities: vulnerabilities.map((v) => ({
      id: v.id,
      source: { name: 'debian', url: 'https://security-tracker.debian.org/tracker/' },
      ratings: [{ source: { name: 'nvd' }, score: Number(CVSS[v.severity]), severity: v.severity, method: 'CVSSv31' }],
      description: `${v.package}: ${v.id}`,
      recommendation: v.fixedVersion ? `Upgrade ${v.package} to version ${v.fixedVersion}` : undefined,
      affects: [
        {
          ref: `pkg:deb/debian/${v.package}@${v.installedVersion}`,
          versions: [
            { version: v.installedVersion, status: 'affected' },
            ...(v.fixedVersion ? [{ version: v.fixedVersion, status: 'unaffected' }] : []),
          ],
        },
      ],
    })),
  };
  return Buffer.from(JSON.stringify(bom, null, 2));
}
