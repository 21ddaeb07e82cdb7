/**
 * Property-based tests (fast-check) of what hostile callers send: bodies of `POST /api/rescan` and of the
 * local registry-notification receiver (random JSON, random bytes, huge strings, control characters,
 * near-valid references and envelopes), and signature envelopes given to the verifier. Real parts: the
 * handlers as the hosts call them, a real docker-registry on loopback, the real gate runner.
 *
 * Properties: never an untyped crash or a 500; bad input is a 4xx naming a field; malformed input starts
 * nothing and releases nothing; each case is bounded in time.
 */
import fc from 'fast-check';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { handleRescan } from '../../src/app/rescan';
import { loadPolicy } from '../../src/core/policy';
import type { Policy } from '../../src/core/policyTypes';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { composeGateServices } from '../../src/app/compose';
import { LocalOrchestrationHost } from '../../src/local/orchestrationHost';
import { receiveNotification } from '../../src/local/notifications';
import { PromotionRecord } from '../../src/core/promotions';
import { createSignatureVerifier } from '../../src/adapters/signatureVerifier';
import { loadSignatureTrust } from '../../src/adapters/trustStoreFiles';
import {
  MAX_ENVELOPE_BYTES,
  NotationMediaTypes,
  verifyNotationSignature,
  selectTrustPolicy,
} from '../../src/core/signatures';
import { pushArtifact } from '../../src/local/ociPush';
import { useRegistry } from '../support/registry';
import { E2E_SUBJECT, VECTORS, haveVectors, layout, pushLayout } from '../support/vectors';
import { join } from 'node:path';

/** Longest a single case may take (ms): a hostile body must not make the handler slow. */
const CASE_MS = 2_000;

const reg = useRegistry();

function context(): InvocationContext {
  return new InvocationContext({ invocationId: 'fuzz', functionName: 'fuzz', logHandler: () => undefined });
}

function policyFor(host: string): Policy {
  return loadPolicy(
    `version: 1
registries: [{ host: "${host}", apply: promote }]
gate:
  - scope: "**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
    promote: { repository: "release/{repository}" }
`,
    'fuzz policy',
  );
}

/** Strings a caller can send: control characters, lone surrogates, huge ones, reference-like ones. */
function hostileString(host: string): fc.Arbitrary<string> {
  const refChars = fc.constantFrom(...'abcz09._-/:@+%?#\\ \t\r\n\u0000\u202e'.split(''));
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({ unit: 'grapheme-composite', maxLength: 50 }),
    fc.string({ unit: refChars, maxLength: 120 }).map((tail) => `${host}/${tail}`),
    fc
      .tuple(
        fc.constantFrom('', 'team/', 'a/b/'),
        fc.string({ unit: refChars, maxLength: 40 }),
        fc.constantFrom(':v1', '@sha256:', `@sha256:${'a'.repeat(64)}`, ':v1@sha256:' + 'b'.repeat(64), ''),
      )
      .map(([a, b, c]) => `${host}/${a}${b}${c}`),
    fc.integer({ min: 1_000, max: 200_000 }).map((n) => `${host}/${'a'.repeat(n)}:v1`),
    fc.constantFrom(
      '169.254.169.254/x:1',
      'localhost/x:1',
      `${host}/../x:1`,
      `${host}/x:1\r\nHost: evil`,
      `http://${host}/x:1`,
    ),
  );
}

function body(res: HttpResponseInit): { error?: { code?: string; field?: string; message?: string } } {
  return (res.jsonBody ?? {}) as { error?: { code?: string; field?: string; message?: string } };
}

describe('hostile callers (property-based)', () => {
  it('POST /api/rescan: every random body is a 4xx naming a field, quickly, and starts nothing', async () => {
    const host = reg.registry.host;
    const policy = policyFor(host);
    const services = composeGateServices({
      policy: () => policy,
      audit: new MemoryAuditStore(),
      plainHttpHosts: [host],
    });
    const runner = new LocalOrchestrationHost({ services, timers: 'virtual' });
    const deps = { policy, starter: runner, registry: services.registry, auth: 'off' as const };
    const str = hostileString(host);
    const payload = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
      fc
        .record({ image: fc.oneof(str, fc.jsonValue({ maxDepth: 2 })) }, { requiredKeys: [] })
        .map((v) => JSON.stringify(v)),
      fc
        .record({ repository: fc.oneof(str, fc.jsonValue({ maxDepth: 2 })) }, { requiredKeys: [] })
        .map((v) => JSON.stringify(v)),
      fc.dictionary(str, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }).map((v) => JSON.stringify(v)),
      fc.uint8Array({ maxLength: 6000 }).map((b) => Buffer.from(b).toString('latin1')),
      fc.string({ unit: 'binary', maxLength: 5000 }),
    );
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(payload, async (text) => {
        cases++;
        const request = new HttpRequest({
          method: 'POST',
          url: 'http://localhost:7071/api/rescan',
          headers: { 'content-type': 'application/json' },
          body: { string: text },
        });
        const started = Date.now();
        const res = await handleRescan(request, deps, context());
        const took = Date.now() - started;
        const status = res.status ?? 200;
        expect(status).not.toBe(202);
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
        expect(typeof body(res).error?.code).toBe('string');
        expect(body(res).error?.field).toMatch(/^\S{1,64}$/);
        expect(took).toBeLessThan(CASE_MS);
      }),
      { numRuns: 400, seed: 11 },
    );
    await runner.settled();
    expect(runner.list()).toEqual([]);
    expect(cases).toBe(400);
  }, 120_000);

  it('registry notifications: every random envelope is 200 or a 400 naming a field, quickly; malformed starts nothing, nothing is released', async () => {
    const host = reg.registry.host;
    const policy = policyFor(host);
    const audit = new MemoryAuditStore();
    const services = composeGateServices({ policy: () => policy, audit, plainHttpHosts: [host] });
    const runner = new LocalOrchestrationHost({ services, timers: 'virtual' });
    const str = hostileString(host);
    const digest = fc.oneof(fc.constant(`sha256:${'c'.repeat(64)}`), fc.stringMatching(/^sha256:[0-9a-f]{64}$/), str);
    const event = fc.record(
      {
        id: fc.oneof(fc.uuid(), str),
        action: fc.constantFrom('push', 'pull', 'delete', 'mount', ''),
        target: fc.record(
          {
            mediaType: fc.constantFrom(
              'application/vnd.oci.image.manifest.v1+json',
              'application/vnd.oci.image.index.v1+json',
              'application/octet-stream',
              '',
            ),
            digest,
            repository: fc.oneof(fc.constantFrom('team/app', 'release/team/app'), str),
            tag: fc.oneof(fc.constantFrom('v1', 'sha256-' + 'c'.repeat(64)), str),
            size: fc.oneof(fc.integer(), fc.double(), str),
          },
          { requiredKeys: [] },
        ),
        request: fc.record(
          { host: fc.oneof(fc.constant(host), str), useragent: fc.constantFrom('acr-guard/0.1', 'docker/27', '') },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: [] },
    );
    const envelope = fc.oneof(
      fc
        .array(fc.oneof(event, fc.jsonValue({ maxDepth: 3 })), { maxLength: 8 })
        .map((events) => Buffer.from(JSON.stringify({ events }))),
      fc.jsonValue({ maxDepth: 5 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
      fc.uint8Array({ maxLength: 8000 }).map((b) => Buffer.from(b)),
      fc.string({ unit: 'binary', maxLength: 8000 }).map((s) => Buffer.from(s, 'utf8')),
    );
    let cases = 0;
    let malformed = 0;
    await fc.assert(
      fc.asyncProperty(envelope, async (bytes) => {
        cases++;
        const before = runner.list().length;
        const started = Date.now();
        const res = await receiveNotification(bytes, {
          policy,
          starter: runner,
          log: () => undefined,
          promotions: new PromotionRecord(),
        });
        expect(Date.now() - started).toBeLessThan(CASE_MS);
        expect([200, 400]).toContain(res.status);
        if (res.status === 400) {
          malformed++;
          expect(body(res).error?.field).toMatch(/^\S{1,200}$/);
          expect(runner.list().length).toBe(before);
        }
      }),
      { numRuns: 400, seed: 12 },
    );
    await runner.settled();
    // Whatever started is about digests nobody pushed: blocked (or ignored), never released or promoted.
    for (const instance of runner.list()) {
      const output = instance.output as { verdict?: { decision?: string } } | undefined;
      expect(output?.verdict?.decision).not.toBe('release');
    }
    expect(cases).toBe(400);
    expect(malformed).toBeGreaterThan(0);
  }, 180_000);

  const withVectors = haveVectors ? describe : describe.skip;
  if (!haveVectors && process.env.CI === 'true')
    throw new Error('CI=true: ../shared/vectors is required for the signature fuzz tests');
  withVectors('signature envelopes', () => {
    it('random and mutated envelopes (JWS and COSE) never verify, never throw, each in bounded time', async () => {
      const trust = await loadSignatureTrust(
        join(VECTORS, 'notation/config/trustpolicies/trustpolicy.json'),
        join(VECTORS, 'notation/derived/truststore'),
      );
      const policy = selectTrustPolicy(trust.trustPolicy, `${reg.registry.host}/vectors/fuzz`);
      if (!policy) throw new Error('the e2e trust policy has a "*" scope');
      const valid = layout('e2e-valid-signature').signatures(E2E_SUBJECT.digest)[0];
      const mutated = fc
        .array(fc.record({ at: fc.nat({ max: valid.envelope.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 8,
        })
        .map((flips) => {
          const copy = Buffer.from(valid.envelope);
          for (const { at, byte } of flips) copy[at] = copy[at] === byte ? byte ^ 0xff : byte;
          return copy;
        });
      const truncated = fc.nat({ max: valid.envelope.length - 1 }).map((n) => valid.envelope.subarray(0, n));
      const envelope = fc.oneof(
        mutated,
        truncated,
        fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)),
        fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? '')),
      );
      const mediaType = fc.constantFrom(
        NotationMediaTypes.jws,
        NotationMediaTypes.cose,
        valid.envelopeMediaType,
        'application/json',
        '',
      );
      let cases = 0;
      fc.assert(
        fc.property(envelope, mediaType, (bytes, type) => {
          cases++;
          const started = Date.now();
          const v = verifyNotationSignature({
            signatureDigest: 'sha256:' + 'd'.repeat(64),
            envelope: bytes,
            envelopeMediaType: type,
            target: { mediaType: E2E_SUBJECT.mediaType, digest: E2E_SUBJECT.digest, size: E2E_SUBJECT.size },
            policy,
            store: trust.trustStore,
            now: new Date('2026-06-01T00:00:00Z'),
          });
          expect(Date.now() - started).toBeLessThan(CASE_MS);
          // A flip in insignificant bytes (JSON whitespace, an unsigned field) may leave the signed content intact
          // and still verify; it can only do so as the envelope type it was signed as, with its signed bytes.
          if (v.outcome === 'verified') expect(type).toBe(valid.envelopeMediaType);
          else expect(['failed', 'inconclusive']).toContain(v.outcome);
        }),
        { numRuns: 1000, seed: 13 },
      );
      expect(cases).toBe(1000);
    }, 120_000);

    it('random referrers beside a valid signature, through the registry: the image still verifies, each hostile one fails', async () => {
      await pushLayout(reg.client, 'vectors/fuzz', 'e2e-valid-signature');
      const verify = createSignatureVerifier({
        registry: () => reg.client,
        trust: await loadSignatureTrust(
          join(VECTORS, 'notation/config/trustpolicies/trustpolicy.json'),
          join(VECTORS, 'notation/derived/truststore'),
        ),
        now: () => new Date('2026-06-01T00:00:00Z'),
        maxSignatures: 64,
      });
      const manifest = await reg.client.getManifest('vectors/fuzz', E2E_SUBJECT.digest);
      let cases = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
            fc.constant(Buffer.alloc(MAX_ENVELOPE_BYTES + 1, 0x41)),
          ),
          fc.constantFrom(NotationMediaTypes.jws, NotationMediaTypes.cose),
          async (blob, type) => {
            cases++;
            const hostile = await pushArtifact(reg.client, 'vectors/fuzz', {
              subject: E2E_SUBJECT,
              artifactType: NotationMediaTypes.signature,
              blob,
              blobMediaType: type,
            });
            const started = Date.now();
            const r = await verify({
              image: { registry: reg.registry.host, repository: 'vectors/fuzz', digest: E2E_SUBJECT.digest },
              manifest,
            });
            expect(Date.now() - started).toBeLessThan(5 * CASE_MS);
            expect(r.status).toBe('verified');
            expect(r.signatures.find((s) => s.digest === hostile.digest)?.outcome).toBe('failed');
          },
        ),
        { numRuns: 25, seed: 14 },
      );
      expect(cases).toBe(25);
    }, 180_000);
  });
});
