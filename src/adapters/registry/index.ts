/**
 * OCI distribution client with ACR extensions: the registry adapter behind `RegistryClient`.
 * Every repository, tag and digest is validated before it reaches a URL; manifests are verified against
 * their digests; HTTP failures become GuardErrors with stable codes (TRANSIENT ones are retried by Durable).
 */
import { createHash } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { describeFound, ErrorCodes, GuardError, invalidInput } from '../../core/errors';
import { collectListing, LISTING_BOUNDS, linkNext } from '../../core/listing';
import { validateDigest, validateRegistryHost, validateRepository, validateTag } from '../../core/reference';
import { MediaTypes, type Descriptor } from '../../core/types';
import { isAcrHost } from '../../core/acrHost';
import type { AcrManifestInfo, FetchedManifest, ManifestAttributes, Page, RegistryClient } from '../ports';
import { checkedDescriptor, descriptors, nameList, pickAttributes } from './answers';
import { RegistryAuth } from './auth';
import { createTlsFetch } from './tlsFetch';

export { ACR_AAD_SCOPE, parseBearerChallenge } from './auth';

/** Options for {@link createRegistryClient}. */
export interface RegistryClientOptions {
  host: string;
  /** Use http instead of https (loopback registries in tests and the local demo). */
  plainHttp?: boolean;
  /** Entra ID credential (ACR token exchange). */
  credential?: TokenCredential;
  /** Entra ID scope asked of `credential`; default `https://containerregistry.azure.net/.default`. */
  aadScope?: string;
  /** Entra ID tenant sent to `/oauth2/exchange`, when known. */
  tenantId?: string;
  /** HTTP basic credentials (sent to the registry itself or to its own token realm only). */
  basic?: { username: string; password: string };
  userAgent?: string;
  /** Per-request timeout, ms (default 30000). */
  timeoutMs?: number;
  /** Largest manifest (and listing) accepted, bytes (default 4 MiB). */
  maxManifestBytes?: number;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
  /** ACR extensions (`/acr/v1`, quarantine attributes, Entra ID exchange); default: {@link isAcrHost} (public and sovereign clouds). */
  acr?: boolean;
  /** Extra trust for https (tests and local runs with a throw-away CA); ignored when `fetch` is given. */
  tls?: { ca?: string };
}

/** Defaults, in one place. */
export const REGISTRY_DEFAULTS = {
  timeoutMs: 30_000,
  maxManifestBytes: 4 * 1024 * 1024,
  maxBlobBytes: 64 * 1024 * 1024,
  userAgent: 'acr-guard',
  /** Referrers pages followed through `Link` before giving up (a registry that loops must not hang a gate). */
  maxReferrersPages: LISTING_BOUNDS.referrers.maxPages,
} as const;

/** The Accept header for manifests: OCI and Docker types (docker-registry 2.8 answers 404 without them). */
export const MANIFEST_ACCEPT = [
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
].join(', ');

/** sha256/sha512 digest of bytes in OCI form. */
export function digestOf(bytes: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

function verifyDigest(bytes: Buffer, digest: string, what: string): void {
  const algorithm = digest.startsWith('sha512:') ? 'sha512' : 'sha256';
  const actual = digestOf(bytes, algorithm);
  if (actual !== digest)
    throw new GuardError(ErrorCodes.DIGEST_MISMATCH, `${what}: content digest ${actual} does not match ${digest}`);
}

/**
 * True when a manifest reference starts with a digest algorithm (`sha256:`, `sha512:`): it names a digest, not a
 * tag (a tag cannot hold `:`). A prefix test only, to choose between the two: the full digest grammar is core's
 * `isDigest`/`validateDigest`, to which `OciRegistryClient.reference` then holds every digest reference.
 */
function hasDigestPrefix(reference: string): boolean {
  return reference.startsWith('sha256:') || reference.startsWith('sha512:');
}

/** A listing page size: an integer 1..10000 (INVALID_INPUT otherwise). */
function pageSize(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw invalidInput('pageSize', 'an integer from 1 to 10000', n);
  return n;
}

class OciRegistryClient implements RegistryClient {
  readonly host: string;
  private readonly base: string;
  private readonly auth: RegistryAuth;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  private readonly maxManifestBytes: number;
  private readonly userAgent: string;
  private readonly acr: boolean;
  /** Time limits of answers whose body is still to be read, by answer (see {@link request}). */
  private readonly limits = new WeakMap<Response, NodeJS.Timeout>();
  /** False once the registry showed it has no referrers API (then only the tag schema is asked). */
  private referrersApi = true;

  constructor(options: RegistryClientOptions) {
    this.host = validateRegistryHost(options.host, 'host');
    this.base = `${options.plainHttp ? 'http' : 'https'}://${this.host}`;
    this.fetchImpl = options.fetch ?? (options.tls?.ca ? createTlsFetch({ ca: options.tls.ca }) : fetch);
    this.timeoutMs = options.timeoutMs ?? REGISTRY_DEFAULTS.timeoutMs;
    this.maxManifestBytes = options.maxManifestBytes ?? REGISTRY_DEFAULTS.maxManifestBytes;
    this.userAgent = options.userAgent ?? REGISTRY_DEFAULTS.userAgent;
    this.acr = options.acr ?? isAcrHost(this.host);
    this.auth = new RegistryAuth({
      host: this.host,
      plainHttp: options.plainHttp ?? false,
      basic: options.basic,
      credential: options.credential,
      aadScope: options.aadScope,
      tenantId: options.tenantId,
      acr: this.acr,
      fetch: this.fetchImpl,
      timeoutMs: this.timeoutMs,
      userAgent: this.userAgent,
    });
  }

  /** One authenticated request: answers a 401 challenge once, maps failures to codes. */
  private async request(options: {
    method: string;
    path: string;
    scope: string;
    headers?: Record<string, string>;
    body?: Buffer;
    what: string;
    /** Statuses the caller handles itself (not turned into errors). */
    accept?: number[];
    redirect?: 'follow' | 'manual' | 'error';
  }): Promise<Response> {
    const send = async (authorization?: string): Promise<Response> => {
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...options.headers };
      if (authorization) headers.authorization = authorization;
      // The time limit covers the answer and its body; it ends once the body has been read (settle), so no timer
      // outlives its request.
      const controller = new AbortController();
      const limit = setTimeout(
        () => controller.abort(new DOMException(`timed out after ${this.timeoutMs} ms`, 'TimeoutError')),
        this.timeoutMs,
      );
      limit.unref();
      try {
        const res = await this.fetchImpl(`${this.base}${options.path}`, {
          method: options.method,
          headers,
          body: options.body,
          redirect: options.redirect ?? 'follow',
          signal: controller.signal,
        });
        if (res.body === null) clearTimeout(limit);
        else this.limits.set(res, limit);
        return res;
      } catch (err) {
        clearTimeout(limit);
        // undici reports "fetch failed" and keeps the useful part (ECONNREFUSED, a reset, …) in `cause`.
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        const why =
          (err as Error).name === 'TimeoutError'
            ? `timed out after ${this.timeoutMs} ms`
            : `${(err as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
        // Tagged with the host, so the CLI can say what to do (--plain-http, is the registry running?).
        throw Object.assign(
          new GuardError(ErrorCodes.TRANSIENT, `registry ${this.host}: ${options.what} failed: ${why}`, { cause: err }),
          { registryHost: this.host },
        );
      }
    };
    let res = await send(this.auth.cachedHeader(options.scope));
    if (res.status === 401) {
      await this.discard(res);
      const authorization = await this.auth.answer(res.headers.get('www-authenticate'), options.scope);
      if (authorization) res = await send(authorization);
    }
    if (res.ok || options.accept?.includes(res.status)) return res;
    await this.discard(res);
    throw this.httpError(res, options.what);
  }

  /** Ends the time limit of `res` (set by {@link request} until its body has been read). */
  private settle(res: Response): void {
    clearTimeout(this.limits.get(res));
    this.limits.delete(res);
  }

  /** {@link drain}, for a body whose content does not matter: a failed read is ignored too. */
  private async discard(res: Response): Promise<void> {
    await this.drain(res).catch(() => undefined);
  }

  /** Reads and drops the body of an answer that succeeded, ending its time limit (a failed read throws). */
  private async drain(res: Response): Promise<void> {
    try {
      await res.arrayBuffer();
    } finally {
      this.settle(res);
    }
  }

  private httpError(res: Response, what: string): GuardError {
    const status = res.status;
    const where = `registry ${this.host}: ${what}`;
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfter = Number(res.headers.get('retry-after'));
      return new GuardError(ErrorCodes.TRANSIENT, `${where} answered ${status}; retry later`, {
        status,
        retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
      });
    }
    if (status === 401 || status === 403)
      return new GuardError(
        ErrorCodes.REGISTRY_AUTH,
        `${where} was refused (${status}); check the identity's role on the registry`,
        { status },
      );
    if (status === 404) return new GuardError(ErrorCodes.NOT_FOUND, `${where}: not found`, { status });
    return new GuardError(ErrorCodes.REGISTRY_REJECTED, `${where} was rejected (${status})`, { status });
  }

  /** Reads a body, stopping (MALFORMED) as soon as it passes `max` bytes; a stalled or cut body is TRANSIENT. */
  private async readLimited(res: Response, max: number, what: string): Promise<Buffer> {
    try {
      return await this.readWithin(res, max, what);
    } finally {
      this.settle(res);
    }
  }

  private async readWithin(res: Response, max: number, what: string): Promise<Buffer> {
    // No Content-Length (or an empty one) declares nothing: `Number(null)` and `Number('')` would be 0, and a
    // chunked body of any size would then be read whole below.
    const header = res.headers.get('content-length');
    const declared = header === null || header.trim() === '' ? NaN : Number(header);
    if (Number.isFinite(declared) && declared > max) {
      await res.body?.cancel().catch(() => undefined);
      throw new GuardError(
        ErrorCodes.MALFORMED,
        `registry ${this.host}: ${what} is ${declared} bytes, over the ${max}-byte limit`,
      );
    }
    if (!res.body) return Buffer.alloc(0);
    const overLimit = () =>
      new GuardError(ErrorCodes.MALFORMED, `registry ${this.host}: ${what} is over the ${max}-byte limit`);
    const readFailed = (err: unknown): GuardError => {
      const why =
        (err as Error).name === 'TimeoutError' ? `timed out after ${this.timeoutMs} ms` : (err as Error).message;
      return new GuardError(ErrorCodes.TRANSIENT, `registry ${this.host}: reading ${what} failed: ${why}`, {
        cause: err,
      });
    };
    const encoding = (res.headers.get('content-encoding') ?? '').trim().toLowerCase();
    if (Number.isFinite(declared) && declared >= 0 && (encoding === '' || encoding === 'identity')) {
      // Declared and within the bound, as sent: the HTTP client reads exactly that many bytes, so the whole body
      // is read at once (a compressed body is not: fetch inflates it, and only the stream below counts what
      // comes out).
      const body = await res.arrayBuffer().catch((err: unknown) => {
        throw readFailed(err);
      });
      if (body.byteLength > max) throw overLimit();
      return Buffer.from(body);
    }
    const reader = res.body.getReader();
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > max) {
          await reader.cancel().catch(() => undefined);
          throw overLimit();
        }
        chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
    } catch (err) {
      if (err instanceof GuardError) throw err;
      throw readFailed(err);
    }
    return Buffer.concat(chunks);
  }

  /** Parses a JSON object body (MALFORMED otherwise). */
  private async readJson(res: Response, what: string): Promise<Record<string, unknown>> {
    const bytes = await this.readLimited(res, this.maxManifestBytes, what);
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new GuardError(ErrorCodes.MALFORMED, `registry ${this.host}: ${what} is not JSON`);
    }
    if (!value || typeof value !== 'object' || Array.isArray(value))
      throw new GuardError(ErrorCodes.MALFORMED, `registry ${this.host}: ${what} is not a JSON object`);
    return value as Record<string, unknown>;
  }

  private static pull(repository: string): string {
    return `repository:${repository}:pull`;
  }

  private static repoPath(repository: string): string {
    // Validated against the OCI grammar first: only [a-z0-9._/-], so no segment needs encoding.
    return validateRepository(repository);
  }

  private static reference(reference: string): string {
    return hasDigestPrefix(reference) ? validateDigest(reference, 'reference') : validateTag(reference, 'reference');
  }

  async resolveTag(repository: string, tag: string): Promise<string> {
    const repo = OciRegistryClient.repoPath(repository);
    validateTag(tag);
    const res = await this.request({
      method: 'HEAD',
      path: `/v2/${repo}/manifests/${tag}`,
      scope: OciRegistryClient.pull(repo),
      headers: { accept: MANIFEST_ACCEPT },
      what: `resolve ${repo}:${tag}`,
      accept: [405],
    });
    const digest = res.ok ? res.headers.get('docker-content-digest') : null;
    if (digest) return validateDigest(digest, 'Docker-Content-Digest');
    // No digest header (or no HEAD at all): GET computes and verifies it.
    return (await this.getManifest(repo, tag)).digest;
  }

  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const repo = OciRegistryClient.repoPath(repository);
    const ref = OciRegistryClient.reference(reference);
    const what = `manifest ${repo}${hasDigestPrefix(ref) ? '@' : ':'}${ref}`;
    const res = await this.request({
      method: 'GET',
      path: `/v2/${repo}/manifests/${ref}`,
      scope: OciRegistryClient.pull(repo),
      headers: { accept: MANIFEST_ACCEPT },
      what,
    });
    const bytes = await this.readLimited(res, this.maxManifestBytes, what);
    const digest = hasDigestPrefix(ref)
      ? ref
      : validateDigest(res.headers.get('docker-content-digest') ?? digestOf(bytes), 'Docker-Content-Digest');
    verifyDigest(bytes, digest, `registry ${this.host}: ${what}`);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new GuardError(ErrorCodes.MALFORMED, `registry ${this.host}: ${what} is not JSON`);
    }
    if (!json || typeof json !== 'object' || Array.isArray(json))
      throw new GuardError(ErrorCodes.MALFORMED, `registry ${this.host}: ${what} is not a JSON object`);
    const mediaType =
      typeof json.mediaType === 'string'
        ? json.mediaType
        : (res.headers.get('content-type') ?? '').split(';')[0].trim();
    const isIndex =
      mediaType === MediaTypes.ociIndex ||
      mediaType === MediaTypes.dockerManifestList ||
      (Array.isArray(json.manifests) && !json.layers);
    const children = isIndex ? descriptors(json.manifests, 'manifests', what) : [];
    const config = isIndex || json.config === undefined ? undefined : checkedDescriptor(json.config, 'config', what);
    const blobs = isIndex ? [] : [...(config ? [config] : []), ...descriptors(json.layers, 'layers', what)];
    const subject = json.subject === undefined ? undefined : checkedDescriptor(json.subject, 'subject', what);
    return {
      digest,
      mediaType,
      children,
      blobs,
      artifactType:
        typeof json.artifactType === 'string'
          ? json.artifactType
          : config &&
              config.mediaType !== MediaTypes.ociConfig &&
              config.mediaType !== 'application/vnd.docker.container.image.v1+json' &&
              config.mediaType !== MediaTypes.ociEmpty
            ? config.mediaType
            : undefined,
      subject,
      annotations:
        json.annotations && typeof json.annotations === 'object'
          ? (json.annotations as Record<string, string>)
          : undefined,
      size: bytes.length,
      bytes,
      json,
    };
  }

  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const repo = OciRegistryClient.repoPath(repository);
    const ref = OciRegistryClient.reference(reference);
    if (hasDigestPrefix(ref)) verifyDigest(bytes, ref, `manifest for ${repo}@${ref}`);
    const res = await this.request({
      method: 'PUT',
      path: `/v2/${repo}/manifests/${ref}`,
      scope: `repository:${repo}:pull,push`,
      headers: { 'content-type': mediaType },
      body: bytes,
      what: `put manifest ${repo}${hasDigestPrefix(ref) ? '@' : ':'}${ref}`,
    });
    await this.drain(res);
    const reported = res.headers.get('docker-content-digest');
    if (!reported) return hasDigestPrefix(ref) ? ref : digestOf(bytes);
    validateDigest(reported, 'Docker-Content-Digest');
    // The registry must have stored exactly these bytes.
    const algorithm = reported.startsWith('sha512:') ? 'sha512' : 'sha256';
    if (reported !== digestOf(bytes, algorithm))
      throw new GuardError(
        ErrorCodes.DIGEST_MISMATCH,
        `registry ${this.host}: put manifest ${repo}: the registry reports ${reported}, the bytes sent are ${digestOf(bytes, algorithm)}`,
      );
    return reported;
  }

  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    const repo = OciRegistryClient.repoPath(repository);
    validateDigest(digest);
    const res = await this.request({
      method: 'DELETE',
      path: `/v2/${repo}/manifests/${digest}`,
      scope: `repository:${repo}:delete`,
      what: `delete ${repo}@${digest}`,
      accept: [404],
    });
    await this.drain(res);
    // A 404 counts as done: someone (or an earlier attempt) deleted it already.
    return res.status !== 404;
  }

  async getBlob(
    repository: string,
    digest: string,
    maxBytes: number = REGISTRY_DEFAULTS.maxBlobBytes,
  ): Promise<Buffer> {
    const repo = OciRegistryClient.repoPath(repository);
    validateDigest(digest);
    const what = `blob ${repo}@${digest}`;
    const res = await this.request({
      method: 'GET',
      path: `/v2/${repo}/blobs/${digest}`,
      scope: OciRegistryClient.pull(repo),
      what,
    });
    const bytes = await this.readLimited(res, maxBytes, what);
    verifyDigest(bytes, digest, `registry ${this.host}: ${what}`);
    return bytes;
  }

  private async blobExists(repo: string, digest: string): Promise<boolean> {
    const res = await this.request({
      method: 'HEAD',
      path: `/v2/${repo}/blobs/${digest}`,
      scope: OciRegistryClient.pull(repo),
      what: `check blob ${repo}@${digest}`,
      accept: [404],
    });
    return res.status !== 404;
  }

  /** Monolithic upload: POST to start, PUT with the digest. Location may be relative or absolute. */
  async putBlob(repository: string, bytes: Buffer): Promise<string> {
    const repo = OciRegistryClient.repoPath(repository);
    const digest = digestOf(bytes);
    if (await this.blobExists(repo, digest)) return digest;
    const scope = `repository:${repo}:pull,push`;
    const started = await this.request({
      method: 'POST',
      path: `/v2/${repo}/blobs/uploads/`,
      scope,
      what: `start upload to ${repo}`,
    });
    await this.drain(started);
    const location = this.uploadPath(started.headers.get('location'), repo);
    const sep = location.includes('?') ? '&' : '?';
    const done = await this.request({
      method: 'PUT',
      path: `${location}${sep}digest=${encodeURIComponent(digest)}`,
      scope,
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
      what: `upload blob to ${repo}`,
    });
    await this.drain(done);
    return digest;
  }

  /** An upload Location must stay on this registry; returns its path and query. */
  private uploadPath(location: string | null, repo: string): string {
    if (!location)
      throw new GuardError(ErrorCodes.MALFORMED, `registry ${this.host}: upload to ${repo} returned no Location`);
    const url = new URL(location, this.base);
    if (url.host !== this.host)
      throw new GuardError(
        ErrorCodes.REGISTRY_REJECTED,
        `registry ${this.host}: upload Location points at another host; refused`,
      );
    return `${url.pathname}${url.search}`;
  }

  async mountBlob(targetRepository: string, digest: string, fromRepository: string): Promise<void> {
    const target = OciRegistryClient.repoPath(targetRepository);
    const from = OciRegistryClient.repoPath(fromRepository);
    validateDigest(digest);
    if (await this.blobExists(target, digest)) return;
    const res = await this.request({
      method: 'POST',
      path: `/v2/${target}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      scope: `repository:${target}:pull,push repository:${from}:pull`,
      what: `mount ${digest} from ${from} into ${target}`,
    });
    await this.drain(res);
    if (res.status === 201) return;
    // 202: the registry started an upload instead of mounting; copy the blob through it.
    const bytes = await this.getBlob(from, digest);
    const location = this.uploadPath(res.headers.get('location'), target);
    const sep = location.includes('?') ? '&' : '?';
    const done = await this.request({
      method: 'PUT',
      path: `${location}${sep}digest=${encodeURIComponent(digest)}`,
      scope: `repository:${target}:pull,push`,
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
      what: `copy blob into ${target}`,
    });
    await this.drain(done);
  }

  async listReferrers(repository: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    const repo = OciRegistryClient.repoPath(repository);
    validateDigest(digest);
    const filter = (list: Descriptor[]): Descriptor[] =>
      artifactType ? list.filter((d) => d.artifactType === artifactType) : list;
    if (this.referrersApi) {
      const found = await this.referrersFromApi(repo, digest, artifactType);
      if (found) return filter(found);
      // The distribution spec forbids a 404 from a registry that has the referrers API: this one has none,
      // so later calls go straight to the tag schema (one round trip fewer per image).
      this.referrersApi = false;
    }
    // Fallback tag schema (OCI distribution 1.1): an index tagged `<alg>-<hex>` lists the referrers.
    const fallbackTag = digest.replace(':', '-');
    try {
      const index = await this.getManifest(repo, fallbackTag);
      return filter(index.children);
    } catch (err) {
      if (err instanceof GuardError && err.code === ErrorCodes.NOT_FOUND) return [];
      throw err;
    }
  }

  /**
   * The referrers API, following `Link` pages through the shared listing guard (LISTING_BOUNDS.referrers: a
   * loop, a page adding nothing new, too many pages or entries, a link off the listing end it with an error);
   * undefined when the registry has no such API.
   */
  private async referrersFromApi(
    repo: string,
    digest: string,
    artifactType?: string,
  ): Promise<Descriptor[] | undefined> {
    const what = `referrers of ${repo}@${digest}`;
    const firstPath = `/v2/${repo}/referrers/${digest}`;
    const first = `${firstPath}${artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''}`;
    let none = false;
    const found = await collectListing<Descriptor>(
      `registry ${this.host}: ${what}`,
      LISTING_BOUNDS.referrers,
      async (cursor) => {
        const path = cursor ?? first;
        const firstPage = cursor === first;
        const res = await this.request({
          method: 'GET',
          path,
          scope: OciRegistryClient.pull(repo),
          headers: { accept: MediaTypes.ociIndex },
          what,
          accept: [404, 405],
        });
        if (!res.ok || !(res.headers.get('content-type') ?? '').startsWith(MediaTypes.ociIndex)) {
          await this.discard(res);
          if (firstPage) {
            none = true;
            return { items: [] };
          }
          throw new GuardError(
            ErrorCodes.MALFORMED,
            `registry ${this.host}: a later page of ${what} is not an image index (${res.status})`,
          );
        }
        const index = await this.readJson(res, what);
        const items = descriptors(index.manifests, 'manifests', what);
        const next = linkNext(res.headers.get('link'), `registry ${this.host}: ${what}`);
        if (next === undefined) return { items };
        // A next page must stay on this registry and on this listing: never follow a link elsewhere.
        const url = this.sameListing(next, path, firstPath, `registry ${this.host}: ${what}`);
        return { items, next: `${url.pathname}${url.search}` };
      },
      (d) => d.digest,
      { duplicates: 'ignore', nowMs: Date.now, first },
    );
    return none ? undefined : found;
  }

  /** A `Link` target resolved against the page that sent it; LISTING_INVALID unless it is `path` on this registry. */
  private sameListing(target: string, from: string, path: string, what: string): URL {
    let url: URL;
    try {
      url = new URL(target, `${this.base}${from}`);
    } catch {
      throw new GuardError(
        ErrorCodes.LISTING_INVALID,
        `${what}: the next-page link is not a URL; the listing was refused`,
      );
    }
    if (url.origin !== new URL(this.base).origin || url.pathname !== path || url.username || url.password) {
      throw new GuardError(
        ErrorCodes.LISTING_INVALID,
        `${what}: the next-page link points outside the listing (another host, scheme or path); refused`,
      );
    }
    return url;
  }

  /**
   * The `last` continuation of a tags, catalog or `_manifests` page from its `Link` header: the link must stay
   * on this listing (LISTING_INVALID otherwise), carry a `last` (a link without one is the first page again:
   * LISTING_LOOP), and that `last` must be a valid name of its kind (LISTING_INVALID).
   */
  private continuation(
    res: Response,
    from: string,
    path: string,
    what: string,
    validate: (value: string, field: string) => string,
  ): string | undefined {
    const where = `registry ${this.host}: ${what}`;
    const target = linkNext(res.headers.get('link'), where);
    if (target === undefined) return undefined;
    const last = this.sameListing(target, from, path, where).searchParams.get('last');
    if (last === null || last === '')
      throw new GuardError(
        ErrorCodes.LISTING_LOOP,
        `${where}: the next-page link has no "last" (it points back to the first page); refused`,
      );
    try {
      return validate(last, 'last');
    } catch {
      throw new GuardError(
        ErrorCodes.LISTING_INVALID,
        `${where}: the next-page link's "last" is not a valid name (${describeFound(last)}); refused`,
      );
    }
  }

  async listTags(repository: string, options: { pageSize?: number; last?: string } = {}): Promise<Page<string>> {
    const repo = OciRegistryClient.repoPath(repository);
    const params = new URLSearchParams();
    if (options.pageSize !== undefined) params.set('n', String(pageSize(options.pageSize)));
    if (options.last) params.set('last', validateTag(options.last, 'last'));
    const qs = params.toString();
    const path = `/v2/${repo}/tags/list`;
    const from = `${path}${qs ? `?${qs}` : ''}`;
    const what = `tags of ${repo}`;
    const res = await this.request({ method: 'GET', path: from, scope: OciRegistryClient.pull(repo), what });
    const body = await this.readJson(res, what);
    const tags = nameList(body.tags, 'tags', validateTag, `registry ${this.host}: ${what}`);
    return { items: tags, next: this.continuation(res, from, path, what, validateTag) };
  }

  async listRepositories(options: { pageSize?: number; last?: string } = {}): Promise<Page<string>> {
    const params = new URLSearchParams();
    if (options.pageSize !== undefined) params.set('n', String(pageSize(options.pageSize)));
    if (options.last) params.set('last', validateRepository(options.last, 'last'));
    const qs = params.toString();
    const from = `/v2/_catalog${qs ? `?${qs}` : ''}`;
    const res = await this.request({ method: 'GET', path: from, scope: 'registry:catalog:*', what: 'catalog' });
    const body = await this.readJson(res, 'catalog');
    const repos = nameList(body.repositories, 'repositories', validateRepository, `registry ${this.host}: catalog`);
    return { items: repos, next: this.continuation(res, from, '/v2/_catalog', 'catalog', validateRepository) };
  }

  supportsAcrAttributes(): boolean {
    return this.acr;
  }

  private requireAcr(operation: string): void {
    if (!this.acr)
      throw new GuardError(
        ErrorCodes.UNSUPPORTED,
        `registry ${this.host} is not an Azure Container Registry: ${operation} needs ACR's /acr/v1 API`,
      );
  }

  async listAcrManifests(
    repository: string,
    options: { pageSize?: number; last?: string } = {},
  ): Promise<Page<AcrManifestInfo>> {
    this.requireAcr('listing manifests with their times and attributes');
    const repo = OciRegistryClient.repoPath(repository);
    const params = new URLSearchParams();
    if (options.pageSize !== undefined) params.set('n', String(pageSize(options.pageSize)));
    if (options.last) params.set('last', validateDigest(options.last, 'last'));
    const qs = params.toString();
    const what = `manifests of ${repo}`;
    const from = `/acr/v1/${repo}/_manifests${qs ? `?${qs}` : ''}`;
    const res = await this.request({ method: 'GET', path: from, scope: `repository:${repo}:metadata_read`, what });
    const body = await this.readJson(res, what);
    const where = `registry ${this.host}: ${what}`;
    if (body.manifests !== undefined && !Array.isArray(body.manifests))
      throw new GuardError(ErrorCodes.MALFORMED, `${where}: manifests is not an array`);
    const items = ((body.manifests as unknown[] | undefined) ?? []).map((value, i): AcrManifestInfo => {
      if (!value || typeof value !== 'object')
        throw new GuardError(ErrorCodes.MALFORMED, `${where}: manifests[${i}] is not an object`);
      const m = value as Record<string, unknown>;
      const digest = validateDigest(m.digest as string, `manifests[${i}].digest`);
      const text = (field: string): string | undefined => {
        if (m[field] === undefined || m[field] === null) return undefined;
        if (typeof m[field] !== 'string')
          throw new GuardError(ErrorCodes.MALFORMED, `${where}: manifests[${i}].${field} is not a string`);
        return m[field];
      };
      if (
        m.tags !== undefined &&
        m.tags !== null &&
        !(Array.isArray(m.tags) && m.tags.every((t) => typeof t === 'string'))
      )
        throw new GuardError(ErrorCodes.MALFORMED, `${where}: manifests[${i}].tags is not a list of strings`);
      const out: AcrManifestInfo = {
        digest,
        tags: ((m.tags as string[] | null | undefined) ?? []).slice(),
        changeableAttributes: pickAttributes(m.changeableAttributes, `${where}: manifests[${i}]`),
      };
      const mediaType = text('mediaType');
      if (mediaType !== undefined) out.mediaType = mediaType;
      const created = text('createdTime');
      if (created !== undefined) out.createdTime = created;
      const updated = text('lastUpdateTime');
      if (updated !== undefined) out.lastUpdateTime = updated;
      if (typeof m.imageSize === 'number' && Number.isFinite(m.imageSize) && m.imageSize >= 0)
        out.imageSize = m.imageSize;
      if (Array.isArray(m.references)) {
        out.references = m.references.map((r, j) =>
          validateDigest(
            (r as { digest?: string } | null)?.digest as string,
            `manifests[${i}].references[${j}].digest`,
          ),
        );
      }
      return out;
    });
    return { items, next: this.continuation(res, from, `/acr/v1/${repo}/_manifests`, what, validateDigest) };
  }

  async getManifestAttributes(repository: string, digest: string): Promise<ManifestAttributes & { tags: string[] }> {
    this.requireAcr('reading manifest attributes');
    const repo = OciRegistryClient.repoPath(repository);
    validateDigest(digest);
    const what = `attributes of ${repo}@${digest}`;
    const res = await this.request({
      method: 'GET',
      path: `/acr/v1/${repo}/_manifests/${digest}`,
      scope: OciRegistryClient.pull(repo),
      what,
    });
    // ACR answers `{ registry, imageName, manifest: { digest, …, changeableAttributes } }`.
    const body = (await this.readJson(res, what)) as {
      manifest?: { changeableAttributes?: unknown; tags?: unknown };
      changeableAttributes?: unknown;
    };
    const attributes = pickAttributes(
      body.manifest?.changeableAttributes ?? body.changeableAttributes,
      `registry ${this.host}: ${what}`,
    );
    // ACR leaves `tags` out (or null) for an untagged manifest.
    const tags = body.manifest?.tags ?? [];
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string'))
      throw new GuardError(
        ErrorCodes.MALFORMED,
        `registry ${this.host}: ${what}: manifest.tags is not a list of strings`,
      );
    return { ...attributes, tags: tags as string[] };
  }

  async setManifestAttributes(repository: string, digest: string, attributes: ManifestAttributes): Promise<void> {
    this.requireAcr('changing manifest attributes');
    const repo = OciRegistryClient.repoPath(repository);
    validateDigest(digest);
    // Only the documented changeable attributes are sent, whatever else the caller's object carries.
    attributes = pickAttributes(attributes, 'attributes', true);
    const res = await this.request({
      method: 'PATCH',
      path: `/acr/v1/${repo}/_manifests/${digest}`,
      scope: `repository:${repo}:metadata_write`,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(attributes)),
      what: `update attributes of ${repo}@${digest}`,
    });
    await this.drain(res);
  }
}

/** Creates a client for one registry host. */
export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  return new OciRegistryClient(options);
}
