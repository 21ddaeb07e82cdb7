/**
 * The registry adapter against a real Debian docker-registry 2.8 on loopback.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { isGuardError } from '../../src/core/errors';
import { MediaTypes } from '../../src/core/types';
import { createRegistryClient, digestOf } from '../../src/adapters/registry';
import type { RegistryClient } from '../../src/adapters/ports';
import { pushArtifact, pushImage, pushIndex } from '../../src/local/ociPush';
import { startRegistry } from '../../src/local/registryServer';
import { useRegistry } from '../support/registry';

describe('registry adapter on a real docker-registry', () => {
  const reg = useRegistry();
  let client: RegistryClient;
  const requests = reg.requests;

  beforeAll(() => {
    client = reg.client;
  });

  it('pushes an image and reads it back by tag and by digest, with the digest verified', async () => {
    const pushed = await pushImage(client, 'it/app', { tag: 'v1', created: '2026-01-01T00:00:00Z' });
    expect(await client.resolveTag('it/app', 'v1')).toBe(pushed.digest);
    const byDigest = await client.getManifest('it/app', pushed.digest);
    expect(byDigest.digest).toBe(pushed.digest);
    expect(digestOf(byDigest.bytes)).toBe(pushed.digest);
    expect(byDigest.mediaType).toBe(MediaTypes.ociManifest);
    expect(byDigest.blobs.map((b) => b.mediaType)).toEqual([
      MediaTypes.ociConfig,
      'application/vnd.oci.image.layer.v1.tar+gzip',
    ]);
    const config = JSON.parse((await client.getBlob('it/app', byDigest.blobs[0].digest)).toString());
    expect(config.created).toBe('2026-01-01T00:00:00Z');
    const byTag = await client.getManifest('it/app', 'v1');
    expect(byTag.digest).toBe(pushed.digest);
  });

  it('resolves an index to its platform manifests', async () => {
    const amd = await pushImage(client, 'it/multi', {
      layers: [Buffer.from('amd')],
      platform: { os: 'linux', architecture: 'amd64' },
    });
    const arm = await pushImage(client, 'it/multi', {
      layers: [Buffer.from('arm')],
      platform: { os: 'linux', architecture: 'arm64' },
    });
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
    const sarif = await pushArtifact(client, 'it/ref', {
      subject: image,
      artifactType: MediaTypes.sarif,
      blob: Buffer.from('{"version":"2.1.0","runs":[]}'),
      blobMediaType: MediaTypes.sarif,
    });
    const cdx = await pushArtifact(client, 'it/ref', {
      subject: image,
      artifactType: MediaTypes.cyclonedx,
      blob: Buffer.from('{"bomFormat":"CycloneDX"}'),
      blobMediaType: MediaTypes.cyclonedx,
    });
    const all = await client.listReferrers('it/ref', image.digest);
    expect(all.map((d) => d.digest).sort()).toEqual([sarif.digest, cdx.digest].sort());
    expect((await client.listReferrers('it/ref', image.digest, MediaTypes.sarif)).map((d) => d.digest)).toEqual([
      sarif.digest,
    ]);
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
    ['a/%2e%2e/b'],
    ['../x'],
    ['a//b'],
    ['UPPER'],
    ['it/app/'],
    ['it/app\n'],
    ['it/app/../../v2/_catalog'],
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
    const zero = `sha256:${'0'.repeat(64)}`;
    const calls: Array<() => Promise<unknown>> = [
      () => client.deleteManifest(name, zero),
      () => client.resolveTag(name, 'v1'),
      () => client.getBlob(name, zero),
      () => client.putBlob(name, Buffer.from('x')),
      () => client.putManifest(name, 'v1', Buffer.from('{}'), MediaTypes.ociManifest),
      () => client.mountBlob(name, zero, 'it/app'),
      () => client.mountBlob('it/app', zero, name),
      () => client.listReferrers(name, zero),
      () => client.listTags(name),
    ];
    for (const call of calls) await expect(call()).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(requests.length).toBe(before);
  });

  it.each([['v1/../../x'], ['sha256:abc'], ['sha256:' + 'G'.repeat(64)], ['-tag'], ['t'.repeat(129)]])(
    'rejects the reference %j before any request is made',
    async (reference) => {
      const before = requests.length;
      await expect(client.getManifest('it/app', reference)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(requests.length).toBe(before);
    },
  );

  it('reports an unreachable registry as TRANSIENT (retryable), naming the registry but no secret', async () => {
    const dead = createRegistryClient({
      host: '127.0.0.1:1',
      plainHttp: true,
      basic: { username: 'u', password: 'hunter2-secret' },
      timeoutMs: 2000,
    });
    const error = (await dead.getManifest('it/app', 'v1').catch((e: unknown) => e)) as Error & { code?: string };
    expect(error.code).toBe('TRANSIENT');
    expect(error.message).toContain('127.0.0.1:1');
    expect(error.message).not.toContain('hunter2');
  });

  it('refuses ACR-only operations on a plain registry', async () => {
    await expect(
      client.setManifestAttributes('it/app', `sha256:${'0'.repeat(64)}`, { quarantineState: 'Passed' }),
    ).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    expect(client.supportsAcrAttributes()).toBe(false);
  });

  it('pushes layers that are real gzip-compressed tar archives, with diff_ids naming the uncompressed tar', async () => {
    const image = await pushImage(client, 'it/tar', { seed: 'hello layer' });
    const again = await pushImage(client, 'it/tar', { seed: 'hello layer' });
    expect(again.digest).toBe(image.digest); // deterministic
    const manifest = await client.getManifest('it/tar', image.digest);
    const layer = await client.getBlob('it/tar', manifest.blobs[1].digest);
    const tar = gunzipSync(layer);
    const config = JSON.parse((await client.getBlob('it/tar', manifest.blobs[0].digest)).toString());
    expect(config.rootfs.diff_ids).toEqual([digestOf(tar)]);
    expect(tar.subarray(257, 262).toString()).toBe('ustar');
    expect(tar.subarray(512, 512 + 11).toString()).toBe('hello layer');
    if (existsSync('/usr/bin/tar') || existsSync('/bin/tar')) {
      const listing = execFileSync('tar', ['-tvf', '-'], { input: tar }).toString();
      expect(listing).toMatch(/layer0\.txt/);
    }
  });

  it('keeps the tag-schema referrers index when artifacts are pushed for several subjects', async () => {
    const a = await pushImage(client, 'it/refs2', { seed: 'a' });
    const b = await pushImage(client, 'it/refs2', { seed: 'b' });
    const sigA = await pushArtifact(client, 'it/refs2', {
      subject: a,
      artifactType: MediaTypes.notarySignature,
      blob: Buffer.from('sig a'),
      blobMediaType: 'application/jose+json',
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    });
    // Pushing the same artifact twice does not list it twice.
    await pushArtifact(client, 'it/refs2', {
      subject: a,
      artifactType: MediaTypes.notarySignature,
      blob: Buffer.from('sig a'),
      blobMediaType: 'application/jose+json',
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    });
    const sigB = await pushArtifact(client, 'it/refs2', {
      subject: b,
      artifactType: MediaTypes.notarySignature,
      blob: Buffer.from('sig b'),
      blobMediaType: 'application/jose+json',
    });
    const ofA = await client.listReferrers('it/refs2', a.digest);
    expect(ofA).toEqual([
      expect.objectContaining({
        digest: sigA.digest,
        artifactType: MediaTypes.notarySignature,
        annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
      }),
    ]);
    expect((await client.listReferrers('it/refs2', b.digest)).map((d) => d.digest)).toEqual([sigB.digest]);
    expect(await client.listReferrers('it/refs2', b.digest, MediaTypes.sarif)).toEqual([]);
  });

  it('answers NOT_FOUND for a missing tag, manifest, blob or repository', async () => {
    await expect(client.getManifest('it/app', 'no-such-tag')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
    await expect(client.resolveTag('it/app', 'no-such-tag')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(client.getBlob('it/app', `sha256:${'1'.repeat(64)}`)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(client.listTags('it/never-pushed')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('startRegistry', () => {
  it('sends push notifications to the configured endpoint with its token', async () => {
    const received: Array<{ auth?: string; actions: string[] }> = [];
    const sink = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          events?: Array<{ action: string; target?: { repository?: string; tag?: string } }>;
        };
        received.push({
          auth: req.headers.authorization,
          actions: (body.events ?? []).map((e) => `${e.action} ${e.target?.repository}:${e.target?.tag ?? ''}`),
        });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const port = (sink.address() as AddressInfo).port;
    const registry = await startRegistry({
      notifications: [{ url: `http://127.0.0.1:${port}/events`, token: 'sink-token' }],
    });
    try {
      const client = createRegistryClient({ host: registry.host, plainHttp: true });
      await pushImage(client, 'notify/app', { tag: 'v1' });
      const deadline = Date.now() + 5000;
      while (!received.some((r) => r.actions.includes('push notify/app:v1')) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      const push = received.find((r) => r.actions.includes('push notify/app:v1'));
      expect(push?.auth).toBe('Bearer sink-token');
    } finally {
      await registry.stop();
      await new Promise<void>((resolve) => sink.close(() => resolve()));
    }
  });

  it('stops the process and removes the storage it made; keeps a storage directory it was given', async () => {
    const own = await startRegistry();
    expect(existsSync(own.dataDir)).toBe(true);
    await own.stop();
    expect(existsSync(own.dataDir)).toBe(false);
    await expect(fetch(`${own.url}/v2/`)).rejects.toThrow();
    await own.stop(); // idempotent

    const given = mkdtempSync(join(tmpdir(), 'acr-guard-given-'));
    try {
      const kept = await startRegistry({ dataDir: given, deleteEnabled: false });
      const client = createRegistryClient({ host: kept.host, plainHttp: true });
      const image = await pushImage(client, 'keep/app', { tag: 'v1' });
      // With deletes disabled the registry refuses (405 UNSUPPORTED): a permanent rejection.
      await expect(client.deleteManifest('keep/app', image.digest)).rejects.toMatchObject({
        code: 'REGISTRY_REJECTED',
        status: 405,
      });
      await kept.stop();
      expect(existsSync(join(given, 'docker'))).toBe(true);
      // The same storage serves the same content after a restart.
      const again = await startRegistry({ dataDir: given });
      try {
        expect(await createRegistryClient({ host: again.host, plainHttp: true }).resolveTag('keep/app', 'v1')).toBe(
          image.digest,
        );
      } finally {
        await again.stop();
      }
    } finally {
      rmSync(given, { recursive: true, force: true });
    }
  });

  it('names the fix when the binary is missing', async () => {
    const saved = process.env.DOCKER_REGISTRY_BIN;
    process.env.DOCKER_REGISTRY_BIN = '/nonexistent/docker-registry';
    try {
      await expect(startRegistry()).rejects.toMatchObject({
        code: 'INVALID_CONFIG',
        message: expect.stringContaining('scripts/ensure-tools.sh'),
      });
    } finally {
      if (saved === undefined) delete process.env.DOCKER_REGISTRY_BIN;
      else process.env.DOCKER_REGISTRY_BIN = saved;
    }
  });
});
