/**
 * A loopback HTTPS stand-in for Key Vault keys (api-version 7.x), speaking the documented REST contract to the
 * real `@azure/keyvault-keys` clients: challenge-based auth (an unauthenticated request gets 401 with
 * `WWW-Authenticate: Bearer authorization=…, resource=…`), `GET /keys/<name>[/<version>]` answers the public
 * JWK, `POST /keys/<name>/<version>/sign` `{alg: "ES256", value: <base64url digest>}` signs the digest with the
 * EC P-256 key the server holds and answers `{kid, value: <base64url r||s>}`. The private key never leaves it.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { TEST_TOKEN } from './azureStandIns';
import { startHttpsServer, type RouteResponse, type TestHttpsServer } from './httpsServer';

/** A running Key Vault keys stand-in holding one key. */
export interface KeyVaultKeysStandIn {
  server: TestHttpsServer;
  vaultUrl: string;
  /** `https://127.0.0.1:<port>/keys/<name>/<version>` */
  keyId: string;
  /** The held key's public half (what `az keyvault key download` would give). */
  publicKey: KeyObject;
  /** Digests signed, base64url, in order. */
  signed: string[];
  /** Answers queued for the next sign requests (after authentication). */
  signFaults: RouteResponse[];
}

/** Starts the stand-in with a fresh EC P-256 key named `name`. */
export async function startKeyVaultKeys(name = 'acr-guard-attestation'): Promise<KeyVaultKeysStandIn> {
  const server = await startHttpsServer();
  const version = randomBytes(16).toString('hex');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  const privateScalar = BigInt(
    `0x${Buffer.from((privateKey.export({ format: 'jwk' }) as { d: string }).d, 'base64url').toString('hex')}`,
  );
  const keyId = `${server.url}/keys/${name}/${version}`;
  const state: KeyVaultKeysStandIn = { server, vaultUrl: server.url, keyId, publicKey, signed: [], signFaults: [] };
  const challenge: RouteResponse = {
    status: 401,
    headers: {
      'www-authenticate':
        'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"',
    },
    body: { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
  };
  const bundle = {
    key: { kid: keyId, kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, key_ops: ['sign', 'verify'] },
    attributes: { enabled: true, created: 1, updated: 1, recoveryLevel: 'Recoverable+Purgeable' },
  };
  server.route('*', /^\/keys\/[^/]+(\/[^/]*)?(\/sign)?$/, (req) => {
    if (!/^7\.\d+(-preview)?$|^2025-07-01$/.test(req.query.get('api-version') ?? ''))
      return { status: 400, body: { error: { code: 'BadParameter', message: 'api-version' } } };
    if (req.headers.authorization !== `Bearer ${TEST_TOKEN}`) return challenge;
    const [, , keyName, keyVersion = '', op] = req.path.split('/');
    if (keyName !== name || (keyVersion !== '' && keyVersion !== version))
      return {
        status: 404,
        body: { error: { code: 'KeyNotFound', message: `A key with (name/id) ${keyName} was not found` } },
      };
    if (req.method === 'GET' && op === undefined) return { status: 200, body: bundle };
    if (req.method === 'POST' && op === 'sign') {
      const fault = state.signFaults.shift();
      if (fault) return fault;
      const body = req.json as { alg?: string; value?: string } | undefined;
      if (body?.alg !== 'ES256' || typeof body.value !== 'string')
        return { status: 400, body: { error: { code: 'BadParameter', message: 'alg ES256 and value are required' } } };
      const digest = Buffer.from(body.value, 'base64url');
      if (digest.length !== 32)
        return { status: 400, body: { error: { code: 'BadParameter', message: 'ES256 signs a 32-byte digest' } } };
      state.signed.push(body.value);
      // Sign the digest as given (no re-hash), r||s: what Key Vault answers for ES256.
      const sig = ecdsaSignDigest(privateScalar, digest);
      return { status: 200, body: { kid: keyId, value: sig.toString('base64url') } };
    }
    return { status: 405, body: { error: { code: 'MethodNotAllowed', message: req.method } } };
  });
  return state;
}

// ECDSA P-256 over a given 32-byte digest (node signs messages, hashing them first; Key Vault signs digests).
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const G: Point = [
  0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
];
type Point = [bigint, bigint] | null;

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function inverse(a: bigint, m: bigint): bigint {
  let [x, y, r0, r1] = [1n, 0n, mod(a, m), m];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [x, y] = [y, x - q * y];
  }
  return mod(x, m);
}

function add(p1: Point, p2: Point): Point {
  if (!p1) return p2;
  if (!p2) return p1;
  const [x1, y1] = p1;
  const [x2, y2] = p2;
  if (x1 === x2 && mod(y1 + y2, P) === 0n) return null;
  const l =
    x1 === x2 && y1 === y2
      ? mod((3n * x1 * x1 - 3n) * inverse(2n * y1, P), P)
      : mod((y2 - y1) * inverse(x2 - x1, P), P);
  const x3 = mod(l * l - x1 - x2, P);
  return [x3, mod(l * (x1 - x3) - y1, P)];
}

function multiply(k: bigint, point: Point): Point {
  let result: Point = null;
  let addend = point;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) result = add(result, addend);
    addend = add(addend, addend);
  }
  return result;
}

/** r||s (32 bytes each) of the digest under the private scalar `d`. */
function ecdsaSignDigest(d: bigint, digest: Buffer): Buffer {
  const e = BigInt(`0x${digest.toString('hex')}`);
  for (;;) {
    const k = mod(BigInt(`0x${randomBytes(32).toString('hex')}`), N);
    if (k === 0n) continue;
    const r = mod((multiply(k, G) as [bigint, bigint])[0], N);
    const s = mod(inverse(k, N) * (e + r * d), N);
    if (r === 0n || s === 0n) continue;
    const hex = (v: bigint) => v.toString(16).padStart(64, '0');
    return Buffer.from(hex(r) + hex(s), 'hex');
  }
}
