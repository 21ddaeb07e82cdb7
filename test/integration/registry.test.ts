/**
 * The registry adapter against a real Debian docker-registry 2.8 on loopback.
 */
import { isGuardError } from '../../src/core/errors';
import { MediaTypes } from '../../src/core/types';
import { createRegistryClient, digestOf } from '../../src/adapters/registry';
import type { RegistryClient } from '../../src/adapters/ports';
import { pushArtifact, pushImage, pushIndex } from '../../src/local/ociPush';
import { startRegistry, type RunningRegistry } from '../../src/local/registryServer';

describe('registry adapter on a real docker-registry', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  let requests: string[];

  beforeAll(async () => {
    registry = await startRegistry();
    requests = [];
    const counting: typeof fetch = (input, init) => {
      requests.push(`${init?.method ?? 'GET'} ${String(input)}`);
      return fetch(input, init);
    };
    client = createRegistryClient({ host: registry.host, plainHttp: true, fetch: counting });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pushes an image and reads it back by tag and by digest, with the digest verified', async () => {
    const pushed = await pushImage(client, 'it/app', { tag: 'v1', created: '2026-01-01T00:00:00Z' });
    expect(await client.resolveTag('it/app', 'v1')).toBe(pushed.digest);
    const byDigest = await client.getManifest('it/app', pushed.digest);
    expect(byDigest.digest).toBe(pushed.digest);
    expect(digestOf(byDigest.bytes)).toBe(pushed.digest);
    expect(byDigest.mediaType).toBe(MediaTypes.ociManifest);
    expect(byDigest.blobs.map((b) => b.mediaType)).toEqual([MediaTypes.ociConfig, 'application/vnd.oci.image.layer.v1.tar+gzip']);
    const config = JSON.parse((await client.getBlob('it/app', byDigest.blobs[0].digest)).toString());
    expect(config.created).toBe('2026-01-01T00:00:00Z');
    const byTag = await client.getManifest('it/app', 'v1');
    expect(byTag.digest).toBe(pushed.digest);
  });

  it('resolves an index to its platform manifests', async () => {
    const amd = await pushImage(client, 'it/multi', { layers: [Buffer.from('amd')], platform: { os: 'linux', architecture: 'amd64' } });
    const arm = await pushImage(client, 'it/multi', { layers: [Buffer.from('arm')], platform: { os: 'linux', architecture: 'arm64' } });
    const index = await pushIndex(client, 'it/multi', {
      tag: 'multi',
      manifests: [
        { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
        { ...arm, platform: { os: 'linux', architecture: 'arm64' } },
      ],
    });
    const got = await client.getManifest('it/multi', index.digest);
    expect(got.mediaType).toBe(MediaTypes.ociIndex);
    expect(got.children.map((c) => c.digest)).toEqual([amd.digest, arm.digest]);
    expect(got.blobs).toEqual([]);
  });

  it('lists referrers through the tag-schema fallback (2.8 has no referrers API), filtered by artifact type', async () => {
    const image = await pushImage(client, 'it/ref', { tag: 'v1' });
    expect(await client.listReferrers('it/ref', image.digest)).toEqual([]);
    const sarif = await pushArtifact(client, 'it/ref', { subject: image, artifactType: MediaTypes.sarif, blob: Buffer.from('{"version":"2.1.0","runs":[]}'), blobMediaType: MediaTypes.sarif });
    const cdx = await pushArtifact(client, 'it/ref', { subject: image, artifactType: MediaTypes.cyclonedx, blob: Buffer.from('{"bomFormat":"CycloneDX"}'), blobMediaType: MediaTypes.cyclonedx });
    const all = await client.listReferrers('it/ref', image.digest);
    expect(all.map((d) => d.digest).sort()).toEqual([sarif.digest, cdx.digest].sort());
    expect((await client.listReferrers('it/ref', image.digest, MediaTypes.sarif)).map((d) => d.digest)).toEqual([sarif.digest]);
    const artifact = await client.getManifest('it/ref', sarif.digest);
    expect(artifact.subject?.digest).toBe(image.digest);
    expect(artifact.artifactType).toBe(MediaTypes.sarif);
  });

  it('lists every tag, and pages the catalog with n/last and the Link header', async () => {
    for (let i = 0; i < 5; i++) await pushImage(client, 'it/paged', { tag: `t${i}`, layers: [Buffer.from(`p${i}`)] });
    const seen: string[] = [];
    let last: string | undefined;
    let pages = 0;
    do {
      const page = await client.listTags('it/paged', { pageSize: 2, last });
      seen.push(...page.items);
      last = page.next;
      pages++;
    } while (last && pages < 10);
    // docker-registry 2.8 does not promise an order across pages; every tag exactly once is the contract.
    expect([...seen].sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
    // 2.8 ignores `n` on tags/list (one page); the catalog does page, which exercises Link/last.
    expect(pages).toBeGreaterThanOrEqual(1);
    const repos: string[] = [];
    let catalogPages = 0;
    last = undefined;
    do {
      const page = await client.listRepositories({ pageSize: 2, last });
      expect(page.items.length).toBeLessThanOrEqual(2);
      repos.push(...page.items);
      last = page.next;
      catalogPages++;
    } while (last && catalogPages < 20);
    expect(catalogPages).toBeGreaterThan(1);
    expect(repos).toEqual(expect.arrayContaining(['it/app', 'it/multi', 'it/paged', 'it/ref']));
  });

  it('deletes by digest; a second delete is a 404 that counts as done', async () => {
    const image = await pushImage(client, 'it/del', { tag: 'gone', layers: [Buffer.from('delete me')] });
    expect(await client.deleteManifest('it/del', image.digest)).toBe(true);
    expect(await client.deleteManifest('it/del', image.digest)).toBe(false);
    await expect(client.getManifest('it/del', image.digest)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('mounts blobs across repositories (idempotent) so a manifest can be promoted by digest', async () => {
    const image = await pushImage(client, 'it/src', { tag: 'v1', layers: [Buffer.from('promote me')] });
    const manifest = await client.getManifest('it/src', image.digest);
    for (const blob of manifest.blobs) {
      await client.mountBlob('release/it/src', blob.digest, 'it/src');
      await client.mountBlob('release/it/src', blob.digest, 'it/src');
    }
    await client.putManifest('release/it/src', image.digest, manifest.bytes, manifest.mediaType);
    expect((await client.getManifest('release/it/src', image.digest)).digest).toBe(image.digest);
  });

  it.each([
    ['../etc/passwd'],
    ['it/../../x'],
    ['it/%2e%2e/x'],
    ['UPPER/case'],
    ['it//double'],
    ['/leading'],
    ['a'.repeat(300)],
    ['it/app?x=1'],
    ['it/app#frag'],
  ])('rejects the repository name %j before any request is made', async (name) => {
    const before = requests.length;
    const error = await client.getManifest(name, 'v1').catch((e: unknown) => e);
    expect(isGuardError(error, 'INVALID_INPUT')).toBe(true);
    await expect(client.deleteManifest(name, `sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(requests.length).toBe(before);
  });

  it.each([['v1/../../x'], ['sha256:abc'], ['sha256:' + 'G'.repeat(64)], ['-tag'], ['t'.repeat(129)]])('rejects the reference %j before any request is made', async (reference) => {
    const before = requests.length;
    await expect(client.getManifest('it/app', reference)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(requests.length).toBe(before);
  });

  it('reports an unreachable registry as TRANSIENT (retryable), naming the registry but no secret', async () => {
    const dead = createRegistryClient({ host: '127.0.0.1:1', plainHttp: true, basic: { username: 'u', password: 'hunter2-secret' }, timeoutMs: 2000 });
    const error = (await dead.getManifest('it/app', 'v1').catch((e: unknown) => e)) as Error & { code?: string };
    expect(error.code).toBe('TRANSIENT');
    expect(error.message).toContain('127.0.0.1:1');
    expect(error.message).not.toContain('hunter2');
  });

  it('refuses ACR-only operations on a plain registry', async () => {
    await expect(client.setManifestAttributes('it/app', `sha256:${'0'.repeat(64)}`, { quarantineState: 'Passed' })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    expect(client.supportsAcrAttributes()).toBe(false);
  });
});
