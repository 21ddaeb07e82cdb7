/**
 * `vulnerabilities.reportsSignedBy` (issue 17, reports bullet) with real notation signatures on a real
 * docker-registry on loopback (no referrers API: the `sha256-<hex>` fallback tag), through the real replay
 * driver, the real reports source and the gate's own signature verifier: only a report whose own manifest
 * carries a signature verifying under the named trust policy counts; unsigned or untrusted reports are ignored
 * and named. Rewriting the fallback index to list only a forged clean report then leaves no signed report:
 * the gate blocks instead of releasing.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf } from '../../src/adapters/registry';
import type { SignatureTrust } from '../../src/adapters/signatureVerifier';
import { loadSignatureTrust } from '../../src/adapters/trustStoreFiles';
import { loadPolicy } from '../../src/core/policy';
import { MediaTypes, type ImageId } from '../../src/core/types';
import { pushImage, type Pushed } from '../../src/local/ociPush';
import type { GateOutcome } from '../../src/orchestrations/imageGate';
import { gatePushed } from '../support/localGate';
import { attachCycloneDx } from '../support/pushSamples';
import { useRegistry } from '../support/registry';
import { describeRequiring } from '../support/required';
import {
  cosignKeys,
  cosignSign,
  issueLeaf,
  makeCa,
  notationHome,
  notationSign,
  signingTools,
  strictTrustPolicy,
  type NotationHome,
} from '../support/signingTools';

jest.setTimeout(180_000);

const SCANNER_DN = 'x509.subject:C=US, ST=WA, L=Seattle, O=Acme, CN=acme-scanner';

describeRequiring(signingTools)('reports signed under a named trust policy (real notation, real registry)', () => {
  const reg = useRegistry();
  const now = new Date();
  let dir: string;
  let home: NotationHome;
  let trust: SignatureTrust;
  let cosignKey: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-signed-reports-'));
    const ca = await makeCa(dir, 'acme-root', '/C=US/ST=WA/O=Acme/CN=Acme Root CA');
    const scanner = await issueLeaf(dir, 'scanner', '/C=US/ST=WA/L=Seattle/O=Acme/CN=acme-scanner', ca);
    // Same CA, another identity: a pusher's own key, not the scanner's.
    const intruder = await issueLeaf(dir, 'intruder', '/C=US/ST=WA/L=Seattle/O=Acme/CN=acme-intruder', ca);
    home = await notationHome(join(dir, 'home'), {
      keys: { scanner, intruder },
      caStores: { acme: [ca.cert] },
      trustPolicy: strictTrustPolicy('scanner-reports', 'acme', [SCANNER_DN]),
    });
    // acr-guard's trust policy file: notation's entry plus one whose store is the scanner's cosign public key.
    const keys = await cosignKeys(join(dir, 'cosign'));
    cosignKey = keys.key;
    mkdirSync(join(home.trustStore, 'cosign', 'scanner'), { recursive: true });
    copyFileSync(keys.pub, join(home.trustStore, 'cosign', 'scanner', 'cosign.pub'));
    const doc = JSON.parse(readFileSync(home.trustPolicyFile, 'utf8'));
    doc.trustPolicies.push({
      name: 'scanner-cosign',
      registryScopes: [`${reg.registry.host}/team/cosign-only`],
      signatureVerification: { level: 'strict' },
      trustStores: ['cosign:scanner'],
      trustedIdentities: ['*'],
    });
    const acrGuardPolicy = join(dir, 'acr-guard-trustpolicy.json');
    writeFileSync(acrGuardPolicy, JSON.stringify(doc));
    trust = await loadSignatureTrust(acrGuardPolicy, home.trustStore);
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function gate(image: ImageId, instanceId: string, signedBy = 'scanner-reports'): Promise<GateOutcome> {
    const policy = loadPolicy(
      `version: 1
registries: [{ host: "${reg.registry.host}", apply: none }]
gate:
  - scope: "team/**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s, reportsSignedBy: ${signedBy} }
    signatures: { required: false }
`,
      'test policy',
    );
    return gatePushed(image, instanceId, { policy, startTime: now, signatureTrust: trust });
  }

  const attach = (repo: string, image: Pushed, at: Date, critical: boolean): Promise<Pushed> =>
    attachCycloneDx(reg.client, repo, image, at, critical);

  async function scanned(repo: string): Promise<Pushed> {
    return pushImage(reg.client, repo, { tag: '1.0', layers: [Buffer.from(repo)] });
  }
  const id = (repo: string, image: Pushed): ImageId => ({
    registry: reg.registry.host,
    repository: repo,
    digest: image.digest,
  });
  const sign = (repo: string, report: Pushed, key = 'scanner') =>
    notationSign(home, `${reg.registry.host}/${repo}@${report.digest}`, { key });

  it("the scanner's signed clean report releases", async () => {
    const repo = 'team/signed-clean';
    const image = await scanned(repo);
    await sign(repo, await attach(repo, image, new Date(now.getTime() - 60_000), false));

    const outcome = await gate(id(repo, image), 'signed-clean');

    expect(outcome.verdict?.decision).toBe('release');
  });

  it("the scanner's signed critical report blocks; a newer unsigned clean one is ignored and named", async () => {
    const repo = 'team/signed-critical';
    const image = await scanned(repo);
    await sign(repo, await attach(repo, image, new Date(now.getTime() - 60_000), true));
    const forged = await attach(repo, image, new Date(now.getTime() - 59_000), false);

    const outcome = await gate(id(repo, image), 'signed-critical');

    expect(outcome.verdict?.decision).toBe('block');
    const text = JSON.stringify(outcome.verdict);
    expect(text).toContain('CVE-2024-6119');
    expect(text).toContain(`not signed under trust policy \\"scanner-reports\\"`);
    expect(text).toContain(forged.digest);
  });

  it('an unsigned clean report alone, or one signed by another identity, does not release', async () => {
    const repo = 'team/unsigned-clean';
    const image = await scanned(repo);
    const unsigned = await attach(repo, image, new Date(now.getTime() - 60_000), false);
    const intruders = await attach(repo, image, new Date(now.getTime() - 50_000), false);
    await sign(repo, intruders, 'intruder');

    const outcome = await gate(id(repo, image), 'unsigned-clean');

    expect(outcome.verdict?.decision).toBe('block');
    const text = JSON.stringify(outcome.verdict);
    expect(text).toContain(unsigned.digest);
    expect(text).toContain(intruders.digest);
    expect(text).toContain('no signed vulnerability report');
  });

  it("a cosign key: a report signed with the scanner's cosign key counts under an entry holding that key", async () => {
    const repo = 'team/cosign-signed';
    const image = await scanned(repo);
    const report = await attach(repo, image, new Date(now.getTime() - 60_000), true);
    await cosignSign(cosignKey, `${reg.registry.host}/${repo}@${report.digest}`, join(dir, 'cosign'));
    const forged = await attach(repo, image, new Date(now.getTime() - 59_000), false);

    const outcome = await gate(id(repo, image), 'cosign-signed', 'scanner-cosign');

    expect(outcome.verdict?.decision).toBe('block');
    const text = JSON.stringify(outcome.verdict);
    expect(text).toContain('CVE-2024-6119');
    expect(text).toContain(forged.digest); // named as ignored
    expect(text).toContain(`not signed under trust policy \\"scanner-cosign\\"`);
  });

  it('rewriting the fallback index to list only a forged clean report blocks (no signed report is left)', async () => {
    const repo = 'team/signed-rewritten';
    const image = await scanned(repo);
    await sign(repo, await attach(repo, image, new Date(now.getTime() - 60_000), true));
    const forged = await attach(repo, image, new Date(now.getTime() - 59_000), false);
    const fallback = image.digest.replace(':', '-');
    const index = await reg.client.getManifest(repo, fallback);
    const body = Buffer.from(
      JSON.stringify({ ...index.json, manifests: index.children.filter((d) => d.digest === forged.digest) }),
    );
    await reg.client.putManifest(repo, fallback, body, MediaTypes.ociIndex);
    expect(digestOf(body)).not.toBe(index.digest);

    const outcome = await gate(id(repo, image), 'signed-rewritten');

    expect(outcome.verdict?.decision).toBe('block');
    expect(JSON.stringify(outcome.verdict)).toContain(forged.digest);
  });
});
