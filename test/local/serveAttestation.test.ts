/**
 * The local service with an attestation key (`acr-guard serve --attestation-key`): a push announced by the
 * registry's notification is gated and promoted; the verdict and `GET /api/images` show what the release carries
 * (its report and the signed VSA, by digest); `GET /api/attestation-key` publishes the public key, and with it
 * the VSA in the release repository checks (the same check `acr-guard verify --attestation-key` runs).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistryClient } from '../../src/adapters/registry';
import { checkVsaInRegistry } from '../../src/adapters/vsaSource';
import { startLocalStack, type LocalStack } from '../../src/local/stack';
import { pushWithReport } from '../support/pushSamples';

describe('local service with --attestation-key', () => {
  let stack: LocalStack;
  let dir: string;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-serve-vsa-'));
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    stack = await startLocalStack({
      stateDir: join(dir, 'state'),
      port: 0,
      registryPort: 0,
      seed: false,
      env: {},
      log: () => undefined,
      attestationKeyFile: keyFile,
    });
  }, 30_000);
  afterAll(async () => {
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('publishes the public key, and the promoted image carries its report and a VSA that checks with it', async () => {
    const { service, registry } = stack;
    const res = await fetch(`${service.url}/api/attestation-key`);
    expect(res.status).toBe(200);
    const pem = await res.text();
    expect(pem).toBe(publicKey.export({ type: 'spki', format: 'pem' }).toString());

    const client = createRegistryClient({ host: registry.host, plainHttp: true });
    const image = await pushWithReport(client, 'demo/proof', '1', false);
    const deadline = Date.now() + 60_000;
    let row: any;
    while (Date.now() < deadline) {
      const body = (await (await fetch(`${service.url}/api/images`)).json()) as { images: any[] };
      row = body.images.find((r) => r.digest === image.digest && r.verdict);
      if (row) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(row?.verdict).toMatchObject({ decision: 'release' });
    const proof = row.verdict.proof;
    expect(proof).toMatchObject({ copied: 1, failed: [], vsa: { attached: true, result: 'PASSED' } });
    expect(proof.items.map((i: { kind: string }) => i.kind).sort()).toEqual(['report', 'vsa']);
    const checked = await checkVsaInRegistry(client, 'release/demo/proof', {
      digest: image.digest,
      publicKey: pem,
      policyHash: row.verdict.policy.hash,
    });
    expect(checked).toMatchObject({ ok: true });
  }, 90_000);
});
