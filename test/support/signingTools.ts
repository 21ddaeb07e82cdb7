/**
 * The real signing tools for interop tests: `notation`, `cosign` and `oras`, built by
 * `scripts/ensure-tools.sh` into `.tools/bin`, plus a test PKI made with `openssl` and a JWS builder for the
 * negative cases no tool will produce (weak key, `alg: none`, unknown critical header). Each helper runs
 * the tool with its own config directory under a temp dir, so nothing touches the user's notation setup.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Requirement } from './required';
import { createPrivateKey, createHash, sign as cryptoSign, constants } from 'node:crypto';

const run = promisify(execFile);

/** Where ensure-tools.sh puts the Go tools. */
export const TOOLS_BIN = resolve(__dirname, '../../.tools/bin');

/** Path of a tool in `.tools/bin`, or on PATH. */
export function tool(name: 'notation' | 'cosign' | 'oras'): string | undefined {
  const local = join(TOOLS_BIN, name);
  return existsSync(local) ? local : undefined;
}

/** True when notation, cosign, oras and openssl are all present. */
export const haveSigningTools = ['notation', 'cosign', 'oras'].every((n) => tool(n as 'notation') !== undefined);
/** The tools as a requirement of a test block (see `describeRequiring` in ./required). */
export const signingTools: Requirement = {
  present: haveSigningTools,
  what: 'notation, cosign and oras in .tools/bin',
  how: 'scripts/ensure-tools.sh builds them when Go is installed',
};

/** Runs a tool; rejects with its stderr on a non-zero exit. */
export async function exec(
  file: string,
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(file, args, { env: { ...process.env, ...env }, cwd, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${file.split('/').pop()} ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

/** A certificate and key on disk. */
export interface Issued {
  cert: string;
  key: string;
  /** Leaf + issuing chain, PEM (what notation's signingkeys.json `certPath` wants). */
  chain: string;
}

const LEAF_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n';

/** Makes a self-signed root CA with openssl. */
export async function makeCa(dir: string, name: string, subject: string): Promise<Issued> {
  mkdirSync(dir, { recursive: true });
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  await exec('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '3650',
    '-subj',
    subject,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key, chain: cert };
}

/** Issues a code-signing leaf from `ca` with openssl (`keyBits` lets a test make a weak key). */
export async function issueLeaf(
  dir: string,
  name: string,
  subject: string,
  ca: Issued,
  options: { keyBits?: number; days?: number; extensions?: string } = {},
): Promise<Issued> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, options.extensions ?? LEAF_EXT);
  await exec('openssl', [
    'req',
    '-newkey',
    `rsa:${options.keyBits ?? 2048}`,
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    subject,
  ]);
  await exec('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    String(options.days ?? 365),
    '-extfile',
    ext,
    '-sha256',
  ]);
  const chain = join(dir, `${name}.chain.pem`);
  writeFileSync(chain, readFileSync(cert, 'utf8') + readFileSync(ca.cert, 'utf8'));
  return { cert, key, chain };
}

/** A notation home (XDG_CONFIG_HOME) with signing keys and a trust store written by `notation cert add`. */
export interface NotationHome {
  env: Record<string, string>;
  /** `<home>/notation/truststore`: a notation trust store directory, usable as `--trust-store`. */
  trustStore: string;
  /** `<home>/notation/trustpolicy.json`. */
  trustPolicyFile: string;
}

/** Creates a notation home: signing keys (name → issued leaf), CA stores, and a trust policy document. */
export async function notationHome(
  dir: string,
  options: { keys: Record<string, Issued>; caStores: Record<string, string[]>; trustPolicy: unknown },
): Promise<NotationHome> {
  const config = join(dir, 'notation');
  mkdirSync(config, { recursive: true });
  const names = Object.keys(options.keys);
  writeFileSync(
    join(config, 'signingkeys.json'),
    JSON.stringify({
      default: names[0],
      keys: names.map((name) => ({ name, keyPath: options.keys[name].key, certPath: options.keys[name].chain })),
    }),
  );
  const env = { XDG_CONFIG_HOME: dir, HOME: dir, NOTATION_EXPERIMENTAL: '' };
  const notation = tool('notation') as string;
  for (const [store, certs] of Object.entries(options.caStores))
    await exec(notation, ['cert', 'add', '--type', 'ca', '--store', store, ...certs], env);
  const trustPolicyFile = join(config, 'trustpolicy.json');
  writeFileSync(trustPolicyFile, JSON.stringify(options.trustPolicy, null, 2));
  return { env, trustStore: join(config, 'truststore'), trustPolicyFile };
}

/** Signs `ref` (`host/repo@digest`) with notation (JWS envelope unless told, plain-http loopback registry). */
export async function notationSign(
  home: NotationHome,
  ref: string,
  options: { key?: string; expiry?: string; format?: 'jws' | 'cose' } = {},
): Promise<void> {
  const args = ['sign', '--insecure-registry', '--signature-format', options.format ?? 'jws'];
  if (options.key) args.push('--key', options.key);
  if (options.expiry) args.push('--expiry', options.expiry);
  await exec(tool('notation') as string, [...args, ref], home.env);
}

/** `notation verify` of `ref`; resolves to true when notation verified it. */
export async function notationVerify(home: NotationHome, ref: string): Promise<boolean> {
  try {
    await exec(tool('notation') as string, ['verify', '--insecure-registry', ref], home.env);
    return true;
  } catch {
    return false;
  }
}

/** `oras attach` a file to `ref` as an artifact of `artifactType` (layer media type `mediaType`). */
export async function orasAttach(ref: string, file: string, artifactType: string, mediaType: string): Promise<void> {
  const dir = resolve(file, '..');
  await exec(
    tool('oras') as string,
    [
      'attach',
      '--plain-http',
      '--disable-path-validation',
      '--artifact-type',
      artifactType,
      ref,
      `${file}:${mediaType}`,
    ],
    { HOME: dir },
    dir,
  );
}

/** Generates a cosign key pair (empty password) in `dir`; returns the key paths. */
export async function cosignKeys(dir: string): Promise<{ key: string; pub: string }> {
  mkdirSync(dir, { recursive: true });
  await exec(tool('cosign') as string, ['generate-key-pair'], { COSIGN_PASSWORD: '', HOME: dir }, dir);
  return { key: join(dir, 'cosign.key'), pub: join(dir, 'cosign.pub') };
}

/** `cosign sign --key` of `ref` (no transparency log upload: tests are offline). */
export async function cosignSign(key: string, ref: string, home: string): Promise<void> {
  await exec(
    tool('cosign') as string,
    ['sign', '--key', key, '--tlog-upload=false', '--allow-http-registry', '--allow-insecure-registry', '-y', ref],
    { COSIGN_PASSWORD: '', HOME: home },
  );
}

/**
 * `cosign verify-attestation --key` of `ref` for predicates of `type` (offline: no transparency log; plain-http
 * registry); resolves with cosign's output when it verifies, rejects with its stderr when it does not.
 */
export function cosignVerifyAttestation(
  key: string,
  type: string,
  ref: string,
  home: string,
): Promise<{ stdout: string; stderr: string }> {
  return exec(
    tool('cosign') as string,
    [
      'verify-attestation',
      '--key',
      key,
      '--type',
      type,
      '--insecure-ignore-tlog=true',
      '--allow-http-registry',
      '--allow-insecure-registry',
      ref,
    ],
    { HOME: home },
  );
}

/** A notation trust policy entry (trustpolicy.json, version 1.0). */
export interface NotationTrustPolicy {
  name: string;
  registryScopes: string[];
  signatureVerification: { level: string };
  trustStores: string[];
  trustedIdentities: string[];
}

/**
 * A notation trust policy document of one strict entry `name` for every registry scope, trusting `identities`
 * (`x509.subject:…`) certified by the CA store `ca:<caStore>`.
 */
export function strictTrustPolicy(
  name: string,
  caStore: string,
  identities: string[],
): { version: string; trustPolicies: NotationTrustPolicy[] } {
  return {
    version: '1.0',
    trustPolicies: [
      {
        name,
        registryScopes: ['*'],
        signatureVerification: { level: 'strict' },
        trustStores: [`ca:${caStore}`],
        trustedIdentities: identities,
      },
    ],
  };
}

/** Options of {@link buildJws}. */
export interface JwsOptions {
  /** Protected header (defaults: PS256, notary.x509, signingTime now, crit [signingScheme]). */
  header?: Record<string, unknown>;
  /** Signed payload (defaults to a targetArtifact of `target`). */
  payload?: unknown;
  target: { mediaType: string; digest: string; size: number };
  /** PEM private key file of the leaf. */
  key: string;
  /** PEM chain file (leaf first). */
  chain: string;
  /** Leave the signature empty. */
  unsigned?: boolean;
}

const HASHES: Record<string, string> = {
  PS256: 'sha256',
  PS384: 'sha384',
  PS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
};

/** Builds a Notary Project JWS envelope by hand (for negative cases the tools refuse to make). */
export function buildJws(options: JwsOptions): Buffer {
  const header = {
    alg: 'PS256',
    cty: 'application/vnd.cncf.notary.payload.v1+json',
    crit: ['io.cncf.notary.signingScheme'],
    'io.cncf.notary.signingScheme': 'notary.x509',
    'io.cncf.notary.signingTime': new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    ...options.header,
  };
  const payload = options.payload ?? { targetArtifact: options.target };
  const p = Buffer.from(JSON.stringify(header)).toString('base64url');
  const b = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const key = createPrivateKey(readFileSync(options.key));
  const hash = HASHES[String(header.alg)] ?? 'sha256';
  const sig = options.unsigned
    ? Buffer.alloc(0)
    : key.asymmetricKeyType === 'ec'
      ? cryptoSign(hash, Buffer.from(`${p}.${b}`), { key, dsaEncoding: 'ieee-p1363' })
      : cryptoSign(hash, Buffer.from(`${p}.${b}`), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  const x5c = readFileSync(options.chain, 'utf8')
    .split('-----END CERTIFICATE-----')
    .filter((s) => s.includes('BEGIN'))
    .map((s) => s.replace(/-----BEGIN CERTIFICATE-----|\s+/g, ''));
  return Buffer.from(
    JSON.stringify({
      payload: b,
      protected: p,
      header: { x5c, 'io.cncf.notary.signingAgent': 'acr-guard-test' },
      signature: sig.toString('base64url'),
    }),
  );
}

/** sha256 hex of bytes. */
export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
