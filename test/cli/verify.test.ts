/**
 * `acr-guard verify`: usage and configuration errors exit 2 naming the flag, an unreachable registry exits 1,
 * and a notation-signed image (notation's e2e layout pushed into a real docker-registry) exits 0 / 3.
 * The same command against images signed by the real tools is in test/interop/signatures.test.ts.
 */
import { join } from 'node:path';
import { runCli } from '../support/cli';
import { useRegistry } from '../support/registry';
import { E2E_SUBJECT, VECTORS, haveVectors, pushLayout } from '../support/vectors';

const POLICY = join(VECTORS, 'notation/config/trustpolicies/trustpolicy.json');
const STORE = join(VECTORS, 'notation/derived/truststore');

describe('acr-guard verify: usage', () => {
  it.each([
    [['verify'], /expected exactly one image reference/],
    [['verify', '127.0.0.1:1/app:v1', '--trust-store', STORE], /--trust-policy <file> is required/],
    [['verify', '127.0.0.1:1/app:v1', '--trust-policy', POLICY], /--trust-store <dir> is required/],
    [['verify', 'contoso.azurecr.io/app:v1', '--trust-policy', POLICY, '--trust-store', STORE, '--plain-http'], /--plain-http is allowed only for loopback/],
    [['verify', 'not a reference', '--trust-policy', POLICY, '--trust-store', STORE], /image/],
    [['verify', '127.0.0.1:1/app:v1', '--trust-policy', '/nonexistent.json', '--trust-store', STORE], /--trust-policy: cannot read trust policy file/],
    [['verify', '127.0.0.1:1/app:v1', '--trust-policy', POLICY, '--trust-store', '/nonexistent'], /--trust-store: \/nonexistent is not a directory/],
    [['verify', '127.0.0.1:1/app:v1', '--trust-policy', POLICY, '--trust-store', STORE, '--output', 'yaml'], /--output/],
  ])('%j exits 2', async (argv, message) => {
    const r = await runCli(argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('an unreachable registry is a runtime error (exit 1), nothing verified', async () => {
    const r = await runCli(['verify', '127.0.0.1:1/app@' + E2E_SUBJECT.digest, '--trust-policy', POLICY, '--trust-store', STORE, '--plain-http']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error \[TRANSIENT\]/);
  });
});

(haveVectors ? describe : describe.skip)('acr-guard verify: notation e2e layouts in a real registry', () => {
  const reg = useRegistry();
  beforeAll(async () => {
    await pushLayout(reg.client, 'e2e/app', 'e2e-valid-signature');
    await pushLayout(reg.client, 'e2e/unsigned', 'e2e');
  });

  it('exits 0 for the signed image (by tag, resolved to its digest) and prints every check', async () => {
    const r = await runCli(['verify', `${reg.registry.host}/e2e/app:v1`, '--trust-policy', POLICY, '--trust-store', STORE, '--plain-http']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^${reg.registry.host}/e2e/app@${E2E_SUBJECT.digest}: signatures verified`));
    for (const name of ['envelope', 'target', 'authenticity', 'trustedIdentity', 'authenticTimestamp', 'expiry', 'revocation']) expect(r.out).toContain(name);
  });

  it('exits 3 for the unsigned one (JSON)', async () => {
    const r = await runCli(['verify', `${reg.registry.host}/e2e/unsigned:v1`, '--trust-policy', POLICY, '--trust-store', STORE, '--plain-http', '--output', 'json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.out)).toMatchObject({ status: 'failed', signatures: [] });
  });

  it('exits 3 when --policy-name names a policy the file does not define (inconclusive)', async () => {
    const r = await runCli(['verify', `${reg.registry.host}/e2e/app:v1`, '--trust-policy', POLICY, '--trust-store', STORE, '--plain-http', '--policy-name', 'nope']);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/signatures inconclusive: the gate names trust policy "nope"/);
  });
});
