/**
 * One rotation pass over the configured ACR tokens (what the `rotateTokens` timer and `acr-guard tokens
 * rotate` do). Per token: read it (ARM) and what Key Vault publishes, plan (pure), and for a `rotate` plan:
 * generate the slot NOT published, write it to Key Vault with expiry, tags and content type, read it back
 * and compare. The published password is never regenerated, so whatever step fails, the password consumers
 * use stays valid and published; the failure is alerted. A dry run computes the same plans and stops there.
 * Passwords are held in local variables only: never logged, never in a report, an error or an alert.
 */
import { timingSafeEqual } from 'node:crypto';
import { isGuardError, errorCodeOf, ErrorCodes, GuardError, type ErrorCode } from '../core/errors';
import { operationalAlert, type OperationalAlertCode } from '../core/alerts/evaluate';
import {
  SLOT_TAG,
  TOKEN_TAG,
  planRotation,
  secretNameFor,
  type RotationPlan,
  type RotationSettings,
} from '../core/rotation';
import type { AlertSink, AlertStateStore, SecretStore, TokenAdmin } from '../adapters/ports';
import type { Log } from './alertRun';
import { notifyOnce } from './notify';

/** Content type of a published token password. */
export const PASSWORD_CONTENT_TYPE = 'text/plain; acr-token-password';

/** Dependencies and inputs of {@link rotateTokens}. */
export interface RotationRunOptions {
  tokenIds: readonly string[];
  tokens: TokenAdmin;
  secrets: SecretStore;
  /** Sinks for failures and flags (operational alerts). */
  sinks: readonly AlertSink[];
  /** De-duplication of those alerts across runs (in memory for this run when absent). */
  state: AlertStateStore;
  settings: RotationSettings;
  nowMs: number;
  dryRun?: boolean;
  log?: Log;
}

/** What happened to one token. */
export interface TokenOutcome {
  tokenId: string;
  secretName?: string;
  plan?: RotationPlan;
  /** `planned` in a dry run. */
  result: 'rotated' | 'kept' | 'skipped' | 'planned' | 'failed';
  /** Failure: the step that failed and why (never a password). */
  error?: { step: 'read' | 'generate' | 'publish' | 'verify'; code: ErrorCode; message: string };
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The operational alert code of a rotation that failed at each step. */
const ROTATION_FAILED: Record<NonNullable<TokenOutcome['error']>['step'], ErrorCode> = {
  read: ErrorCodes.ROTATION_READ_FAILED,
  generate: ErrorCodes.ROTATION_GENERATE_FAILED,
  publish: ErrorCodes.ROTATION_PUBLISH_FAILED,
  verify: ErrorCodes.ROTATION_VERIFY_FAILED,
};

/** Flags are re-alerted at most daily; failures at most hourly (per token and code). */
const FLAG_SUPPRESS_MS = 86_400_000;
const FAILURE_SUPPRESS_MS = 3_600_000;

async function alertAll(
  o: RotationRunOptions,
  subject: string,
  code: OperationalAlertCode,
  title: string,
  fields: Record<string, unknown>,
  suppressForMs: number,
): Promise<void> {
  const alert = operationalAlert({ subject, code, title, nowMs: o.nowMs, fields });
  await notifyOnce(alert, suppressForMs, {
    state: o.state,
    sinks: o.sinks,
    nowMs: o.nowMs,
    onFailure: (sink, err) =>
      o.log?.(`rotation: alert to ${sink} failed (${isGuardError(err) ? err.message : 'unexpected error'})`),
  }).catch((err: unknown) =>
    o.log?.(`rotation: alert state failed (${isGuardError(err) ? err.message : 'unexpected error'})`),
  );
}

async function rotateOne(tokenId: string, o: RotationRunOptions): Promise<TokenOutcome> {
  const outcome: TokenOutcome = { tokenId, result: 'failed' };
  let step: NonNullable<TokenOutcome['error']>['step'] = 'read';
  try {
    const token = await o.tokens.getToken(tokenId);
    const secretName = secretNameFor(token.registry, token.name);
    outcome.secretName = secretName;
    const published = await o.secrets.getPublished(secretName);
    const plan = planRotation(token, published, o.settings, o.nowMs);
    outcome.plan = plan;
    for (const flag of plan.flags) {
      o.log?.(`rotation: ${token.name}: FLAG ${flag.code}: ${flag.detail}`);
      if (!o.dryRun)
        await alertAll(
          o,
          `token:${token.registry}/${token.name}`,
          flag.code,
          `ACR token ${token.registry}/${token.name}: ${flag.detail}`,
          { tokenId },
          FLAG_SUPPRESS_MS,
        );
    }
    if (plan.action !== 'rotate') {
      outcome.result = plan.action === 'keep' ? 'kept' : 'skipped';
      return outcome;
    }
    if (o.dryRun) {
      outcome.result = 'planned';
      return outcome;
    }
    step = 'generate';
    const password = await o.tokens.generatePassword(tokenId, plan.slot!, plan.expiry!);
    step = 'publish';
    const tags = { [TOKEN_TAG]: token.name, [SLOT_TAG]: plan.slot!, 'acr-guard-registry': token.registry };
    await o.secrets.publish(secretName, password, {
      expiresOn: new Date(plan.expiry!),
      tags,
      contentType: PASSWORD_CONTENT_TYPE,
    });
    step = 'verify';
    const back = await o.secrets.readBack(secretName);
    if (!sameSecret(back.value, password) || back.tags[SLOT_TAG] !== plan.slot) {
      throw new GuardError(ErrorCodes.VERIFY_MISMATCH, 'the secret read back differs from what was written');
    }
    outcome.result = 'rotated';
    o.log?.(
      `rotation: ${token.name}: published ${plan.slot} in ${secretName}, expires ${plan.expiry}; ${plan.publishedSlot ?? 'no earlier password'} stays valid until its own expiry`,
    );
    return outcome;
  } catch (err) {
    const code = errorCodeOf(err);
    const message = isGuardError(err) ? err.message : 'unexpected error';
    outcome.error = { step, code, message };
    const kept = outcome.plan?.publishedSlot
      ? `the published ${outcome.plan.publishedSlot} is unchanged and still valid`
      : 'nothing was published before';
    o.log?.(`rotation: ${tokenId}: FAILED at ${step} [${code}]: ${message}; ${kept}`);
    await alertAll(
      o,
      `token:${tokenId}`,
      ROTATION_FAILED[step],
      `ACR token rotation failed at ${step}: ${message}; ${kept}`,
      { tokenId, step, code },
      FAILURE_SUPPRESS_MS,
    );
    return outcome;
  }
}

/** Rotates every configured token, one after another (ARM throttles per subscription). Never throws per token. */
export async function rotateTokens(options: RotationRunOptions): Promise<TokenOutcome[]> {
  const out: TokenOutcome[] = [];
  for (const id of options.tokenIds) out.push(await rotateOne(id, options));
  return out;
}
