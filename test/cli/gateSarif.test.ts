/**
 * Findings as data: `acr-guard gate --output json` carries each check's details with every finding (blocking
 * and below the threshold), and `--output sarif` writes a SARIF 2.1.0 log that validates against the official
 * SARIF 2.1.0 schema (from @microsoft/jest-sarif) and has what GitHub code scanning requires (a rule per vulnerability with
 * `security-severity`, results with a level and a physical location whose artifact URI is the image).
 * Against a real docker-registry on loopback (its host has a port, so the URI encoding is exercised).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { runCli as run } from '../support/cli';
import { attachReport, CRITICAL_OPENSSL, LOW_APT } from '../support/pushSamples';
import type { Verdict } from '../../src/core/types';
import { createRegistryClient } from '../../src/adapters/registry';
import type { RegistryClient } from '../../src/adapters/ports';
import { pushImage } from '../../src/local/ociPush';
import { startRegistry, type RunningRegistry } from '../../src/local/registryServer';
import { ACR_GUARD_VERSION } from '../../src/cli/gate';
import { imageUri, verdictSarif } from '../../src/cli/sarif';

type Json = Record<string, any>;

/**
 * The SARIF 2.1.0 JSON Schema (the final rtm.5 text, as Microsoft's own `@microsoft/jest-sarif` ships it, pinned
 * as a devDependency), read as draft-07: it is draft-04 with `id`, which ajv 8 reads once `id` becomes `$id`.
 */
function sarifValidator() {
  const schema = JSON.parse(
    readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'),
  );
  delete schema.$schema;
  schema.$id = schema.id;
  delete schema.id;
  // unicodeRegExp off: the rtm.5 text has one pattern (`language`) with a stray `]` that only non-unicode regexps accept.
  const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
  addFormats(ajv);
  return ajv.compile(schema);
}

/** What GitHub code scanning requires beyond the schema (docs: "SARIF support for code scanning"). */
function expectCodeScanningShape(log: Json): void {
  expect(log.version).toBe('2.1.0');
  for (const runObj of log.runs) {
    expect(runObj.tool.driver.name).toBe('acr-guard');
    const ruleIds = runObj.tool.driver.rules.map((r: Json) => r.id);
    expect(new Set(ruleIds).size).toBe(ruleIds.length);
    for (const result of runObj.results) {
      expect(ruleIds).toContain(result.ruleId);
      expect(runObj.tool.driver.rules[result.ruleIndex].id).toBe(result.ruleId);
      expect(['error', 'warning', 'note']).toContain(result.level);
      expect(result.message.text.length).toBeGreaterThan(0);
      expect(result.locations[0].physicalLocation.artifactLocation.uri.length).toBeGreaterThan(0);
    }
  }
}

describe('acr-guard gate: findings as data', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  let policyFile: string;
  const validate = sarifValidator();

  beforeAll(async () => {
    registry = await startRegistry();
    client = createRegistryClient({ host: registry.host, plainHttp: true });
    const dir = mkdtempSync(join(tmpdir(), 'acr-guard-sarif-'));
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      `version: 1
registries: [{ host: "${registry.host}" }]
gate:
  - scope: "app/**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
`,
    );
  });
  afterAll(async () => {
    await registry?.stop();
  });

  async function pushVulnerable(repository: string): Promise<string> {
    const now = new Date().toISOString();
    const image = await pushImage(client, repository, { tag: 'v1', layers: [Buffer.from(repository)], created: now });
    await attachReport(client, repository, image, {
      format: 'cyclonedx',
      scannedAt: now,
      vulnerabilities: [CRITICAL_OPENSSL, LOW_APT],
    });
    return image.digest;
  }

  it('--output json lists every finding with its status in the vulnerabilities check details', async () => {
    const digest = await pushVulnerable('app/json');
    const { code, out } = await run([
      'gate',
      `${registry.host}/app/json@${digest}`,
      '--policy',
      policyFile,
      '--plain-http',
      '--output',
      'json',
    ]);
    expect(code).toBe(3);
    const vuln = JSON.parse(out).checks.find((c: Json) => c.name === 'vulnerabilities');
    expect(vuln.details.findings).toEqual([
      expect.objectContaining({
        id: 'CVE-2024-6119',
        severity: 'critical',
        package: 'openssl',
        installedVersion: '3.0.13',
        fixedVersion: '3.0.14',
        status: 'blocking',
        sources: [expect.stringMatching(/^cyclonedx:sha256:[0-9a-f]{64}$/)],
      }),
      expect.objectContaining({ id: 'CVE-2011-3374', severity: 'low', package: 'apt', status: 'below-threshold' }),
    ]);
    expect(vuln.details.blocking).toHaveLength(1);
    expect(vuln.details.belowThreshold).toBe(1);
  });

  it('--output sarif validates against the SARIF 2.1.0 schema and has what code scanning needs', async () => {
    const digest = await pushVulnerable('app/sarif');
    const { code, out } = await run([
      'gate',
      `${registry.host}/app/sarif@${digest}`,
      '--policy',
      policyFile,
      '--plain-http',
      '--output',
      'sarif',
    ]);
    expect(code).toBe(3);
    const log = JSON.parse(out);
    const valid = validate(log);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    expectCodeScanningShape(log);
    const [runObj] = log.runs;
    const rules = Object.fromEntries(runObj.tool.driver.rules.map((r: Json) => [r.id, r]));
    expect(rules['CVE-2024-6119'].properties).toMatchObject({
      'security-severity': '9.5',
      tags: expect.arrayContaining(['security']),
    });
    expect(rules['CVE-2024-6119'].helpUri).toBe('https://nvd.nist.gov/vuln/detail/CVE-2024-6119');
    expect(rules['CVE-2011-3374'].properties['security-severity']).toBe('2.0');
    const byRule = Object.fromEntries(runObj.results.map((r: Json) => [r.ruleId, r]));
    expect(byRule['CVE-2024-6119'].level).toBe('error');
    expect(byRule['CVE-2011-3374'].level).toBe('note');
    const image = `${registry.host}/app/sarif@${digest}`;
    // The registry's port is percent-encoded: a relative URI's first segment may not hold ':'.
    expect(byRule['CVE-2024-6119'].locations[0].physicalLocation.artifactLocation.uri).toBe(imageUri(image));
    expect(imageUri(image)).toMatch(/^127\.0\.0\.1%3A\d+\/app\/sarif@sha256:[0-9a-f]{64}$/);
    expect(byRule['CVE-2024-6119'].locations[0].logicalLocations[0].fullyQualifiedName).toBe(image);
    expect(byRule['CVE-2024-6119'].message.text).toContain('Installed Version: 3.0.13');
    expect(runObj.properties).toMatchObject({ image, decision: 'block' });
  });

  it('an image that is not there still gives a valid SARIF log: one error result saying why, decision block', async () => {
    const image = `${registry.host}/app/sarif:not-pushed`;
    const { code, out } = await run(['gate', image, '--policy', policyFile, '--plain-http', '--output', 'sarif']);
    expect(code).toBe(3);
    const log = JSON.parse(out);
    const valid = validate(log);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    const [runObj] = log.runs;
    expect(runObj.tool.driver).toMatchObject({ name: 'acr-guard', version: ACR_GUARD_VERSION });
    expect(runObj.tool.driver.rules.map((r: Json) => r.id)).toEqual(['acr-guard/gate']);
    expect(runObj.results).toHaveLength(1);
    expect(runObj.results[0]).toMatchObject({ ruleId: 'acr-guard/gate', ruleIndex: 0, level: 'error' });
    expect(runObj.results[0].message.text).toMatch(/^not-found: /);
    expect(runObj.results[0].locations[0].physicalLocation.artifactLocation.uri).toBe(imageUri(image));
    expect(runObj.properties).toMatchObject({ image, decision: 'block', status: 'not-found' });
  });

  it('an unknown --output is a usage error naming the three formats', async () => {
    const { code, err } = await run(['gate', `${registry.host}/app/x:v1`, '--policy', policyFile, '--output', 'xml']);
    expect(code).toBe(2);
    expect(err).toContain('"json", "table" or "sarif"');
  });

  it('names the package.json version as the tool version', () => {
    expect(ACR_GUARD_VERSION).toBe(JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')).version);
  });

  it('a stored verdict with malformed findings details still gives a valid log (the bad entries are left out)', () => {
    const verdict: Verdict = {
      image: { registry: 'contoso.azurecr.io', repository: 'team/api', digest: `sha256:${'a'.repeat(64)}` },
      decision: 'block',
      summary: 'blocked',
      checks: [
        {
          name: 'vulnerabilities',
          status: 'fail',
          reason: 'x',
          manifest: `sha256:${'b'.repeat(64)}`,
          details: {
            findings: [
              null,
              { id: 42 },
              { id: 'GHSA-xxxx', severity: 'high', sources: ['defender'], status: 'nonsense' },
              {
                id: 'GHSA-jfh8-c2jp-5v3q',
                severity: 'high',
                sources: ['defender'],
                status: 'excepted',
                package: 'evil](https://x.example/)<img src=x>\n# heading',
                exception: 'gate[0].vulnerabilities.exceptions[0]',
                exceptionExpires: '2027-01-31',
              },
            ],
          },
        },
        { name: 'signatures', status: 'inconclusive', reason: 'no trust policy' },
      ],
      findingCounts: { high: 1 },
      rule: 'gate[0]',
      policy: { version: 1, hash: 'h' },
      decidedAt: '2026-12-07T00:00:00.000Z',
    };
    const log = verdictSarif(verdict, ACR_GUARD_VERSION);
    expect(validate(log)).toBe(true);
    // The validator does reject what is not SARIF (a driver without its name).
    expect(validate({ version: '2.1.0', runs: [{ tool: { driver: {} } }] })).toBe(false);
    const results = (log.runs as Json[])[0].results as Json[];
    expect(results.map((r) => r.ruleId)).toEqual(['GHSA-jfh8-c2jp-5v3q', 'acr-guard/signatures']);
    // A report's package name cannot become a link, an element or a heading in code scanning's Markdown.
    const markdown = (((log.runs as Json[])[0].tool as Json).driver.rules[0].help as Json).markdown as string;
    expect(markdown).toContain('evil\\]\\(https://x.example/\\)\\<img src=x\\> \\# heading');
    expect(markdown).not.toContain('](https://x.example');
    expect(results[0].suppressions).toEqual([expect.objectContaining({ kind: 'external', status: 'accepted' })]);
    expect(results[0].locations[0].logicalLocations[0].fullyQualifiedName).toContain('platform manifest sha256:bbbb');
  });
});
