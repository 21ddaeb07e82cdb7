/**
 * An in-memory OCI registry on loopback that enforces the Docker token authentication contract, for tests
 * of the registry client's auth and of the parts Debian's docker-registry 2.8 lacks (the referrers API).
 *
 * - Every `/v2/…` request needs `Authorization: Bearer <token>` whose granted scope covers the repository
 *   and action (`pull` for GET/HEAD, `push` for POST/PUT/PATCH, `delete` for DELETE); otherwise a 401 with
 *   `WWW-Authenticate: Bearer realm="<realm>",service="<host>",scope="repository:<name>:<action>"`.
 * - `GET <realm>?service=&scope=…` (scopes repeated) issues tokens: the service must be this host; with
 *   `users`, HTTP basic credentials must match (anonymous callers get nothing); tokens expire per `expiresIn`.
 * - Manifests answer 404 unless the Accept header lists the manifest's media type (as 2.8 does).
 * - `GET /v2/<name>/referrers/<digest>` pages `referrersPageSize` descriptors at a time through `Link`,
 *   filtering by `artifactType` (and saying so in `OCI-Filters-Applied`).
 * Nothing here echoes what the client sent: tokens are opaque ids the server looks up.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { sendJson, startLoopback, type LoopbackServer, type SeenRequest } from './loopbackHttp';

/** Options of {@link startTokenRegistry}. */
export interface TokenRegistryOptions {
  /** Basic credentials the token endpoint accepts; without them it serves anonymous tokens. */
  users?: Record<string, string>;
  /** `expires_in` of issued tokens, seconds (default 300; 0 leaves it out). */
  expiresIn?: number;
  /** Realm to advertise instead of this server's own `/token` (to test hostile realms). */
  realm?: string;
  /** Referrers per page (default 2). */
  referrersPageSize?: number;
  /** Serve the referrers API (default true). */
  referrersApi?: boolean;
}

/** A running token registry. */
export interface TokenRegistry extends LoopbackServer {
  /** Forget every token issued so far (as when a token is revoked or the signing key rotates). */
  revokeTokens(): void;
  /** Tokens issued, with their granted scope strings. */
  issued: Array<{ token: string; scopes: string[]; user?: string }>;
  /** Pre-loads a manifest (bytes as given). */
  addManifest(repo: string, bytes: Buffer, mediaType: string, tag?: string): string;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Starts the registry. */
export async function startTokenRegistry(options: TokenRegistryOptions = {}): Promise<TokenRegistry> {
  const tokens = new Map<string, { scopes: string[]; expiresAt: number }>();
  const issued: TokenRegistry['issued'] = [];
  const manifests = new Map<string, { bytes: Buffer; mediaType: string }>(); // repo@digest
  const tags = new Map<string, Map<string, string>>(); // repo -> tag -> digest
  const blobs = new Map<string, Buffer>(); // repo@digest
  let counter = 0;
  let host = '';

  const addManifest = (repo: string, bytes: Buffer, mediaType: string, tag?: string): string => {
    const digest = sha256(bytes);
    manifests.set(`${repo}@${digest}`, { bytes, mediaType });
    if (tag) {
      if (!tags.has(repo)) tags.set(repo, new Map());
      tags.get(repo)?.set(tag, digest);
    }
    return digest;
  };

  const allowed = (req: SeenRequest, repo: string, action: string): boolean => {
    const token = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const grant = token ? tokens.get(token) : undefined;
    if (!grant || grant.expiresAt < Date.now()) return false;
    return grant.scopes.some((s) => {
      const [type, name, actions] = s.split(':');
      return type === 'repository' && name === repo && actions.split(',').includes(action);
    });
  };

  const challenge = (res: ServerResponse, scope: string): void => {
    const realm = options.realm ?? `http://${host}/token`;
    res.writeHead(401, {
      'www-authenticate': `Bearer realm="${realm}",service="${host}",scope="${scope}"`,
      'content-type': 'application/json',
    });
    res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
  };

  const issue = (req: SeenRequest, res: ServerResponse): void => {
    if (req.query.get('service') !== host) return sendJson(res, 400, { errors: [{ code: 'INVALID_SERVICE' }] });
    let user: string | undefined;
    if (options.users) {
      const basic = /^Basic (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
      const [name, password] = basic ? Buffer.from(basic, 'base64').toString().split(/:(.*)/s) : [];
      if (!name || options.users[name] !== password) return sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] });
      user = name;
    }
    const scopes = req.query.getAll('scope');
    if (scopes.some((s) => !/^repository:[a-z0-9._/-]+:[a-z,]+$/.test(s) && s !== 'registry:catalog:*'))
      return sendJson(res, 400, { errors: [{ code: 'INVALID_SCOPE' }] });
    const token = `t${++counter}`;
    const expiresIn = options.expiresIn ?? 300;
    tokens.set(token, { scopes, expiresAt: Date.now() + (expiresIn || 60) * 1000 });
    issued.push({ token, scopes, user });
    sendJson(res, 200, expiresIn ? { token, expires_in: expiresIn } : { token });
  };

  const server = await startLoopback((req, res) => {
    if (req.method === 'GET' && req.path === '/token') return issue(req, res);
    const m = /^\/v2\/(.+?)\/(manifests|blobs|referrers|tags)\/(.*)$/.exec(req.path);
    if (!m) return sendJson(res, 404, { errors: [{ code: 'NOT_FOUND' }] });
    const [, repo, kind, rest] = m;
    const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : req.method === 'DELETE' ? 'delete' : 'push';
    if (!allowed(req, repo, action)) return challenge(res, `repository:${repo}:${action}`);
    if (kind === 'manifests') {
      if (req.method === 'PUT') {
        const mediaType = String(req.headers['content-type']);
        const digest = addManifest(repo, req.body, mediaType, rest.startsWith('sha256:') ? undefined : rest);
        res.writeHead(201, { 'docker-content-digest': digest, location: `/v2/${repo}/manifests/${digest}` }).end();
        return;
      }
      const digest = rest.startsWith('sha256:') ? rest : tags.get(repo)?.get(rest);
      const found = digest ? manifests.get(`${repo}@${digest}`) : undefined;
      if (req.method === 'DELETE') {
        if (!found) return sendJson(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
        manifests.delete(`${repo}@${digest}`);
        res.writeHead(202).end();
        return;
      }
      if (!found || !String(req.headers.accept ?? '').includes(found.mediaType))
        return sendJson(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
      res.writeHead(200, {
        'content-type': found.mediaType,
        'docker-content-digest': digest as string,
        'content-length': String(found.bytes.length),
      });
      res.end(req.method === 'HEAD' ? undefined : found.bytes);
      return;
    }
    if (kind === 'blobs') {
      if (req.method === 'POST' && rest === 'uploads/') {
        res.writeHead(202, { location: `/v2/${repo}/blobs/uploads/u${++counter}?state=x` }).end();
        return;
      }
      if (req.method === 'PUT' && rest.startsWith('uploads/')) {
        const digest = req.query.get('digest') ?? '';
        if (sha256(req.body) !== digest) return sendJson(res, 400, { errors: [{ code: 'DIGEST_INVALID' }] });
        blobs.set(`${repo}@${digest}`, req.body);
        res.writeHead(201, { 'docker-content-digest': digest }).end();
        return;
      }
      const blob = blobs.get(`${repo}@${rest}`);
      if (!blob) return sendJson(res, 404, { errors: [{ code: 'BLOB_UNKNOWN' }] });
      res.writeHead(200, { 'content-length': String(blob.length) }).end(req.method === 'HEAD' ? undefined : blob);
      return;
    }
    if (kind === 'referrers') {
      if (options.referrersApi === false) return sendJson(res, 404, { errors: [{ code: 'NOT_FOUND' }] });
      const subject = rest;
      const artifactType = req.query.get('artifactType');
      const all = [...manifests.entries()]
        .filter(([key]) => key.startsWith(`${repo}@`))
        .map(([key, value]) => ({
          digest: key.slice(repo.length + 1),
          ...value,
          json: JSON.parse(value.bytes.toString()) as {
            subject?: { digest: string };
            artifactType?: string;
            annotations?: Record<string, string>;
          },
        }))
        .filter((e) => e.json.subject?.digest === subject)
        .filter((e) => !artifactType || e.json.artifactType === artifactType)
        .sort((a, b) => a.digest.localeCompare(b.digest))
        .map((e) => ({
          mediaType: e.mediaType,
          digest: e.digest,
          size: e.bytes.length,
          artifactType: e.json.artifactType,
          annotations: e.json.annotations,
        }));
      const size = options.referrersPageSize ?? 2;
      const start = Number(req.query.get('page') ?? '0');
      const page = all.slice(start, start + size);
      const headers: Record<string, string> = {};
      if (artifactType) headers['oci-filters-applied'] = 'artifactType';
      if (start + size < all.length) {
        const next = new URLSearchParams(req.query);
        next.set('page', String(start + size));
        headers.link = `</v2/${repo}/referrers/${subject}?${next}>; rel="next"`;
      }
      return sendJson(
        res,
        200,
        { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: page },
        { ...headers, 'content-type': 'application/vnd.oci.image.index.v1+json' },
      );
    }
    // tags/list with n/last paging
    const all = [...(tags.get(repo)?.keys() ?? [])].sort();
    const last = req.query.get('last');
    const n = Number(req.query.get('n') ?? '1000');
    const rest2 = last ? all.filter((t) => t > last) : all;
    const page = rest2.slice(0, n);
    const headers: Record<string, string> = {};
    if (rest2.length > n)
      headers.link = `</v2/${repo}/tags/list?n=${n}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"`;
    return sendJson(res, 200, { name: repo, tags: page }, headers);
  });
  host = server.host;
  return {
    ...server,
    issued,
    addManifest,
    revokeTokens: () => tokens.clear(),
  };
}
