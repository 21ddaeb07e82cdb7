/**
 * ReportsFindingsSource over an in-memory RegistryClient that serves real bytes under their real digests
 * (a test double of the registry, not of the code under test). The real-registry run is in
 * test/integration/reportsSource.test.ts.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MAX_REPORTS_PER_IMAGE, ReportsFindingsSource } from '../../../src/adapters/reportsSource';
import type { FetchedManifest, FindingsQuery, RegistryClient } from '../../../src/adapters/ports';
import { ErrorCodes, GuardError } from '../../../src/core/errors';
import { MediaTypes, type Descriptor } from '../../../src/core/types';

const FIXTURES = path.join(__dirname, '../../fixtures/reports');
const fixture = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));

const IMAGE_DIGEST = 'sha256:5b0ad3ed1e4d8e1e2a6f8d07c3a3a3f7f8d5b5e4c1d6a2b9e8f7c6d5a4b3c2d1';
const REPO = 'contoso/api';
const NOW = Date.parse('2026-11-21T12:00:00Z');
const QUERY: FindingsQuery = {
  image: { registry: 'contoso.azurecr.io', repository: REPO, digest: IMAGE_DIGEST },
  maxReportAgeMs: 7 * 86_400_000,
  nowMs: NOW,
};
const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const EMPTY = Buffer.from('{}');

/** A registry holding blobs and manifests by digest, and referrers by subject. */
class MemoryRegistry implements RegistryClient {
  readonly host = 'contoso.azurecr.io';
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, Buffer>();
  readonly referrers: Descriptor[] = [];
  readonly blobReads: string[] = [];
  failReferrers?: GuardError;

  putBlobBytes(bytes: Buffer): Descriptor {
    const digest = digestOf(bytes);
    this.blobs.set(digest, bytes);
    return { mediaType: 'application/octet-stream', digest, size: bytes.length };
  }

  /** Attaches a report the way `oras attach` does; returns the referrer manifest digest. */
  attach(options: {
    bytes: Buffer;
    mediaType: string;
    artifactType?: string | null;
    created?: string;
    subject?: string;
    layers?: number;
    declaredSize?: number;
  }): string {
    const layer = { ...this.putBlobBytes(options.bytes), mediaType: options.mediaType };
    if (options.declaredSize !== undefined) layer.size = options.declaredSize;
    const config = {
      ...this.putBlobBytes(EMPTY),
      mediaType: options.artifactType === null ? options.mediaType : MediaTypes.ociEmpty,
    };
    const artifactType = options.artifactType === null ? undefined : (options.artifactType ?? options.mediaType);
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      ...(artifactType ? { artifactType } : {}),
      config,
      layers: Array.from({ length: options.layers ?? 1 }, () => layer),
      subject: { mediaType: MediaTypes.ociManifest, digest: options.subject ?? IMAGE_DIGEST, size: 1234 },
      annotations: (options.created ? { 'org.opencontainers.image.created': options.created } : {}) as Record<
        string,
        string
      >,
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = digestOf(bytes);
    this.manifests.set(digest, bytes);
    this.referrers.push({
      mediaType: MediaTypes.ociManifest,
      digest,
      size: bytes.length,
      artifactType,
      annotations: manifest.annotations,
    });
    return digest;
  }

  async listReferrers(repository: string, digest: string): Promise<Descriptor[]> {
    if (this.failReferrers) throw this.failReferrers;
    expect(repository).toBe(REPO);
    expect(digest).toBe(IMAGE_DIGEST);
    return this.referrers;
  }

  async getManifest(_repository: string, reference: string): Promise<FetchedManifest> {
    const bytes = this.manifests.get(reference);
    if (!bytes) throw new GuardError(ErrorCodes.NOT_FOUND, `manifest ${reference} not found`);
    const json = JSON.parse(bytes.toString('utf8'));
    return {
      digest: reference,
      mediaType: json.mediaType,
      children: [],
      blobs: [json.config, ...json.layers],
      artifactType: json.artifactType,
      subject: json.subject,
      annotations: json.annotations,
      size: bytes.length,
      bytes,
      json,
    };
  }

  async getBlob(_repository: string, digest: string, maxBytes?: number): Promise<Buffer> {
    this.blobReads.push(digest);
    const bytes = this.blobs.get(digest);
    if (!bytes) throw new GuardError(ErrorCodes.NOT_FOUND, `blob ${digest} not found`);
    if (maxBytes !== undefined && bytes.length > maxBytes)
      throw new GuardError(ErrorCodes.MALFORMED, `blob is larger than ${maxBytes} bytes`);
    return bytes;
  }

  resolveTag = unsupported;
  putManifest = unsupported;
  deleteManifest = unsupported;
  putBlob = unsupported;
  mountBlob = unsupported;
  listTags = unsupported;
  listRepositories = unsupported;
  supportsAcrAttributes = () => false;
  getManifestAttributes = unsupported;
  setManifestAttributes = unsupported;
}

async function unsupported(): Promise<never> {
  throw new GuardError(ErrorCodes.UNSUPPORTED, 'not used by the reports source');
}

const SARIF = MediaTypes.sarif;
const CDX = MediaTypes.cyclonedx;
const withTime = (file: string, time: string): Buffer => {
  const doc = JSON.parse(fixture(file).toString('utf8'));
  if (doc.runs) doc.runs[0].invocations = [{ executionSuccessful: true, endTimeUtc: time }];
  else doc.metadata.timestamp = time;
  return Buffer.from(JSON.stringify(doc));
};

describe('ReportsFindingsSource', () => {
  let registry: MemoryRegistry;
  let source: ReportsFindingsSource;
  beforeEach(() => {
    registry = new MemoryRegistry();
    source = new ReportsFindingsSource({ registry: (host) => (expect(host).toBe('contoso.azurecr.io'), registry) });
  });

  it('no report attached is pending', async () => {
    await expect(source.collect(QUERY)).resolves.toEqual({
      source: 'reports',
      status: 'pending',
      detail: expect.stringContaining('younger than 7d'),
    });
  });

  it('merges the newest fresh report of each format and names the digests used', async () => {
    const sarif = registry.attach({ bytes: fixture('trivy.sarif.json'), mediaType: SARIF });
    const cdx = registry.attach({ bytes: fixture('grype.cdx.json'), mediaType: CDX });
    const result = await source.collect(QUERY);
    expect(result.status).toBe('ready');
    if (result.status !== 'ready') return;
    expect(result.findings.filter((f) => f.source === `sarif:${sarif}`)).toHaveLength(4);
    expect(result.findings.filter((f) => f.source === `cyclonedx:${cdx}`)).toHaveLength(2);
    expect(result.detail).toContain(sarif);
    expect(result.detail).toContain(cdx);
  });

  it('of two fresh reports of a format, both count (worst wins) and the older is named as superseded', async () => {
    const older = registry.attach({ bytes: withTime('trivy.sarif.json', '2026-11-19T10:00:00Z'), mediaType: SARIF });
    const newer = registry.attach({ bytes: withTime('trivy.sarif.json', '2026-11-21T10:00:00Z'), mediaType: SARIF });
    const result = await source.collect(QUERY);
    expect(result.status === 'ready' && new Set(result.findings.map((f) => f.source))).toEqual(
      new Set([`sarif:${newer}`, `sarif:${older}`]),
    );
    expect((result as { detail: string }).detail).toContain(`sarif report ${older}`);
    expect((result as { detail: string }).detail).toContain(`superseded by the newer ${newer}, still counted`);
  });

  it(`more than MAX_REPORTS_PER_IMAGE (${MAX_REPORTS_PER_IMAGE}) fresh reports: TOO_MANY_REPORTS, none read`, async () => {
    for (let i = 0; i <= MAX_REPORTS_PER_IMAGE; i++)
      registry.attach({
        bytes: withTime('trivy.sarif.json', `2026-11-21T10:${String(i).padStart(2, '0')}:00Z`),
        mediaType: SARIF,
        created: `2026-11-21T10:${String(i).padStart(2, '0')}:00Z`,
      });
    // Dated older than the age limit: left out before counting.
    registry.attach({ bytes: fixture('grype.sarif.json'), mediaType: SARIF, created: '2026-10-01T00:00:00Z' });
    const result = await source.collect(QUERY);
    expect(result).toMatchObject({ status: 'error', code: ErrorCodes.TOO_MANY_REPORTS });
    expect((result as { detail: string }).detail).toContain(`${MAX_REPORTS_PER_IMAGE + 1} candidate reports`);
  });

  it('stale and undated reports are ignored: pending', async () => {
    registry.attach({ bytes: withTime('trivy.sarif.json', '2026-11-01T10:00:00Z'), mediaType: SARIF });
    registry.attach({ bytes: fixture('grype.sarif.json'), mediaType: SARIF }); // no time anywhere
    const result = await source.collect(QUERY);
    expect(result).toMatchObject({
      status: 'pending',
      detail: expect.stringContaining('2 older or undated report(s) ignored'),
    });
  });

  it('an undated report is used when the referrer annotation dates it', async () => {
    registry.attach({ bytes: fixture('grype.sarif.json'), mediaType: SARIF, created: '2026-11-21T09:00:00Z' });
    await expect(source.collect(QUERY)).resolves.toMatchObject({ status: 'ready' });
  });

  it('a fresh unparseable report is an error naming the report digest', async () => {
    registry.attach({ bytes: fixture('trivy.sarif.json'), mediaType: SARIF });
    const broken = registry.attach({ bytes: Buffer.from('{"version":"2.1.0","runs":[{'), mediaType: SARIF });
    const result = await source.collect(QUERY);
    expect(result).toMatchObject({ source: 'reports', status: 'error', code: 'MALFORMED' });
    expect((result as { detail: string }).detail).toContain(broken);
  });

  it('an unparseable report whose annotation shows it is old is ignored', async () => {
    registry.attach({ bytes: Buffer.from('not json'), mediaType: SARIF, created: '2026-10-01T00:00:00Z' });
    await expect(source.collect(QUERY)).resolves.toMatchObject({ status: 'pending' });
  });

  it('a report about another image is REPORT_SUBJECT_MISMATCH', async () => {
    const doc = JSON.parse(fixture('trivy.sarif.json').toString('utf8'));
    doc.runs[0].properties.repoDigests = [`contoso.azurecr.io/contoso/api@sha256:${'7'.repeat(64)}`];
    registry.attach({ bytes: Buffer.from(JSON.stringify(doc)), mediaType: SARIF });
    await expect(source.collect(QUERY)).resolves.toMatchObject({ status: 'error', code: 'REPORT_SUBJECT_MISMATCH' });
  });

  it('a referrer whose manifest subject is another digest is refused', async () => {
    registry.attach({ bytes: fixture('trivy.sarif.json'), mediaType: SARIF, subject: `sha256:${'8'.repeat(64)}` });
    await expect(source.collect(QUERY)).resolves.toMatchObject({ status: 'error', code: 'REPORT_SUBJECT_MISMATCH' });
  });

  it('ignores referrers that are not reports, and finds reports typed only by their config media type', async () => {
    registry.attach({
      bytes: Buffer.from('{"payload":"x"}'),
      mediaType: 'application/jose+json',
      artifactType: MediaTypes.notarySignature,
    });
    registry.attach({ bytes: fixture('trivy.cdx.json'), mediaType: CDX, artifactType: null });
    const result = await source.collect(QUERY);
    expect(result).toMatchObject({ status: 'ready' });
    expect(result.status === 'ready' && result.findings.every((f) => f.source.startsWith('cyclonedx:'))).toBe(true);
  });

  it('skips a CycloneDX SBOM attached with the report media type (it is not a scan)', async () => {
    const sbom = JSON.parse(fixture('trivy.cdx.json').toString('utf8'));
    delete sbom.vulnerabilities;
    registry.attach({ bytes: Buffer.from(JSON.stringify(sbom)), mediaType: CDX });
    await expect(source.collect(QUERY)).resolves.toMatchObject({ status: 'pending' });
  });

  it('refuses a report with more than one layer, and one declared over the size limit without reading it', async () => {
    registry.attach({ bytes: fixture('trivy.sarif.json'), mediaType: SARIF, layers: 2 });
    await expect(source.collect(QUERY)).resolves.toMatchObject({
      status: 'error',
      code: 'MALFORMED',
      detail: expect.stringContaining('one layer'),
    });

    registry = new MemoryRegistry();
    registry.attach({ bytes: fixture('trivy.sarif.json'), mediaType: SARIF, declaredSize: 30 * 1024 * 1024 });
    await expect(source.collect(QUERY)).resolves.toMatchObject({
      status: 'error',
      code: 'REPORT_TOO_LARGE',
      detail: expect.stringContaining('limit'),
    });
    expect(registry.blobReads).toEqual([]);
  });

  it.each([[-1], [1.5], [Number.MAX_SAFE_INTEGER + 2]])(
    'refuses a report layer whose descriptor size is %p, before reading it',
    async (size) => {
      registry.attach({ bytes: fixture('trivy.sarif.json'), mediaType: SARIF, declaredSize: size });
      const result = await source.collect(QUERY);
      expect(result).toMatchObject({ status: 'error' });
      expect(result.status === 'error' && result.detail).toMatch(
        /layers\[0\]\.size: expected the blob size in bytes|the limit is/,
      );
      expect(registry.blobReads).toEqual([]);
    },
  );

  it('passes the size limit to the registry client', async () => {
    const small = new ReportsFindingsSource({ registry: () => registry, maxReportBytes: 1000 });
    registry.attach({ bytes: fixture('trivy.sarif.json'), mediaType: SARIF, declaredSize: 10 });
    await expect(small.collect(QUERY)).resolves.toMatchObject({ status: 'error', code: 'MALFORMED' });
  });

  it('a transient registry failure throws (Durable retries it); a permanent one is an error result', async () => {
    registry.failReferrers = new GuardError(ErrorCodes.TRANSIENT, 'registry answered 503');
    await expect(source.collect(QUERY)).rejects.toMatchObject({ code: 'TRANSIENT' });
    registry.failReferrers = new GuardError(ErrorCodes.REGISTRY_AUTH, 'registry answered 403');
    await expect(source.collect(QUERY)).resolves.toMatchObject({ status: 'error', code: 'REGISTRY_AUTH' });
  });
});
