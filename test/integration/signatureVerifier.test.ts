/**
 * The gate's signature verifier against a real docker-registry on loopback, fed with real notation output:
 * notation's e2e OCI layouts (../shared/vectors) pushed as they are, so discovery goes through the referrers
 * tag-schema fallback this registry needs. Also the fail-closed answers: no trust material, an unknown trust
 * policy name, a trust store that fails to load (retried on the next call).
 */
import { join } from 'node:path';
import {
  createSignatureVerifier,
  NO_TRUST_CONFIGURED,
  type SignatureTrust,
} from '../../src/adapters/signatureVerifier';
import { loadSignatureTrust } from '../../src/adapters/trustStoreFiles';
import { MAX_ENVELOPE_BYTES, NotationMediaTypes } from '../../src/core/signatures';
import { verifySignatures } from '../../src/orchestrations/activities';
import type { GateServices } from '../../src/orchestrations/services';
import { E2E_SUBJECT, VECTORS, sharedVectors, layout, pushLayout, vector } from '../support/vectors';
import { describeRequiring } from '../support/required';
import { pushArtifact } from '../../src/local/ociPush';
import { useRegistry } from '../support/registry';

const d = describeRequiring(sharedVectors);

d('signature verifier on a real registry with notation-made signatures', () => {
  const reg = useRegistry();
  let trust: SignatureTrust;
  const NOW = () => new Date('2026-06-01T00:00:00Z');
  beforeAll(async () => {
    trust = await loadSignatureTrust(
      join(VECTORS, 'notation/config/trustpolicies/trustpolicy.json'),
      join(VECTORS, 'notation/derived/truststore'),
    );
    for (const name of ['e2e', 'e2e-valid-signature', 'e2e-expired-signature', 'e2e-invalid-signature'])
      await pushLayout(reg.client, `vectors/${name}`, name);
  });
  const request = async (name: string, trustPolicy?: string) => ({
    image: { registry: reg.registry.host, repository: `vectors/${name}`, digest: E2E_SUBJECT.digest },
    manifest: await reg.client.getManifest(`vectors/${name}`, E2E_SUBJECT.digest),
    trustPolicy,
  });

  it('verifies the notation signature found through the referrers tag schema', async () => {
    const verify = createSignatureVerifier({ registry: () => reg.client, trust, now: NOW });
    const r = await verify(await request('e2e-valid-signature'));
    expect(r.status).toBe('verified');
    expect(r.signatures[0].digest).toBe(layout('e2e-valid-signature').signatures(E2E_SUBJECT.digest)[0].digest);
    // The cosign tag was probed too (and absent): both discoveries ran.
    expect(reg.requests.some((q) => q.includes(`/manifests/sha256-${E2E_SUBJECT.digest.slice(7)}.sig`))).toBe(true);
  });

  it.each([
    ['e2e', 'failed', /no signature is associated/],
    ['e2e-expired-signature', 'failed', /expiry: digital signature has expired/],
    ['e2e-invalid-signature', 'failed', /is not a signature envelope/],
  ])('%s: %s', async (name, status, reason) => {
    const verify = createSignatureVerifier({ registry: () => reg.client, trust, now: NOW });
    const r = await verify(await request(name));
    expect(r.status).toBe(status);
    expect(r.reason).toMatch(reason);
  });

  it('fails closed: no trust material, or a trust policy name the file does not define, is inconclusive', async () => {
    const none = await createSignatureVerifier({ registry: () => reg.client })(await request('e2e-valid-signature'));
    expect(none).toEqual({ status: 'inconclusive', reason: NO_TRUST_CONFIGURED, signatures: [] });
    const unknown = await createSignatureVerifier({ registry: () => reg.client, trust, now: NOW })(
      await request('e2e-valid-signature', 'no-such-policy'),
    );
    expect(unknown.status).toBe('inconclusive');
    expect(unknown.reason).toMatch(/names trust policy "no-such-policy", which the trust policy file does not define/);
  });

  it('a trust store that fails to load makes the activity inconclusive (naming the setting), and is retried next time', async () => {
    let attempts = 0;
    const verify = createSignatureVerifier({
      registry: () => reg.client,
      now: NOW,
      trust: async () => {
        attempts++;
        if (attempts === 1)
          return loadSignatureTrust(join(VECTORS, 'notation/config/trustpolicies/trustpolicy.json'), '/nonexistent', {
            policy: 'ACR_GUARD_TRUST_POLICY_FILE',
            store: 'ACR_GUARD_TRUST_STORE_DIR',
          });
        return trust;
      },
    });
    const services = { verifySignatures: verify } as unknown as GateServices;
    const first = await verifySignatures(services, await request('e2e-valid-signature'));
    expect(first.status).toBe('inconclusive');
    expect(first.reason).toMatch(/INVALID_CONFIG: ACR_GUARD_TRUST_STORE_DIR/);
    expect((await verifySignatures(services, await request('e2e-valid-signature'))).status).toBe('verified');
    expect(attempts).toBe(2);
  });

  it('hostile extra referrers claiming to be signatures (oversize, garbage JWS, garbage COSE) are failed candidates; the valid one still verifies', async () => {
    await pushLayout(reg.client, 'vectors/hostile', 'e2e-valid-signature');
    const attach = (blob: Buffer, blobMediaType: string) =>
      pushArtifact(reg.client, 'vectors/hostile', {
        subject: E2E_SUBJECT,
        artifactType: NotationMediaTypes.signature,
        blob,
        blobMediaType,
      });
    // One byte over the envelope bound: the registry serves it, the verifier must not read it all or give up.
    const oversize = await attach(Buffer.alloc(MAX_ENVELOPE_BYTES + 1, 0x7b), NotationMediaTypes.jws);
    const jws = await attach(Buffer.from('{"payload": "e30", "protected": '), NotationMediaTypes.jws);
    const cose = await attach(
      Buffer.from([0xd2, 0x84, 0xff, 0x00, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      NotationMediaTypes.cose,
    );
    const verify = createSignatureVerifier({ registry: () => reg.client, trust, now: NOW });
    const started = Date.now();
    const r = await verify(await request('hostile'));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.status).toBe('verified');
    const byDigest = new Map(r.signatures.map((sig) => [sig.digest, sig]));
    expect(byDigest.get(layout('e2e-valid-signature').signatures(E2E_SUBJECT.digest)[0].digest)?.outcome).toBe(
      'verified',
    );
    for (const hostile of [oversize, jws, cose]) expect(byDigest.get(hostile.digest)?.outcome).toBe('failed');
    expect(byDigest.get(oversize.digest)?.reason).toMatch(/unreadable signature \(MALFORMED\)/);
    // Through the gate's activity too: verified, not "inconclusive: verification failed to run".
    expect(
      (await verifySignatures({ verifySignatures: verify } as unknown as GateServices, await request('hostile')))
        .status,
    ).toBe('verified');
  });

  it('an image whose only signature referrer is hostile fails (never verified, never an error)', async () => {
    await pushLayout(reg.client, 'vectors/only-hostile', 'e2e');
    await pushArtifact(reg.client, 'vectors/only-hostile', {
      subject: E2E_SUBJECT,
      artifactType: NotationMediaTypes.signature,
      blob: Buffer.alloc(MAX_ENVELOPE_BYTES + 1, 0x20),
      blobMediaType: NotationMediaTypes.jws,
    });
    const r = await createSignatureVerifier({ registry: () => reg.client, trust, now: NOW })(
      await request('only-hostile'),
    );
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/1 signature\(s\) found, none verified/);
  });

  it('a sigstore bundle attached as a referrer is seen and answered inconclusive (never verified, never ignored)', async () => {
    await pushLayout(reg.client, 'vectors/bundle', 'e2e');
    const bundle = vector('cosign/pkg/cosign/testdata/oci-attestation.sigstore.json');
    await pushArtifact(reg.client, 'vectors/bundle', {
      subject: E2E_SUBJECT,
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      blob: bundle,
      blobMediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    });
    const r = await createSignatureVerifier({ registry: () => reg.client, trust, now: NOW })(await request('bundle'));
    expect(r.status).toBe('inconclusive');
    expect(r.reason).toMatch(
      /sigstore bundle \(application\/vnd\.dev\.sigstore\.bundle\.v0\.3\+json\) is not verified/,
    );
  });
});
