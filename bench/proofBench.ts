/**
 * `npm run bench:proof`: what promotion with the release's proof costs per image against the raw manifest copy,
 * measured in the same run on a loopback docker-registry 2.8 (no referrers API: listings through the
 * `sha256-<hex>` fallback index, which the copy also writes in the release repository).
 *
 * For each image with 0, 3 and 20 referrers (SBOM-like artifacts attached with `subject`, as `oras attach` does):
 *   raw    the manifest and its blobs copied by digest (what promotion did before: `copyByDigest`);
 *   proof  raw + the referrers graph walked and copied (manifests, blobs mounted, fallback index) + cosign tags asked;
 *   vsa    proof + the signed VSA (ECDSA P-256 PEM signer) attached as a cosign attestation.
 * Each image is promoted into a fresh release repository (nothing already there), sequentially.
 *
 *   BENCH_PROOF_IMAGES=10 npm run bench:proof
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pemFileSigner } from '../src/adapters/attestationSigner';
import type { RegistryClient } from '../src/adapters/ports';
import { createRegistryClient } from '../src/adapters/registry';
import type { Verdict } from '../src/core/types';
import { buildVsaStatement } from '../src/core/vsa';
import { attachVsa, copyReferrerGraph } from '../src/jobs/releaseProof';
import { startRegistry } from '../src/local/registryServer';
import { pushArtifact, pushImage } from '../src/local/ociPush';
import { intFromEnv, machineLine, median } from './benchEnv';

async function rawCopy(client: RegistryClient, from: string, target: string, digest: string): Promise<void> {
  const manifest = await client.getManifest(from, digest);
  for (const blob of manifest.blobs) await client.mountBlob(target, blob.digest, from);
  await client.putManifest(target, digest, manifest.bytes, manifest.mediaType);
}

async function main(): Promise<void> {
  const images = intFromEnv('BENCH_PROOF_IMAGES', 10, 200);
  const dir = mkdtempSync(join(tmpdir(), 'acr-guard-proof-bench-'));
  const keyFile = join(dir, 'key.pem');
  writeFileSync(
    keyFile,
    generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  const signer = pemFileSigner(keyFile);
  const registry = await startRegistry();
  try {
    const client = createRegistryClient({ host: registry.host, plainHttp: true });
    console.log(`${machineLine()}; registry: docker-registry 2.8 on loopback (fallback tag schema)`);
    console.log(`${images} images per row, each promoted into a fresh release repository; median ms per image\n`);
    console.log('referrers |   raw copy | + proof copy (ratio) | + proof + VSA (ratio) | added by proof+VSA');
    for (const referrers of [0, 3, 20]) {
      const raw: number[] = [];
      const proof: number[] = [];
      const vsa: number[] = [];
      for (let i = 0; i < images; i++) {
        const repo = `bench/r${referrers}`;
        const pushed = await pushImage(client, repo, { seed: `bench ${referrers} ${i}` });
        const subject = { mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size };
        for (let r = 0; r < referrers; r++)
          await pushArtifact(client, repo, {
            subject,
            artifactType: 'application/spdx+json',
            blob: Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: `sbom ${i} ${r}` })),
            blobMediaType: 'application/spdx+json',
          });
        // Warm the client's knowledge that this registry has no referrers API (a long-running host knows it).
        await client.listReferrers(repo, pushed.digest);
        let t = performance.now();
        await rawCopy(client, repo, `raw/r${referrers}/${i}`, pushed.digest);
        raw.push(performance.now() - t);
        t = performance.now();
        await rawCopy(client, repo, `proof/r${referrers}/${i}`, pushed.digest);
        const p = await copyReferrerGraph(client, {
          from: repo,
          target: `proof/r${referrers}/${i}`,
          roots: [pushed.digest],
        });
        proof.push(performance.now() - t);
        if (p.copied !== referrers || p.failed.length > 0)
          throw new Error(`proof copy of ${referrers} referrers copied ${p.copied}, failed ${p.failed.length}`);
        t = performance.now();
        const target = `vsa/r${referrers}/${i}`;
        await rawCopy(client, repo, target, pushed.digest);
        const q = await copyReferrerGraph(client, { from: repo, target, roots: [pushed.digest] });
        const verdict: Verdict = {
          image: { registry: registry.host, repository: repo, digest: pushed.digest },
          decision: 'release',
          summary: 'released',
          checks: [],
          findingCounts: {},
          rule: 'gate[0]',
          policy: { version: 1, hash: 'a'.repeat(64) },
          decidedAt: new Date().toISOString(),
        };
        const statement = buildVsaStatement({
          verdict,
          repository: `${registry.host}/${target}`,
          verifierId: 'https://github.com/acr-guard/acr-guard',
          policyUri: 'file:policy/acr-guard.yaml',
          inputAttestations: q.items.map((it) => ({ uri: it.digest, digest: { sha256: it.digest.slice(7) } })),
        });
        await attachVsa(client, target, pushed.digest, statement, signer);
        vsa.push(performance.now() - t);
      }
      const r = median(raw);
      const p = median(proof);
      const v = median(vsa);
      console.log(
        `${String(referrers).padStart(9)} | ${r.toFixed(1).padStart(10)} | ${p.toFixed(1).padStart(10)} (${(p / r).toFixed(2)}×) | ${v.toFixed(1).padStart(11)} (${(v / r).toFixed(2)}×) | ${(v - r).toFixed(1)} ms`,
      );
    }
  } finally {
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
