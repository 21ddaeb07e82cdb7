/**
 * The `--output json` envelope of each command (src/core/result.ts, schemas/result.v1.schema.json, docs/cli.md):
 * one builder per command, so every command's JSON is one object of the same shape.
 */
import { formatImage } from '../core/reference';
import type { ApplyResult, ImageId, SignatureResult, Verdict } from '../core/types';
import type { VsaCheck } from '../core/vsa';
import {
  resultOfVerdict,
  checkStatusOfSignature,
  resultOf,
  type Result,
  type ResultCheck,
  type ResultError,
} from '../core/result';
import { verdictJson } from './render';

/** `gate`: the verdict's checks at the top level, `data.verdict` (as before, details included) and `data.apply`. */
export function gateResult(verdict: Verdict, apply?: ApplyResult): Result {
  return resultOfVerdict(verdict, 'GateResult', formatImage(verdict.image), {
    verdict: verdictJson(verdict),
    ...(apply ? { apply } : {}),
  });
}

/**
 * `gate` (and `deploy`) on an image that could not be gated (ignored, or its tag or digest not in the registry):
 * blocked, exit 3, whether it was named by tag or digest; nothing was released.
 */
export function notGatedResult(options: {
  subject: string;
  status: string;
  reason: string;
  checks?: ResultCheck[];
  errors?: ResultError[];
}): Result {
  return resultOf({
    kind: 'GateResult',
    subject: options.subject,
    outcome: 'fail',
    decision: 'block',
    summary: `${options.status}: ${options.reason}; nothing was released`,
    checks: options.checks ?? [],
    errors: options.errors ?? [],
    data: { status: options.status, reason: options.reason },
  });
}

/** `verify`: one check per signature (verified passes), `data` the verifier's result as before. */
export function verifyResult(image: ImageId, result: SignatureResult): Result {
  const checks: ResultCheck[] = result.signatures.map((sig) => ({
    name: `signature:${sig.kind ?? 'unknown'}`,
    target: sig.digest,
    status: checkStatusOfSignature(sig.outcome ?? 'inconclusive'),
    reason:
      sig.reason ??
      (sig.checks
        .filter((c) => c.status !== 'pass' && c.status !== 'skip')
        .map((c) => `${c.name}: ${c.reason}`)
        .join('; ') ||
        (sig.outcome ?? 'inconclusive')),
    details: { checks: sig.checks },
  }));
  return resultOf({
    kind: 'VerifyResult',
    subject: formatImage(image),
    outcome: result.status === 'verified' ? 'pass' : 'fail',
    decision: result.status === 'verified' ? 'verified' : 'not-verified',
    summary: `signatures ${result.status}: ${result.reason}`,
    checks:
      checks.length > 0
        ? checks
        : [{ name: 'signatures', status: checkStatusOfSignature(result.status), reason: result.reason }],
    data: { image: formatImage(image), ...result },
  });
}

/**
 * `verify --attestation-key`: one `vsa` check; `data` keeps what the command printed before the envelope
 * (`image`, `status`, and `vsa` or `code`/`reason`).
 */
export function vsaVerifyResult(image: ImageId, result: VsaCheck): Result {
  const subject = formatImage(image);
  const reason = result.ok
    ? `VSA ${result.statement.predicate.verificationResult} by ${result.statement.predicate.verifier.id} at ${result.statement.predicate.timeVerified}`
    : result.reason;
  return resultOf({
    kind: 'VerifyResult',
    subject,
    outcome: result.ok ? 'pass' : 'fail',
    decision: result.ok ? 'verified' : 'not-verified',
    summary: `${result.ok ? 'VSA verified' : 'VSA not verified'}: ${reason}`,
    checks: [{ name: 'vsa', target: image.digest, status: result.ok ? 'pass' : 'fail', reason }],
    data: result.ok
      ? { image: subject, status: 'verified', vsa: result.statement.predicate }
      : { image: subject, status: 'not verified', code: result.code, reason: result.reason },
  });
}

/** `demo`: one check per sample (released passes, blocked fails: both are expected), the rows under `data.rows`. */
export function demoResult(
  registry: string,
  rows: ReadonlyArray<{ sample: string; story: string; verdict: Verdict; apply?: ApplyResult }>,
): Result {
  const released = rows.filter((r) => r.verdict.decision === 'release').length;
  return resultOf({
    kind: 'DemoResult',
    subject: registry,
    // The demo passes when every sample got a verdict: its blocked samples are the point.
    outcome: 'pass',
    summary: `${rows.length} images gated: ${released} released, ${rows.length - released} blocked`,
    checks: rows.map((r) => ({
      name: r.sample,
      target: formatImage(r.verdict.image),
      status: r.verdict.decision === 'release' ? 'pass' : 'fail',
      reason: r.verdict.summary,
    })),
    data: {
      rows: rows.map((r) => ({
        sample: r.sample,
        story: r.story,
        verdict: verdictJson(r.verdict),
        ...(r.apply ? { apply: r.apply } : {}),
      })),
    },
  });
}
