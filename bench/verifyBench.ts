/**
 * `npm run bench:verify`: signs N images in a loopback docker-registry with the real `notation`, then
 * verifies them (a) in-process with the gate's verifier and a warm trust store (registry round trips
 * included), (b) in-process over envelope bytes already fetched (the pure verification cost), and (c) with
 * `notation verify` run once per image — the baseline, measured in the same run on the same images. The floor
 * is the same registry reads the in-process verifier makes (referrers discovery and the cosign tag probe at once,
 * then each notation signature's manifest and envelope), through the same registry client, in the same order
 * and at the same concurrency (one image at a time), without verifying (issue 22: a floor of raw `fetch`
 * requests on another HTTP stack was slower than the verifier itself, so it was not a floor). The raw-HTTP
 * timing stays as a reference line.
 *
 *   BENCH_SIGNED_IMAGES=20 npm run bench:verify
 */
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ImageId, ResolvedManifest } from '../src/core/types';
import {
  MAX_ENVELOPE_BYTES,
  NotationMediaTypes,
  cosignSignatureTag,
  verifyNotationSignature,
} from '../src/core/signatures';
import { ErrorCodes, isGuardError } from '../src/core/errors';
import { createRegistryClient } from '../src/adapters/registry';
import { createSignatureVerifier } from '../src/adapters/signatureVerifier';
import { loadSignatureTrust } from '../src/adapters/trustStoreFiles';
import { startRegistry } from '../src/local/registryServer';
import { pushImage } from '../src/local/ociPush';
import { intFromEnv, machineLine } from './benchEnv';
import {
  haveSigningTools,
  issueLeaf,
  makeCa,
  notationHome,
  notationSign,
  notationVerify,
} from '../test/support/signingTools';

/** Runs `work` over items sequentially for at least `minMs` (whole rounds); returns verifications/s. */
async function rate<T>(
  items: T[],
  minMs: number,
  work: (item: T) => Promise<void> | void,
): Promise<{ perSecond: number; runs: number }> {
  let runs = 0;
  const start = performance.now();
  do {
    for (const item of items) {
      await work(item);
      runs++;
    }
  } while (performance.now() - start < minMs);
  return { perSecond: runs / ((performance.now() - start) / 1000), runs };
}

async function main(): Promise<void> {
  if (!haveSigningTools) {
    console.log('bench:verify skipped: notation is not in .tools/bin (run scripts/ensure-tools.sh with Go installed)');
    return;
  }
  const n = intFromEnv('BENCH_SIGNED_IMAGES', 20, 500);
  const dir = mkdtempSync(join(tmpdir(), 'acr-guard-verify-bench-'));
  const registry = await startRegistry();
  try {
    const client = createRegistryClient({ host: registry.host, plainHttp: true });
    const ca = await makeCa(dir, 'bench-root', '/C=US/ST=WA/O=Bench/CN=Bench Root CA');
    const leaf = await issueLeaf(dir, 'bench-signer', '/C=US/ST=WA/O=Bench/CN=bench-signer', ca);
    const home = await notationHome(join(dir, 'home'), {
      keys: { bench: leaf },
      caStores: { bench: [ca.cert] },
      trustPolicy: {
        version: '1.0',
        trustPolicies: [
          {
            name: 'bench',
            registryScopes: ['*'],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:bench'],
            trustedIdentities: ['x509.subject:C=US, ST=WA, O=Bench, CN=bench-signer'],
          },
        ],
      },
    });
    const images: Array<{ image: ImageId; manifest: ResolvedManifest; ref: string }> = [];
    for (let i = 0; i < n; i++) {
      const pushed = await pushImage(client, 'bench/signed', { seed: `signed image ${i}` });
      const ref = `${registry.host}/bench/signed@${pushed.digest}`;
      await notationSign(home, ref);
      const image = { registry: registry.host, repository: 'bench/signed', digest: pushed.digest };
      images.push({ image, manifest: await client.getManifest(image.repository, image.digest), ref });
    }

    const trust = await loadSignatureTrust(home.trustPolicyFile, home.trustStore);
    const verify = createSignatureVerifier({ registry: () => client, trust });
    const policy = trust.trustPolicy.trustPolicies[0];
    // Envelopes fetched once for the pure-verification line.
    const envelopes = await Promise.all(
      images.map(async ({ image, manifest }) => {
        const [sig] = await client.listReferrers(image.repository, image.digest, NotationMediaTypes.signature);
        const sigManifest = await client.getManifest(image.repository, sig.digest);
        const layer = sigManifest.blobs.find((b) => b.mediaType === NotationMediaTypes.jws);
        return { sig: sig.digest, manifest, envelope: await client.getBlob(image.repository, layer?.digest as string) };
      }),
    );

    for (const { image, manifest } of images) {
      const r = await verify({ image, manifest });
      if (r.status !== 'verified')
        throw new Error(`in-process verification of ${image.digest} did not verify: ${r.reason}`);
    }
    const inProcess = await rate(images, 2000, async ({ image, manifest }) => {
      await verify({ image, manifest });
    });
    const now = new Date();
    const pure = await rate(envelopes, 1000, ({ sig, manifest, envelope }) => {
      verifyNotationSignature({
        signatureDigest: sig,
        envelope,
        envelopeMediaType: NotationMediaTypes.jws,
        target: { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size },
        policy,
        store: trust.trustStore,
        now,
      });
    });
    // The floor: exactly the reads of src/adapters/signatureVerifier.ts (verifyAll), same client, same shape
    // (discovery and cosign probe in parallel, then the signatures in parallel, each manifest then envelope),
    // one image at a time as the in-process line runs, and no verification.
    const floor = await rate(images, 2000, async ({ image }) => {
      const [referrers] = await Promise.all([
        client.listReferrers(image.repository, image.digest),
        client.getManifest(image.repository, cosignSignatureTag(image.digest)).catch((err: unknown) => {
          if (!isGuardError(err, ErrorCodes.NOT_FOUND)) throw err;
          return undefined;
        }),
      ]);
      await Promise.all(
        referrers
          .filter((r) => r.artifactType === NotationMediaTypes.signature)
          .map(async (r) => {
            const sig = await client.getManifest(image.repository, r.digest);
            const configDigest = (sig.json.config as { digest?: string } | undefined)?.digest;
            const layer = sig.blobs.find((b) => b.digest !== configDigest);
            await client.getBlob(image.repository, layer?.digest as string, MAX_ENVELOPE_BYTES);
          }),
      );
    });
    // For reference: the same requests raw over HTTP (global fetch), sequential as the verifier's dependent
    // requests are. Not the floor: another HTTP stack, and it skips the client's bounds and digest checks.
    const raw = await rate(
      envelopes.map((e, i) => ({ ...e, image: images[i].image })),
      1000,
      async ({ sig, image }) => {
        const base = `${registry.url}/v2/${image.repository}`;
        const hex = image.digest.slice(7);
        const accept = {
          accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json',
        };
        const [index] = await Promise.all([
          fetch(`${base}/manifests/sha256-${hex}`, { headers: accept }),
          fetch(`${base}/manifests/sha256-${hex}.sig`, { headers: accept }).then((r) => r.arrayBuffer()),
        ]);
        await index.arrayBuffer();
        const manifest = (await (await fetch(`${base}/manifests/${sig}`, { headers: accept })).json()) as {
          layers: Array<{ digest: string }>;
        };
        await (await fetch(`${base}/blobs/${manifest.layers[0].digest}`)).arrayBuffer();
      },
    );
    const cli = await rate(images, 0, async ({ ref }) => {
      if (!(await notationVerify(home, ref))) throw new Error(`notation verify refused ${ref}`);
    });

    console.log(machineLine());
    console.log(
      `images: ${n} signed by notation (JWS, RSA-2048 leaf + CA), loopback docker-registry ${registry.host}, sequential`,
    );
    console.log(
      `in-process, warm trust store, with registry round trips ${inProcess.perSecond.toFixed(1).padStart(9)} verifications/s (${inProcess.runs} runs)`,
    );
    console.log(
      `the same reads, same client and concurrency (the floor) ${floor.perSecond.toFixed(1).padStart(9)} images read/s (${floor.runs} runs)`,
    );
    console.log(
      `the same requests raw over fetch (reference, not floor) ${raw.perSecond.toFixed(1).padStart(9)} images read/s (${raw.runs} runs)`,
    );
    console.log(
      `in-process, envelope bytes only                         ${pure.perSecond.toFixed(1).padStart(9)} verifications/s (${pure.runs} runs)`,
    );
    console.log(
      `notation verify, one process per image (baseline)       ${cli.perSecond.toFixed(1).padStart(9)} verifications/s (${cli.runs} runs)`,
    );
    console.log(
      `ratio in-process / notation verify: ${(inProcess.perSecond / cli.perSecond).toFixed(1)}x (envelope only: ${(pure.perSecond / cli.perSecond).toFixed(1)}x); in-process reaches ${((100 * inProcess.perSecond) / floor.perSecond).toFixed(0)}% of the floor (same reads, no verification)`,
    );
  } finally {
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
