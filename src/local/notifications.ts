/**
 * The receiver of the open-source registry's push notifications (Debian `docker-registry`, the envelope
 * `application/vnd.docker.distribution.events.v1+json` with `{ events: [...] }`) for the local service. Each
 * push of a manifest goes the way of an Event Grid `ImagePushed` event (`startGateForPush`: allowlist, then
 * one gate per digest); pulls, mounts, blob pushes, referrer index tags and acr-guard's own promotion writes
 * do not. acr-guard's own writes are recognised by what it wrote (the {@link PromotionRecord} the apply step
 * fills before each write: destination repository and digest), never by the `User-Agent` the client claims.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HttpResponseInit } from '@azure/functions';
import { parseRegistryNotification, type PushEventParse } from '../core/events';
import { isGuardError } from '../core/errors';
import type { Policy } from '../core/policyTypes';
import { isReferrerTag } from '../core/reference';
import type { PromotionRecord } from '../core/promotions';
import { startGateForPush } from '../app/onImagePushed';
import type { OrchestrationStarter } from '../app/orchestrationStarter';
import { errorResponse, jsonResponse } from '../app/http';

/** Largest registry notification envelope accepted (bytes). */
export const MAX_NOTIFICATION_BYTES = 1024 * 1024;

const MEDIA_TYPES = new Set(['application/vnd.docker.distribution.events.v1+json', 'application/json']);

function sameToken(given: string, expected: string): boolean {
  // Hashes first: equal lengths for timingSafeEqual, and no early exit on a length difference.
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}

/**
 * Checks the headers before the body is read: the bearer token the registry was configured with (when one is
 * set; 401) and the media type (415). Undefined when the request may go on.
 */
export function checkNotificationHeaders(
  headers: Record<string, string | undefined>,
  token: string | undefined,
): HttpResponseInit | undefined {
  if (token) {
    const given = /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1] ?? '';
    if (!sameToken(given, token))
      return errorResponse(
        401,
        'UNAUTHENTICATED',
        'authorization: expected the bearer token configured for the registry notifications',
        'authorization',
      );
  }
  const type = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (!MEDIA_TYPES.has(type))
    return errorResponse(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'Content-Type: expected application/vnd.docker.distribution.events.v1+json',
      'content-type',
    );
  return undefined;
}

/** Dependencies of {@link receiveNotification}. */
export interface NotificationDeps {
  policy: Policy;
  starter: OrchestrationStarter;
  log: (line: string) => void;
  /** acr-guard's own promotion writes (the same record the gate's apply step fills). */
  promotions?: Pick<PromotionRecord, 'wrote'>;
  /** Epoch ms now (default `Date.now`). */
  now?: () => number;
}

/** Parses an envelope and starts the gates its pushes call for: 200 `{ received, started }`, or 400 naming the field. */
export async function receiveNotification(body: Buffer, deps: NotificationDeps): Promise<HttpResponseInit> {
  let raw: unknown;
  let parsed: PushEventParse[];
  try {
    raw = JSON.parse(body.toString('utf8'));
    parsed = parseRegistryNotification(raw);
  } catch (err) {
    return errorResponse(
      400,
      'INVALID_INPUT',
      isGuardError(err) ? err.message : 'body: expected a registry notification envelope { "events": [...] }',
      isGuardError(err) ? err.field : 'body',
    );
  }
  const log = { log: deps.log, warn: (line: string) => deps.log(`[warning] ${line}`) };
  let started = 0;
  for (const event of parsed) {
    // Pulls, mounts and blob pushes are most of the traffic: dropped without a log line.
    if (event.kind !== 'push') continue;
    // On registries without the referrers API, an image's referrers are listed by a `sha256-<hex>` tag: not an image.
    if (event.tag !== undefined && isReferrerTag(event.tag)) continue;
    // acr-guard's own writes (promotion into the release repository) copy a digest it has just gated: known by
    // the destination repository and digest it recorded before writing. The User-Agent is the client's claim.
    if (deps.promotions?.wrote(event.image, (deps.now ?? Date.now)())) continue;
    const handled = await startGateForPush(
      event,
      { policy: deps.policy, starter: deps.starter },
      log,
      'registry notification',
    );
    if (handled.outcome === 'start' && handled.started) started++;
  }
  return jsonResponse(200, { received: parsed.length, started });
}
