/**
 * Trust material from Blob storage (`ACR_GUARD_TRUST_BLOB_URL`), against real Azurite: a notation config
 * folder (trustpolicy.json + truststore/) uploaded as it is loads to the same trust as the files, and
 * verifies notation's signatures; layout mistakes and a missing policy are configuration errors naming the
 * setting.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { loadSignatureTrustFromBlob } from '../../src/adapters/trustStoreBlob';
import { verifyNotationSignature } from '../../src/core/signatures';
import { AZURITE_ACCOUNT, AZURITE_KEY, useAzurite } from '../support/azurite';
import { E2E_SUBJECT, VECTORS, sharedVectors, layout } from '../support/vectors';
import { describeRequiring } from '../support/required';

const d = describeRequiring(sharedVectors);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
}

d('signature trust from Blob storage (Azurite)', () => {
  const azurite = useAzurite();
  let container: ContainerClient;
  let url: string;
  beforeAll(async () => {
    url = `${azurite().blobUrl}/trust`;
    container = new ContainerClient(url, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
    await container.create();
    const upload = (name: string, bytes: Buffer) => container.getBlockBlobClient(name).uploadData(bytes);
    await upload(
      'prod/trustpolicy.json',
      readFileSync(join(VECTORS, 'notation/config/trustpolicies/trustpolicy.json')),
    );
    const store = join(VECTORS, 'notation/derived/truststore');
    for (const f of files(store)) await upload(`prod/truststore/${relative(store, f)}`, readFileSync(f));
    await upload('bad/trustpolicy.json', readFileSync(join(VECTORS, 'notation/config/trustpolicies/trustpolicy.json')));
    await upload('bad/truststore/x509/ca/e2e/nested/e2e.crt', readFileSync(join(store, 'x509/ca/e2e/e2e.crt')));
  });

  it("loads the policy and only the stores it names, and verifies notation's signature with them", async () => {
    const trust = await loadSignatureTrustFromBlob({ url: `${url}/prod` });
    expect([...trust.trustStore.certificates.keys()]).toEqual(['ca:e2e']);
    const sig = layout('e2e-valid-signature').signatures(E2E_SUBJECT.digest)[0];
    const r = verifyNotationSignature({
      signatureDigest: sig.digest,
      envelope: sig.envelope,
      envelopeMediaType: sig.envelopeMediaType,
      target: E2E_SUBJECT,
      policy: trust.trustPolicy.trustPolicies[0],
      store: trust.trustStore,
      now: new Date('2026-06-01T00:00:00Z'),
    });
    expect(r.outcome).toBe('verified');
  });

  it('a missing trustpolicy.json, a blob outside the layout, or a missing container: INVALID_CONFIG naming the setting', async () => {
    const field = 'ACR_GUARD_TRUST_BLOB_URL';
    await expect(loadSignatureTrustFromBlob({ url: `${url}/nothing-here`, field })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      field,
      message: expect.stringMatching(/trustpolicy\.json is missing/),
    });
    await expect(loadSignatureTrustFromBlob({ url: `${url}/bad`, field })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringMatching(/nested\/e2e\.crt is not in notation's trust store layout/),
    });
    await expect(
      loadSignatureTrustFromBlob({ url: `${azurite().blobUrl}/no-such-container`, field }),
    ).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/not found/) });
  });

  it('reads cosign-keys.json beside trustpolicy.json: its cosign key stores join the named entry', async () => {
    const upload = (name: string, bytes: Buffer) => container.getBlockBlobClient(name).uploadData(bytes);
    const policy = JSON.parse(readFileSync(join(VECTORS, 'notation/config/trustpolicies/trustpolicy.json'), 'utf8'));
    const entry = policy.trustPolicies[0].name as string;
    await upload('cosign/trustpolicy.json', Buffer.from(JSON.stringify(policy)));
    await upload(
      'cosign/cosign-keys.json',
      Buffer.from(JSON.stringify({ version: '1.0', cosignKeys: [{ trustPolicy: entry, stores: ['release'] }] })),
    );
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await upload(
      'cosign/truststore/cosign/release/cosign.pub',
      Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })),
    );
    await upload(
      'cosign/truststore/cosign/unnamed/cosign.pub',
      Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })),
    );
    const trust = await loadSignatureTrustFromBlob({ url: `${url}/cosign` });
    expect(trust.trustPolicy.trustPolicies[0].trustStores).toContainEqual({ type: 'cosign', name: 'release' });
    expect([...trust.trustStore.cosignKeys.keys()]).toEqual(['cosign:release']);
    await upload(
      'cosign-bad/trustpolicy.json',
      readFileSync(join(VECTORS, 'notation/config/trustpolicies/trustpolicy.json')),
    );
    await upload(
      'cosign-bad/cosign-keys.json',
      Buffer.from(JSON.stringify({ version: '1.0', cosignKeys: [{ trustPolicy: 'nope', stores: ['release'] }] })),
    );
    await expect(
      loadSignatureTrustFromBlob({ url: `${url}/cosign-bad`, field: 'ACR_GUARD_TRUST_BLOB_URL' }),
    ).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'ACR_GUARD_TRUST_BLOB_URL',
      message: expect.stringMatching(/cosign-keys\.json: cosign keys file: cosignKeys\[0\]\.trustPolicy/),
    });
  });

  it('refuses a non-loopback http URL and a URL with a query before any request', async () => {
    await expect(loadSignatureTrustFromBlob({ url: 'http://sttrust.blob.core.windows.net/trust' })).rejects.toThrow(
      /https URL/,
    );
    await expect(
      loadSignatureTrustFromBlob({ url: 'https://sttrust.blob.core.windows.net/trust?sig=x' }),
    ).rejects.toThrow(/without query/);
  });
});
