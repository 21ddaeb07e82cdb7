/**
 * A repository with tagged, untagged (index children), index and referrer manifests, pushed through the real
 * client into a loopback docker-registry, and a fault-injecting proxy to put in front of it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RegistryClient } from '../../src/adapters/ports';
import { digestOf } from '../../src/adapters/registry';
import { listRepositoryManifests } from '../../src/adapters/registry/manifestListing';
import type { DeleteReason, KeepReason, ManifestRecord, PurgePlan } from '../../src/core/purge/plan';
import { pushArtifact, pushImage, pushIndex, type Pushed } from '../../src/local/ociPush';
import { MediaTypes } from '../../src/core/types';

/** Days before `now` as an RFC 3339 time. */
export function daysAgo(now: number, days: number): string {
  return new Date(now - days * 86_400_000).toISOString();
}

/** What {@link seedRepository} pushed, by role. */
export interface SeededRepository {
  v1: Pushed;
  v2: Pushed;
  v3: Pushed;
  dev1: Pushed;
  oldIndex: Pushed;
  oldChildren: Pushed[];
  newIndex: Pushed;
  newChildren: Pushed[];
  sigV1: Pushed;
  sbomOfSigV1: Pushed;
  sigV3: Pushed;
}

/** Every digest {@link seedRepository} pushed. */
export function seededDigests(s: SeededRepository): string[] {
  return [
    s.v1,
    s.v2,
    s.v3,
    s.dev1,
    s.oldIndex,
    ...s.oldChildren,
    s.newIndex,
    ...s.newChildren,
    s.sigV1,
    s.sbomOfSigV1,
    s.sigV3,
  ].map((p) => p.digest);
}

/**
 * Pushes into `repository`: v1, v2, dev-1 (90-100 days old), v3 (1 day), `multi-old` (index of two 80-day-old
 * untagged platform images), `multi-new` (index of two 2-day-old ones), a signature of v1 with an SBOM of that
 * signature, and a signature of v3. Deterministic: the same call makes the same digests.
 */
export async function seedRepository(
  client: RegistryClient,
  repository: string,
  now: number,
): Promise<SeededRepository> {
  const v1 = await pushImage(client, repository, { tag: 'v1', seed: `${repository} v1`, created: daysAgo(now, 100) });
  const v2 = await pushImage(client, repository, { tag: 'v2', seed: `${repository} v2`, created: daysAgo(now, 95) });
  const dev1 = await pushImage(client, repository, {
    tag: 'dev-1',
    seed: `${repository} dev-1`,
    created: daysAgo(now, 90),
  });
  const v3 = await pushImage(client, repository, { tag: 'v3', seed: `${repository} v3`, created: daysAgo(now, 1) });
  const platform = (arch: string, days: number, seed: string): Promise<Pushed> =>
    pushImage(client, repository, { seed, created: daysAgo(now, days), platform: { os: 'linux', architecture: arch } });
  const oldChildren = [await platform('amd64', 80, 'old amd64'), await platform('arm64', 80, 'old arm64')];
  const newChildren = [await platform('amd64', 2, 'new amd64'), await platform('arm64', 2, 'new arm64')];
  const desc = (
    p: Pushed,
    arch: string,
  ): { mediaType: string; digest: string; size: number; platform: { os: string; architecture: string } } => ({
    mediaType: p.mediaType,
    digest: p.digest,
    size: p.size,
    platform: { os: 'linux', architecture: arch },
  });
  const oldIndex = await pushIndex(client, repository, {
    tag: 'multi-old',
    manifests: [desc(oldChildren[0], 'amd64'), desc(oldChildren[1], 'arm64')],
  });
  const newIndex = await pushIndex(client, repository, {
    tag: 'multi-new',
    manifests: [desc(newChildren[0], 'amd64'), desc(newChildren[1], 'arm64')],
  });
  const sign = (subject: Pushed, what: string): Promise<Pushed> =>
    pushArtifact(client, repository, {
      subject,
      artifactType: MediaTypes.notarySignature,
      blob: Buffer.from(`signature of ${what}`),
      blobMediaType: 'application/jose+json',
    });
  const sigV1 = await sign(v1, 'v1');
  const sbomOfSigV1 = await pushArtifact(client, repository, {
    subject: sigV1,
    artifactType: MediaTypes.cyclonedx,
    blob: Buffer.from('{"bomFormat":"CycloneDX"}'),
    blobMediaType: MediaTypes.cyclonedx,
  });
  const sigV3 = await sign(v3, 'v3');
  return { v1, v2, v3, dev1, oldIndex, oldChildren, newIndex, newChildren, sigV1, sbomOfSigV1, sigV3 };
}

/** The manifests of `repository` as the purge lists them at `nowMs`, by digest. */
export async function listedByDigest(
  client: RegistryClient,
  repository: string,
  nowMs: number,
): Promise<Map<string, ManifestRecord>> {
  return new Map((await listRepositoryManifests(client, repository, { nowMs })).map((m) => [m.digest, m]));
}

/** A plan's deletes and keeps as digest → reason (both empty without a plan). */
export function planReasons(plan: PurgePlan | undefined): {
  deletes: Map<string, DeleteReason>;
  keeps: Map<string, KeepReason>;
} {
  return {
    deletes: new Map(plan?.deletes.map((d) => [d.digest, d.reason])),
    keeps: new Map(plan?.keeps.map((k) => [k.digest, k.reason])),
  };
}

/** Tags of a repository, and which of `digests` still exist (GET by digest). */
export async function whatIsLeft(
  client: RegistryClient,
  repository: string,
  digests: string[],
): Promise<{ tags: string[]; present: string[] }> {
  let tags: string[] = [];
  try {
    tags = (await client.listTags(repository, { pageSize: 1000 })).items.slice().sort();
  } catch (err) {
    if ((err as { code?: string }).code !== 'NOT_FOUND') throw err;
  }
  const present: string[] = [];
  for (const d of digests) {
    try {
      await client.getManifest(repository, d);
      present.push(d);
    } catch (err) {
      if ((err as { code?: string }).code !== 'NOT_FOUND') throw err;
    }
  }
  return { tags, present: present.sort() };
}

/** What a {@link FaultProxy} does to the Nth DELETE of a path (1-based); `pass` forwards. */
export type Fault = 'pass' | '429' | '503' | 'drop-before' | 'drop-after';

/** A proxy in front of a registry that injects faults into DELETEs and records what reached the registry. */
export interface FaultProxy {
  host: string;
  /** `DELETE <path>` forwarded to the registry, in order, with the registry's status. */
  forwarded: Array<{ path: string; status: number }>;
  injected: Record<Exclude<Fault, 'pass'>, number>;
  close(): Promise<void>;
}

/** Starts a proxy; `plan(path, n)` picks the fault for the nth DELETE of `path`. Other requests pass through. */
export async function startFaultProxy(target: string, plan: (path: string, n: number) => Fault): Promise<FaultProxy> {
  const counts = new Map<string, number>();
  const forwarded: FaultProxy['forwarded'] = [];
  const injected = { '429': 0, '503': 0, 'drop-before': 0, 'drop-after': 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      let fault: Fault = 'pass';
      if (req.method === 'DELETE') {
        const n = (counts.get(path) ?? 0) + 1;
        counts.set(path, n);
        fault = plan(path, n);
      }
      if (fault === '429') {
        injected['429']++;
        res
          .writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' })
          .end('{"errors":[{"code":"TOOMANYREQUESTS"}]}');
        return;
      }
      if (fault === '503') {
        injected['503']++;
        res.writeHead(503).end();
        return;
      }
      if (fault === 'drop-before') {
        injected['drop-before']++;
        req.socket.destroy();
        return;
      }
      const headers = { ...req.headers, host: target };
      const upstream = http.request(
        { host: target.split(':')[0], port: Number(target.split(':')[1]), method: req.method, path, headers },
        (up) => {
          if (req.method === 'DELETE') forwarded.push({ path, status: up.statusCode ?? 0 });
          if (fault === 'drop-after') {
            // The registry did the delete; the client never hears of it.
            injected['drop-after']++;
            up.resume();
            req.socket.destroy();
            return;
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    forwarded,
    injected,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Pushes a signature as cosign lays it out (its default, non-OCI-1.1 mode): an OCI image manifest with an image
 * config and one `application/vnd.dev.cosign.simplesigning.v1+json` layer carrying the signature annotation, NO
 * `subject`, tagged `sha256-<hex of the subject>.<suffix>` (`sig`, `att`, `sbom`). `created` is the config's
 * time (cosign writes the zero time, `0001-01-01T00:00:00Z`).
 */
export async function pushCosignStyle(
  client: RegistryClient,
  repository: string,
  subject: Pushed,
  options: { suffix: 'sig' | 'att' | 'sbom'; created?: string },
): Promise<Pushed> {
  const payload = Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': repository },
        image: { 'docker-manifest-digest': subject.digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
  const payloadDigest = await client.putBlob(repository, payload);
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: options.created ?? '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: [payloadDigest] },
      config: {},
    }),
  );
  const configDigest = await client.putBlob(repository, config);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: configDigest, size: config.length },
    layers: [
      {
        mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
        digest: payloadDigest,
        size: payload.length,
        annotations: {
          'dev.cosignproject.cosign/signature': Buffer.from(`${options.suffix} of ${subject.digest}`).toString(
            'base64',
          ),
        },
      },
    ],
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  await client.putManifest(
    repository,
    `${subject.digest.replace(':', '-')}.${options.suffix}`,
    bytes,
    MediaTypes.ociManifest,
  );
  return { digest: digestOf(bytes), size: bytes.length, mediaType: MediaTypes.ociManifest };
}
