/**
 * The gate over image indexes on a real docker-registry on loopback, through the real replay driver and the
 * real reports source: an index child is skipped as an attestation only by its own content (never by the
 * label the index gives it), an unreadable child blocks, and a hostile index (10,000 entries, 3,000 distinct,
 * too many platforms, nested) blocks quickly with INDEX_TOO_LARGE, without reading children.
 */
import type { RegistryClient } from '../../src/adapters/ports';
import { digestOf } from '../../src/adapters/registry';
import { IN_TOTO_MEDIA_TYPE, MAX_INDEX_ENTRIES, MAX_INDEX_PLATFORMS } from '../../src/core/indexChildren';
import { loadPolicy } from '../../src/core/policy';
import { MediaTypes, type Descriptor, type ImageId } from '../../src/core/types';
import { pushImage, pushIndex } from '../../src/local/ociPush';
import type { GateOutcome } from '../../src/orchestrations/imageGate';
import { inconclusiveSignatures as notYetVerifySignatures } from '../support/durableGateFakes';
import { gatePushed } from '../support/localGate';
import { attachReport, CRITICAL_OPENSSL, pushWithReport } from '../support/pushSamples';
import { useRegistry } from '../support/registry';

jest.setTimeout(120_000);

const AMD64 = { os: 'linux', architecture: 'amd64' };
const UNKNOWN = { os: 'unknown', architecture: 'unknown' };
/** The label BuildKit puts on an attestation child (and an attacker can put on anything). */
const ATTESTATION_LABEL = { 'vnd.docker.reference.type': 'attestation-manifest' };

/** A time and peak-RSS measurement of one gate run (printed for the report). */
async function measured(label: string, work: () => Promise<GateOutcome>): Promise<GateOutcome> {
  const started = Date.now();
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  try {
    return await work();
  } finally {
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    console.log(`${label}: ${Date.now() - started} ms, peak RSS ${Math.round(peak / 2 ** 20)} MiB`);
  }
}

describe('imageGate over indexes (real registry, replay driver)', () => {
  const reg = useRegistry();
  const now = new Date();

  function gate(image: ImageId, instanceId: string): Promise<GateOutcome> {
    const policy = loadPolicy(
      `version: 1
registries: [{ host: "${reg.registry.host}", apply: promote }]
gate:
  - scope: "team/**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
    promote: { repository: "release/{repository}" }
`,
      'test policy',
    );
    return gatePushed(image, instanceId, { policy, startTime: now, verifySignatures: notYetVerifySignatures });
  }

  async function promoted(client: RegistryClient, repository: string): Promise<string[]> {
    try {
      return (await client.listTags(`release/${repository}`)).items;
    } catch {
      return []; // the repository does not exist: nothing was promoted
    }
  }

  /** A BuildKit-shaped attestation manifest: an image config and in-toto statement layers, nothing runnable. */
  async function pushAttestation(client: RegistryClient, repository: string, subject: string): Promise<Descriptor> {
    const statement = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v0.1',
        predicateType: 'https://slsa.dev/provenance/v0.2',
        subject: [{ digest: { sha256: subject.slice(7) } }],
      }),
    );
    const config = Buffer.from(
      JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [] } }),
    );
    const layer = {
      mediaType: IN_TOTO_MEDIA_TYPE,
      digest: await client.putBlob(repository, statement),
      size: statement.length,
      annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' },
    };
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: {
          mediaType: MediaTypes.ociConfig,
          digest: await client.putBlob(repository, config),
          size: config.length,
        },
        layers: [layer],
      }),
    );
    const digest = await client.putManifest(repository, digestOf(body), body, MediaTypes.ociManifest);
    return {
      mediaType: MediaTypes.ociManifest,
      digest,
      size: body.length,
      platform: UNKNOWN,
      annotations: { ...ATTESTATION_LABEL, 'vnd.docker.reference.digest': subject },
    };
  }

  it('blocks an index that labels a vulnerable image "attestation" and promotes nothing', async () => {
    const { client } = reg;
    const clean = await pushWithReport(client, 'team/smuggle', 'a', false);
    const vulnerable = await pushWithReport(client, 'team/smuggle', 'v', true);
    const a = await client.getManifest('team/smuggle', clean.digest);
    const v = await client.getManifest('team/smuggle', vulnerable.digest);
    const index = await pushIndex(client, 'team/smuggle', {
      tag: '1.0',
      manifests: [
        { mediaType: a.mediaType, digest: a.digest, size: a.size, platform: AMD64 },
        { mediaType: v.mediaType, digest: v.digest, size: v.size, platform: UNKNOWN, annotations: ATTESTATION_LABEL },
      ],
    });

    const outcome = await gate(
      { registry: reg.registry.host, repository: 'team/smuggle', digest: index.digest },
      'smuggle',
    );

    expect(outcome.verdict?.decision).toBe('block');
    // The labelled child was gated as the platform image it is: its critical finding blocks the index.
    const failing = outcome.verdict?.checks.filter((c) => c.status === 'fail') ?? [];
    expect(failing.map((c) => c.manifest)).toContain(v.digest);
    expect(JSON.stringify(outcome.verdict)).toContain('CVE-2024-6119');
    expect(await promoted(client, 'team/smuggle')).toEqual([]);
  });

  it('still skips a real BuildKit attestation child (in-toto layers, unknown/unknown) and releases the index', async () => {
    const { client } = reg;
    const clean = await pushWithReport(client, 'team/attested', 'a', false);
    const a = await client.getManifest('team/attested', clean.digest);
    const attestation = await pushAttestation(client, 'team/attested', a.digest);
    const index = await pushIndex(client, 'team/attested', {
      tag: '1.0',
      manifests: [{ mediaType: a.mediaType, digest: a.digest, size: a.size, platform: AMD64 }, attestation],
    });

    const outcome = await gate(
      { registry: reg.registry.host, repository: 'team/attested', digest: index.digest },
      'attested',
    );

    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome.verdict?.checks.some((c) => c.manifest === attestation.digest)).toBe(false);
    expect(outcome.apply).toMatchObject({ mode: 'promote', ok: true });
    // The platform child's report travels with the release (issue 19): the release repository lists it in the
    // child's fallback index (docker-registry 2.8 has no referrers API).
    expect((await promoted(client, 'team/attested')).sort()).toEqual(['1.0', a.digest.replace(':', '-')].sort());
    expect(outcome.apply?.proof).toMatchObject({
      copied: 1,
      failed: [],
      items: [{ kind: 'report', subject: a.digest }],
    });
  });

  it('blocks an index whose child cannot be read (deleted: 404), naming the child', async () => {
    const { client } = reg;
    const clean = await pushWithReport(client, 'team/holes', 'a', false);
    const gone = await pushImage(client, 'team/holes', {
      layers: [Buffer.from('soon gone')],
      platform: { os: 'linux', architecture: 'arm64' },
    });
    const a = await client.getManifest('team/holes', clean.digest);
    const index = await pushIndex(client, 'team/holes', {
      tag: '1.0',
      manifests: [
        { mediaType: a.mediaType, digest: a.digest, size: a.size, platform: AMD64 },
        { ...gone, platform: UNKNOWN, annotations: ATTESTATION_LABEL },
      ],
    });
    await client.deleteManifest('team/holes', gone.digest);

    const outcome = await gate(
      { registry: reg.registry.host, repository: 'team/holes', digest: index.digest },
      'holes',
    );

    expect(outcome.verdict?.decision).toBe('block');
    const check = outcome.verdict?.checks.find((c) => c.name === 'manifest');
    expect(check?.details).toMatchObject({ step: 'resolveManifest', code: 'NOT_FOUND' });
    expect(check?.reason).toContain(`index child ${gone.digest}`);
    expect(check?.reason).toContain('cannot be read');
    expect(await promoted(client, 'team/holes')).toEqual([]);
  });

  it('blocks an index nested in an index (the child index is not followed)', async () => {
    const { client } = reg;
    const clean = await pushWithReport(client, 'team/nested', 'a', false);
    const a = await client.getManifest('team/nested', clean.digest);
    const inner = await pushIndex(client, 'team/nested', {
      manifests: [{ mediaType: a.mediaType, digest: a.digest, size: a.size, platform: AMD64 }],
    });
    const outer = await pushIndex(client, 'team/nested', { tag: '1.0', manifests: [{ ...inner, platform: AMD64 }] });

    const outcome = await gate(
      { registry: reg.registry.host, repository: 'team/nested', digest: outer.digest },
      'nested',
    );

    expect(outcome.verdict?.decision).toBe('block');
    expect(outcome.verdict?.checks.find((c) => c.name === 'manifest')?.details).toMatchObject({
      code: 'INDEX_TOO_LARGE',
    });
    expect(await promoted(client, 'team/nested')).toEqual([]);
  });

  it('gates (and blocks) a vulnerable image that carries a `subject` to pass as a referrer, instead of ignoring it', async () => {
    const { client } = reg;
    const repo = 'team/dressed';
    const clean = await pushWithReport(client, repo, 'a', false);
    const base = await client.getManifest(
      repo,
      (await pushImage(client, repo, { layers: [Buffer.from('dressed as a referrer')] })).digest,
    );
    const body = Buffer.from(
      JSON.stringify({
        ...base.json,
        artifactType: MediaTypes.sarif,
        subject: { mediaType: MediaTypes.ociManifest, digest: clean.digest, size: 1 },
      }),
    );
    const digest = await client.putManifest(repo, digestOf(body), body, MediaTypes.ociManifest);
    await attachReport(
      client,
      repo,
      { mediaType: MediaTypes.ociManifest, digest, size: body.length },
      { scannedAt: now.toISOString(), vulnerabilities: [CRITICAL_OPENSSL] },
    );

    const outcome = await gate({ registry: reg.registry.host, repository: repo, digest }, 'dressed');

    expect(outcome.status).toBe('decided');
    expect(outcome.verdict?.decision).toBe('block');
    expect(JSON.stringify(outcome.verdict)).toContain('CVE-2024-6119');
  });

  it('gates (and blocks) an index that carries a subject and an artifactType when a child is runnable', async () => {
    const { client } = reg;
    const repo = 'team/dressed-index';
    const clean = await pushWithReport(client, repo, 'a', false);
    const vulnerable = await pushWithReport(client, repo, 'v', true);
    const child = await client.getManifest(repo, vulnerable.digest);
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        artifactType: 'application/vnd.example.bundle',
        subject: { mediaType: MediaTypes.ociManifest, digest: clean.digest, size: 1 },
        manifests: [
          { mediaType: child.mediaType, digest: vulnerable.digest, size: child.bytes.length, platform: AMD64 },
        ],
      }),
    );
    const digest = await client.putManifest(repo, digestOf(body), body, MediaTypes.ociIndex);

    const outcome = await gate({ registry: reg.registry.host, repository: repo, digest }, 'dressed-index');

    expect(outcome.status).toBe('decided');
    expect(outcome.verdict?.decision).toBe('block');
    expect(JSON.stringify(outcome.verdict)).toContain('CVE-2024-6119');
  });

  // Issue 17 case 2: a runnable child dressed as an artifact (artifactType + a layer type the pusher chose). moby's
  // classic puller unpacks every one of these layer types (compared in lower case) and picks the child by platform
  // alone, so the gate must gate it (docs/runnable.md). Before: released with only the other child checked.
  it.each([
    ['octet', 'application/octet-stream'],
    ['json', 'application/json'],
    ['empty', ''],
    ['docker', 'application/vnd.docker.image.rootfs.diff.tar.gzip'],
    ['upper', 'APPLICATION/VND.OCI.IMAGE.LAYER.V1.TAR+GZIP'],
  ])(
    'gates and blocks a runnable linux/amd64 child dressed as an artifact (layer type %s)',
    async (name, layerType) => {
      const { client } = reg;
      const repo = `team/dressed-child-${name}`;
      const clean = await pushWithReport(client, repo, 'a', false);
      const a = await client.getManifest(repo, clean.digest);
      const real = await client.getManifest(
        repo,
        (await pushImage(client, repo, { layers: [Buffer.from(`runnable ${name}`)] })).digest,
      );
      const layers = (real.json.layers as Descriptor[]).map((l) => ({ ...l, mediaType: layerType }));
      const body = Buffer.from(
        JSON.stringify({ ...real.json, artifactType: 'application/vnd.example.sbom+json', layers }),
      );
      const digest = await client.putManifest(repo, digestOf(body), body, MediaTypes.ociManifest);
      await attachReport(
        client,
        repo,
        { mediaType: MediaTypes.ociManifest, digest, size: body.length },
        { scannedAt: now.toISOString(), vulnerabilities: [CRITICAL_OPENSSL] },
      );
      const index = await pushIndex(client, repo, {
        tag: '1.0',
        manifests: [
          { mediaType: a.mediaType, digest: a.digest, size: a.size, platform: { os: 'linux', architecture: 'arm64' } },
          { mediaType: MediaTypes.ociManifest, digest, size: body.length, platform: AMD64 },
        ],
      });

      const outcome = await gate({ registry: reg.registry.host, repository: repo, digest: index.digest }, `dc-${name}`);

      expect(outcome.verdict?.decision).toBe('block');
      expect(outcome.verdict?.checks.filter((c) => c.status === 'fail').map((c) => c.manifest)).toContain(digest);
      expect(JSON.stringify(outcome.verdict)).toContain('CVE-2024-6119');
      expect(await promoted(client, repo)).toEqual([]);
    },
  );

  describe('hostile sizes: refused before any child is read', () => {
    /** Distinct small manifests sharing one config and one layer (they differ by an annotation). */
    async function distinctManifests(client: RegistryClient, repository: string, count: number): Promise<Descriptor[]> {
      const base = await client.getManifest(
        repository,
        (await pushImage(client, repository, { layers: [Buffer.from('shared')] })).digest,
      );
      const out: Descriptor[] = [];
      const batch = 16;
      for (let i = 0; i < count; i += batch) {
        const pushed = await Promise.all(
          Array.from({ length: Math.min(batch, count - i) }, async (_, j) => {
            const body = Buffer.from(JSON.stringify({ ...base.json, annotations: { n: String(i + j) } }));
            const digest = await client.putManifest(repository, digestOf(body), body, MediaTypes.ociManifest);
            return { mediaType: MediaTypes.ociManifest, digest, size: body.length, platform: AMD64 };
          }),
        );
        out.push(...pushed);
      }
      return out;
    }

    function expectTooLarge(outcome: GateOutcome, limit: string): void {
      expect(outcome.verdict?.decision).toBe('block');
      const check = outcome.verdict?.checks.find((c) => c.name === 'manifest');
      expect(check?.details).toMatchObject({ step: 'resolveManifest', code: 'INDEX_TOO_LARGE' });
      expect(check?.reason).toContain(limit);
    }

    it('an index listing one child 10,000 times blocks with INDEX_TOO_LARGE (MAX_INDEX_ENTRIES)', async () => {
      const { client } = reg;
      const one = await pushWithReport(client, 'team/dups', 'a', false);
      const d = await client.getManifest('team/dups', one.digest);
      const index = await pushIndex(client, 'team/dups', {
        tag: '1.0',
        manifests: Array.from({ length: 10_000 }, () => ({
          mediaType: d.mediaType,
          digest: d.digest,
          size: d.size,
          platform: AMD64,
        })),
      });
      const before = reg.requests.length;

      const outcome = await measured('10,000 duplicate entries', () =>
        gate({ registry: reg.registry.host, repository: 'team/dups', digest: index.digest }, 'dups'),
      );

      expectTooLarge(outcome, `${MAX_INDEX_ENTRIES} entries (MAX_INDEX_ENTRIES)`);
      expect(reg.requests.slice(before).filter((r) => r.includes(d.digest))).toEqual([]); // no child read, no report asked
      expect(await promoted(client, 'team/dups')).toEqual([]);
    });

    it('an index of 3,000 distinct entries blocks with INDEX_TOO_LARGE', async () => {
      const { client } = reg;
      const children = await distinctManifests(client, 'team/wide', 3_000);
      const index = await pushIndex(client, 'team/wide', { tag: '1.0', manifests: children });

      const outcome = await measured('3,000 distinct entries', () =>
        gate({ registry: reg.registry.host, repository: 'team/wide', digest: index.digest }, 'wide'),
      );

      expectTooLarge(outcome, 'MAX_INDEX_ENTRIES');
      expect(await promoted(client, 'team/wide')).toEqual([]);
    });

    it(`an index of ${MAX_INDEX_PLATFORMS + 1} distinct children (each listed twice) blocks with INDEX_TOO_LARGE (MAX_INDEX_PLATFORMS)`, async () => {
      const { client } = reg;
      const children = await distinctManifests(client, 'team/many', MAX_INDEX_PLATFORMS + 1);
      const index = await pushIndex(client, 'team/many', { tag: '1.0', manifests: [...children, ...children] });
      const before = reg.requests.length;

      const outcome = await gate(
        { registry: reg.registry.host, repository: 'team/many', digest: index.digest },
        'many',
      );

      expectTooLarge(outcome, `${MAX_INDEX_PLATFORMS} (MAX_INDEX_PLATFORMS)`);
      expect(reg.requests.slice(before).filter((r) => children.some((c) => r.includes(c.digest)))).toEqual([]);
    });

    it(`duplicates do not multiply work: ${MAX_INDEX_PLATFORMS} children listed ${Math.floor(MAX_INDEX_ENTRIES / MAX_INDEX_PLATFORMS)} times each are read once each`, async () => {
      const { client } = reg;
      const times = Math.floor(MAX_INDEX_ENTRIES / MAX_INDEX_PLATFORMS);
      const children = await distinctManifests(client, 'team/repeat', MAX_INDEX_PLATFORMS);
      const index = await pushIndex(client, 'team/repeat', {
        tag: '1.0',
        manifests: Array.from({ length: times }, () => children).flat(),
      });
      const before = reg.requests.length;

      const outcome = await gate(
        { registry: reg.registry.host, repository: 'team/repeat', digest: index.digest },
        'repeat',
      );

      expect(outcome.verdict?.decision).toBe('block'); // no reports for these children: inconclusive, fail closed
      const reads = reg.requests.slice(before).filter((r) => r.startsWith('GET /v2/team/repeat/manifests/'));
      // The index once, each distinct child once by the resolution (the reports source may read its own).
      const childReads = children.map((c) => reads.filter((r) => r.endsWith(c.digest)).length);
      expect(Math.max(...childReads)).toBeLessThanOrEqual(2);
      expect(outcome.verdict?.checks.filter((c) => c.name.startsWith('scan')).length).toBeLessThanOrEqual(
        MAX_INDEX_PLATFORMS,
      );
    });
  });
});
