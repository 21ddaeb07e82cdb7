/**
 * A release carries its proof (issue 19), end to end with the real tools: images signed by the real `notation`
 * and `cosign`, a CycloneDX report and an SBOM attached by the real `oras` (and the SBOM itself signed by
 * notation: a referrer of a referrer), gated in promote mode through the real `imageGate` orchestrator (the
 * real durable-functions replay), the real activities and adapters, on a real docker-registry 2.8 (no referrers
 * API: the release repository gets the `sha256-<hex>` fallback index). Then the stock tools verify the release
 * reference with the same trust material, and acr-guard's VSA with `cosign verify-attestation`.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { pemFileSigner } from '../../src/adapters/attestationSigner';
import { checkVsaInRegistry, fetchAttestationEnvelopes } from '../../src/adapters/vsaSource';
import { composeGateServices } from '../../src/app/compose';
import { ErrorCodes } from '../../src/core/errors';
import { MediaTypes, type ImageId } from '../../src/core/types';
import { VSA_PREDICATE_TYPE, checkVsa } from '../../src/core/vsa';
import { pushImage } from '../../src/local/ociPush';
import { sampleCycloneDx } from '../../src/local/sampleReports';
import { gateActivities } from '../../src/orchestrations/activities';
import type { GateInput, GateOutcome } from '../../src/orchestrations/imageGate';
import { replayGate } from '../support/localGate';
import { pushWithReport, reportsGatePolicy } from '../support/pushSamples';
import { useRegistry } from '../support/registry';
import { describeRequiring } from '../support/required';
import {
  cosignKeys,
  cosignSign,
  cosignVerifyAttestation as cosignVerifyAttestationOf,
  exec,
  issueLeaf,
  makeCa,
  notationHome,
  notationSign,
  notationVerify,
  orasAttach,
  signingTools,
  strictTrustPolicy,
  tool,
  type NotationHome,
} from '../support/signingTools';

const SIGNER_DN = 'x509.subject: C=US, ST=WA, L=Seattle, O=Acme, CN=acme-signer';
const VERIFIER_ID = 'https://github.com/acr-guard/acr-guard/gate';
const SPDX = 'application/spdx+json';

/** A P-256 key pair in PEM files (acr-guard's attestation key, or another one). */
function ecKeyFiles(dir: string, name: string): { key: string; pub: string; pubPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const key = join(dir, `${name}.key.pem`);
  const pub = join(dir, `${name}.pub.pem`);
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(pub, pubPem);
  return { key, pub, pubPem };
}

describeRequiring(signingTools)(
  'a release carries its proof (real notation, cosign, oras; docker-registry 2.8)',
  () => {
    const reg = useRegistry();
    let dir: string;
    let home: NotationHome;
    let cosign: { key: string; pub: string };
    let attestation: { key: string; pub: string; pubPem: string };
    let other: { key: string; pub: string; pubPem: string };
    const cosignHome = (): string => join(dir, 'cosign');

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'acr-guard-proof-'));
      const ca = await makeCa(dir, 'acme-root', '/C=US/ST=WA/O=Acme/CN=Acme Root CA');
      const leaf = await issueLeaf(dir, 'acme-signer', '/C=US/ST=WA/L=Seattle/O=Acme/CN=acme-signer', ca);
      home = await notationHome(join(dir, 'home'), {
        keys: { acme: leaf },
        caStores: { acme: [ca.cert] },
        trustPolicy: strictTrustPolicy('acme', 'acme', [SIGNER_DN]),
      });
      cosign = await cosignKeys(cosignHome());
      attestation = ecKeyFiles(dir, 'acr-guard');
      other = ecKeyFiles(dir, 'other');
    }, 120_000);
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    async function gate(image: ImageId, tag: string): Promise<GateOutcome> {
      const policy = reportsGatePolicy(reg.registry.host, 'promote');
      const services = composeGateServices({
        policy: () => policy,
        audit: new MemoryAuditStore(),
        plainHttpHosts: [reg.registry.host],
        attestation: {
          signer: pemFileSigner(attestation.key),
          verifierId: VERIFIER_ID,
          policyUri: 'file:policy/acr-guard.yaml',
        },
      });
      const input: GateInput = { image, tag, trigger: 'rescan' };
      return replayGate(gateActivities(services), input, `gate-proof-${image.digest.slice(7, 19)}`);
    }

    /** Pushes an image with a clean CycloneDX report and an SPDX SBOM attached by oras. */
    async function imageWithProof(repository: string): Promise<{ image: ImageId; ref: string }> {
      const pushed = await pushImage(reg.client, repository, { tag: 'v1', seed: `${repository} proof` });
      const ref = `${reg.registry.host}/${repository}@${pushed.digest}`;
      const cdx = join(dir, `${repository.replace(/\//g, '_')}.cdx.json`);
      writeFileSync(
        cdx,
        sampleCycloneDx({
          imageName: ref,
          digest: pushed.digest,
          scannedAt: new Date().toISOString(),
          vulnerabilities: [],
        }),
      );
      await orasAttach(ref, cdx, MediaTypes.cyclonedx, MediaTypes.cyclonedx);
      const sbom = join(dir, `${repository.replace(/\//g, '_')}.spdx.json`);
      writeFileSync(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: repository, packages: [] }));
      await orasAttach(ref, sbom, SPDX, SPDX);
      return { image: { registry: reg.registry.host, repository, digest: pushed.digest }, ref };
    }

    async function oras(args: string[]): Promise<string> {
      return (await exec(tool('oras') as string, [...args, '--plain-http'], { HOME: dir })).stdout;
    }

    async function cosignVerifyAttestation(key: string, ref: string): Promise<{ ok: boolean; out: string }> {
      try {
        const { stdout } = await cosignVerifyAttestationOf(key, VSA_PREDICATE_TYPE, ref, cosignHome());
        return { ok: true, out: stdout };
      } catch (err) {
        return { ok: false, out: (err as Error).message };
      }
    }

    it('promotes a notation-signed image with its signature, report, SBOM and the SBOM signature; notation verify, oras discover and cosign verify-attestation succeed on the release', async () => {
      const { image, ref } = await imageWithProof('team/notary');
      await notationSign(home, ref);
      // The SBOM is signed too: a referrer of a referrer travels with the release.
      const sbom = (await reg.client.listReferrers('team/notary', image.digest, SPDX))[0];
      await notationSign(home, `${reg.registry.host}/team/notary@${sbom.digest}`);

      const outcome = await gate(image, 'v1');
      expect(outcome.verdict!.decision).toBe('release');
      const proof = outcome.apply?.proof;
      expect(proof?.failed).toEqual([]);
      // notation signature + CycloneDX report + SBOM + the SBOM's signature.
      expect(proof?.copied).toBe(4);
      expect(proof?.items.map((i) => i.kind).sort()).toEqual(['report', 'sbom', 'signature', 'signature', 'vsa']);
      expect(proof?.vsa).toMatchObject({ attached: true, result: 'PASSED' });
      expect(outcome.verdict!.proof).toEqual(proof);
      expect(outcome.verdict!.checks.find((c) => c.name === 'proof')).toMatchObject({ status: 'pass' });

      const releaseRef = `${reg.registry.host}/release/team/notary@${image.digest}`;
      expect(await notationVerify(home, releaseRef)).toBe(true);
      // The fallback index the promotion wrote lists the report and the SBOM as referrers of the release digest.
      const discovered = JSON.parse(await oras(['discover', '--format', 'json', releaseRef])) as {
        manifests?: Array<{ artifactType: string; digest: string }>;
        referrers?: Array<{ artifactType: string; digest: string }>;
      };
      const types = (discovered.manifests ?? discovered.referrers ?? []).map((m) => m.artifactType).sort();
      expect(types).toEqual([MediaTypes.cyclonedx, SPDX, MediaTypes.notarySignature].sort());
      // The SBOM's own signature is listed under the SBOM in the release repository, and notation verifies it there.
      expect(await notationVerify(home, `${reg.registry.host}/release/team/notary@${sbom.digest}`)).toBe(true);

      const verified = await cosignVerifyAttestation(attestation.pub, releaseRef);
      expect(verified.ok).toBe(true);
      const refused = await cosignVerifyAttestation(other.pub, releaseRef);
      expect(refused.ok).toBe(false);

      // The consumer check (acr-guard verify's): signed by the key, this digest, PASSED, the current policy hash.
      const want = { digest: image.digest, publicKey: attestation.pubPem, policyHash: outcome.verdict!.policy.hash };
      const ok = await checkVsaInRegistry(reg.client, 'release/team/notary', want);
      expect(ok).toMatchObject({ ok: true });
      if (ok.ok) {
        expect(ok.statement.predicate.resourceUri).toBe(`${reg.registry.host}/release/team/notary@${image.digest}`);
        expect(ok.statement.predicate.inputAttestations.map((a) => `sha256:${a.digest.sha256}`).sort()).toEqual(
          proof?.items
            .filter((i) => i.kind !== 'vsa')
            .map((i) => i.digest)
            .sort(),
        );
      }
      expect(
        await checkVsaInRegistry(reg.client, 'release/team/notary', { ...want, publicKey: other.pubPem }),
      ).toMatchObject({
        ok: false,
        code: ErrorCodes.VSA_REJECTED,
        reason: expect.stringMatching(/does not verify with the given key|no signature/),
      });
      expect(
        await checkVsaInRegistry(reg.client, 'release/team/notary', { ...want, policyHash: 'f'.repeat(64) }),
      ).toMatchObject({ ok: false, reason: expect.stringMatching(/policy hash/) });
    }, 180_000);

    it('promotes a cosign-signed image with its sha256-<hex>.sig tag; cosign verify succeeds on the release reference', async () => {
      const { image, ref } = await imageWithProof('team/cosigned');
      await cosignSign(cosign.key, ref, cosignHome());
      const outcome = await gate(image, 'v1');
      expect(outcome.verdict!.decision).toBe('release');
      expect(outcome.apply?.proof?.failed).toEqual([]);
      expect(outcome.apply?.proof?.items).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'signature', tag: `${image.digest.replace(':', '-')}.sig` }),
        ]),
      );
      const releaseRef = `${reg.registry.host}/release/team/cosigned@${image.digest}`;
      await exec(
        tool('cosign') as string,
        [
          'verify',
          '--key',
          cosign.pub,
          '--insecure-ignore-tlog=true',
          '--allow-http-registry',
          '--allow-insecure-registry',
          releaseRef,
        ],
        { HOME: cosignHome() },
      );
      expect((await cosignVerifyAttestation(attestation.pub, releaseRef)).ok).toBe(true);
    }, 180_000);

    it('a block copies nothing into the release repository and leaves a VSA saying FAILED on the pushed digest', async () => {
      const image = await pushWithReport(reg.client, 'team/blocked', 'v1', true);
      const outcome = await gate(image, 'v1');
      expect(outcome.verdict!.decision).toBe('block');
      expect(outcome.apply?.proof).toMatchObject({ copied: 0, failed: [], vsa: { attached: true, result: 'FAILED' } });
      // Nothing under release/: no manifest, no referrer, no tag.
      const catalog = JSON.parse(await (await fetch(`${reg.registry.url}/v2/_catalog`)).text()) as {
        repositories: string[];
      };
      expect(catalog.repositories).not.toContain('release/team/blocked');
      // The record: signed by acr-guard's key (cosign verifies it), and it says FAILED, so a consumer refuses it.
      const pushedRef = `${reg.registry.host}/team/blocked@${image.digest}`;
      const verified = await cosignVerifyAttestation(attestation.pub, pushedRef);
      expect(verified.ok).toBe(true);
      const [envelope] = await fetchAttestationEnvelopes(reg.client, 'team/blocked', image.digest);
      expect(checkVsa(envelope, { digest: image.digest, publicKey: attestation.pubPem })).toMatchObject({
        ok: false,
        reason: 'verificationResult is "FAILED", not "PASSED"',
      });
    }, 180_000);
  },
);
