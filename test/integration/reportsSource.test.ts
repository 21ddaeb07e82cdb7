/**
 * ReportsFindingsSource against a real OCI registry (Debian's docker-registry 2.8 on loopback) through the
 * project's real registry client: an image is pushed, reports are attached as referrers (manifests with a
 * `subject`, listed through the `sha256-<hex>` fallback tag as `oras attach` does on registries without the
 * referrers API), and the source reads them back.
 *
 * Outside CI it skips with one line when docker-registry is not installed; under CI=true it fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FindingsQuery, RegistryClient } from '../../src/adapters/ports';
import { createRegistryClient } from '../../src/adapters/registry';
import { ReportsFindingsSource } from '../../src/adapters/reportsSource';
import { MediaTypes, type Descriptor } from '../../src/core/types';
import { describeRequiring } from '../support/required';

const DOCKER_REGISTRY = ['/usr/bin/docker-registry', '/usr/local/bin/docker-registry'].find((p) => existsSync(p));
const describeIfReady = describeRequiring({
  present: DOCKER_REGISTRY !== undefined,
  what: 'docker-registry',
  how: 'scripts/ensure-tools.sh installs it',
});

const FIXTURES = path.join(__dirname, '../fixtures/reports');
const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function startRegistry(): Promise<{ host: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'acr-guard-registry-'));
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: error }',
      'storage:',
      `  filesystem: { rootdirectory: ${path.join(dir, 'data')} }`,
      '  delete: { enabled: true }',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(DOCKER_REGISTRY!, ['serve', config], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('docker-registry did not start within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    stop: async () => {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describeIfReady('ReportsFindingsSource against docker-registry 2.8 with the real registry client', () => {
  const REPO = 'contoso/api';
  let registry: { host: string; stop: () => Promise<void> };
  let client: RegistryClient;
  let imageDigest: string;

  async function pushBlob(bytes: Buffer, mediaType: string): Promise<Descriptor> {
    const digest = await client.putBlob(REPO, bytes);
    expect(digest).toBe(digestOf(bytes));
    return { mediaType, digest, size: bytes.length };
  }

  async function pushManifest(manifest: object, reference?: string): Promise<Descriptor & { bytes: Buffer }> {
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = digestOf(bytes);
    await client.putManifest(REPO, reference ?? digest, bytes, (manifest as { mediaType: string }).mediaType);
    return { mediaType: (manifest as { mediaType: string }).mediaType, digest, size: bytes.length, bytes };
  }

  /** Attaches a report as `oras attach` does; returns the referrer descriptor. */
  async function attach(report: Buffer, mediaType: string, created: string): Promise<Descriptor> {
    const config = await pushBlob(Buffer.from('{}'), MediaTypes.ociEmpty);
    const layer = await pushBlob(report, mediaType);
    const annotations = { 'org.opencontainers.image.created': created };
    const manifest = await pushManifest({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: mediaType,
      config,
      layers: [layer],
      subject: { mediaType: MediaTypes.ociManifest, digest: imageDigest, size: 0 },
      annotations,
    });
    return {
      mediaType: MediaTypes.ociManifest,
      digest: manifest.digest,
      size: manifest.size,
      artifactType: mediaType,
      annotations,
    };
  }

  /** Keeps the fallback referrers index (`sha256-<hex>` tag) when the client does not. */
  async function publishReferrers(referrers: Descriptor[]): Promise<void> {
    const listed = await client.listReferrers(REPO, imageDigest);
    if (referrers.every((r) => listed.some((l) => l.digest === r.digest))) return;
    await pushManifest(
      { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: referrers },
      imageDigest.replace(':', '-'),
    );
  }

  beforeAll(async () => {
    registry = await startRegistry();
    client = createRegistryClient({ host: registry.host, plainHttp: true, userAgent: 'acr-guard-test' });
    const config = await pushBlob(
      Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })),
      MediaTypes.ociConfig,
    );
    const layer = await pushBlob(Buffer.from('layer bytes'), 'application/vnd.oci.image.layer.v1.tar');
    const image = await pushManifest(
      { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers: [layer] },
      '1.4.2',
    );
    imageDigest = image.digest;
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pending before a report is attached, then ready with the attached reports', async () => {
    const source = new ReportsFindingsSource({ registry: () => client });
    const now = Date.parse('2026-11-21T12:00:00Z');
    const query = (): FindingsQuery => ({
      image: { registry: registry.host, repository: REPO, digest: imageDigest },
      maxReportAgeMs: 7 * 86_400_000,
      nowMs: now,
    });
    await expect(source.collect(query())).resolves.toMatchObject({ status: 'pending' });

    // Grype SARIF names no digest (the subject ties it); the CycloneDX BOM names this image's digest.
    const grypeSarif = readFileSync(path.join(FIXTURES, 'grype.sarif.json'));
    const bom = JSON.parse(readFileSync(path.join(FIXTURES, 'grype.cdx.json'), 'utf8'));
    bom.metadata.component.version = imageDigest;
    const sarif = await attach(grypeSarif, MediaTypes.sarif, '2026-11-21T09:00:00Z');
    const cdx = await attach(Buffer.from(JSON.stringify(bom)), MediaTypes.cyclonedx, '2026-11-21T09:05:00Z');
    await publishReferrers([sarif, cdx]);

    const result = await source.collect(query());
    expect(result.status).toBe('ready');
    if (result.status !== 'ready') return;
    expect(result.detail).toContain(sarif.digest);
    expect(result.detail).toContain(cdx.digest);
    expect(
      result.findings
        .filter((f) => f.source === `sarif:${sarif.digest}`)
        .map((f) => f.id)
        .sort(),
    ).toEqual(['CVE-2023-50495', 'CVE-2024-45490', 'GHSA-jfh8-c2jp-5v3q']);
    expect(result.findings.filter((f) => f.source === `cyclonedx:${cdx.digest}`)).toHaveLength(2);
  });
});
