/**
 * HTTP `POST /api/rescan`: gate an image again on demand (after a new CVE, a changed exception or trust
 * policy), and `GET /api/rescan/{instanceId}`: follow it.
 *
 * Body (JSON, at most 4 KiB), exactly one of:
 * - `{ "image": "<registry>/<repository>@<digest>" }` — that digest;
 * - `{ "image": "<registry>/<repository>:<tag>" }` — the tag resolved to a digest first (the gate acts on the digest);
 * - `{ "image": "<registry>/<repository>:<tag>@<digest>" }` — only when the tag points at that digest in the
 *   registry now (400 on `image` otherwise, nothing started): the tag travels to the release;
 * - `{ "repository": "<registry>/<repository>" }` — every tagged digest of the repository (at most
 *   {@link MAX_REPOSITORY_TAGS} tags; more is refused, nothing started; referrer and signature tags skipped).
 *   The tag listing goes through the shared listing guard (LISTING_BOUNDS.rescanTags: pages, tags, 10 s): a
 *   registry whose listing loops, stalls or never ends gets a 502 with a `LISTING_*` code and nothing starts.
 *
 * The registry must be in the policy's allowlist, checked before any request leaves the app (403 otherwise,
 * also for IP literals, ports or hosts that are merely similar: the match is exact). Each image gets a fresh
 * `rescan-…` instance id, so a rescan runs even when the push-triggered gate of that digest completed. The
 * answer is 202 with one entry per started gate and links to this app's own status and verdict endpoints;
 * the Durable webhook URLs are not returned, because they carry the host's system key in their query.
 */
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { ErrorCodes, GuardError, invalidInput, isGuardError } from '../core/errors';
import { ListingGuard, LISTING_BOUNDS, type ListingBounds } from '../core/listing';
import { isRegistryAllowed } from '../core/policyLookup';
import { plural } from '../core/plural';
import type { Policy } from '../core/policyTypes';
import { formatImage, isReferrerTag, parseImageReference } from '../core/reference';
import type { ImageId, Verdict } from '../core/types';
import { resultOf, resultOfVerdict } from '../core/result';
import type { RegistryClientFactory } from '../adapters/ports';
import { startRescan, type OrchestrationStatusStarter } from './orchestrationStarter';
import {
  AppRoles,
  HttpErrorCodes,
  answer,
  errorResponse,
  jsonResponse,
  readJsonBody,
  requireRole,
  type HttpAuthMode,
} from './http';

/** Most tags a repository rescan resolves; a repository with more is refused (rescan by image instead). */
export const MAX_REPOSITORY_TAGS = LISTING_BOUNDS.rescanTags.maxEntries;

/** Dependencies of the rescan handlers. */
export interface RescanDeps {
  policy: Policy;
  starter: OrchestrationStatusStarter;
  /** Registry clients (for tag resolution); only called for allowlisted hosts. */
  registry: RegistryClientFactory;
  /** `easyauth` in Azure; the local service may turn it off. */
  auth: HttpAuthMode;
  /** Nonce of a request's instance ids (default a random UUID). */
  nonce?: () => string;
  /** Bounds of a repository's tag listing (default LISTING_BOUNDS.rescanTags, whose `maxMs` also bounds resolving the tags). */
  listingBounds?: ListingBounds;
  /** The clock, epoch ms (default Date.now): the time bound of a repository rescan. */
  nowMs?: () => number;
}

/** What a rescan request names, validated. */
export type RescanTarget =
  | { kind: 'image'; registry: string; repository: string; tag?: string; digest?: string }
  | { kind: 'repository'; registry: string; repository: string };

const BODY_FORM =
  'a JSON object with exactly one of "image" ("<registry>/<repository>@<digest>" or ":<tag>") or "repository" ("<registry>/<repository>")';

/**
 * Validates a rescan body (pure): one object, exactly one known key, a reference in the OCI grammar. Throws
 * `INVALID_INPUT` naming the field and the expected form.
 */
export function parseRescanBody(body: unknown): RescanTarget {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidInput('body', BODY_FORM, body);
  const keys = Object.keys(body);
  const unknown = keys.find((k) => k !== 'image' && k !== 'repository');
  // The unknown key is named only when it is a plain name: an empty, huge or control-character key is the body's fault.
  if (unknown !== undefined)
    throw invalidInput(
      /^[A-Za-z0-9_$.-]{1,64}$/.test(unknown) ? unknown : 'body',
      `no other field than "image" or "repository" (${BODY_FORM})`,
    );
  const { image, repository } = body as { image?: unknown; repository?: unknown };
  if ((image === undefined) === (repository === undefined)) throw invalidInput('body', BODY_FORM, body);
  if (image !== undefined) {
    if (typeof image !== 'string')
      throw invalidInput(
        'image',
        'a string "<registry>/<repository>@<digest>" or "<registry>/<repository>:<tag>"',
        image,
      );
    const ref = parseImageReference(image, { field: 'image' });
    return {
      kind: 'image',
      registry: ref.registry,
      repository: ref.repository,
      ...(ref.tag ? { tag: ref.tag } : {}),
      ...(ref.digest ? { digest: ref.digest } : {}),
    };
  }
  if (typeof repository !== 'string')
    throw invalidInput('repository', 'a string "<registry>/<repository>"', repository);
  const ref = parseImageReference(repository, { field: 'repository', allowBare: true });
  if (ref.tag !== undefined || ref.digest !== undefined)
    throw invalidInput(
      'repository',
      '"<registry>/<repository>" without a tag or digest (use "image" for one image)',
      repository,
    );
  return { kind: 'repository', registry: ref.registry, repository: ref.repository };
}

/** Refuses a registry outside the allowlist before anything is sent to it. */
function checkAllowed(policy: Policy, registry: string, field: string): void {
  if (!isRegistryAllowed(policy, registry)) {
    throw new GuardError(
      ErrorCodes.REGISTRY_NOT_ALLOWED,
      `${field}: registry ${registry} is not in the policy's registries allowlist; no request was made to it`,
      { field },
    );
  }
}

/**
 * A reference with both a tag and a digest (`<registry>/<repo>:<tag>@<digest>`) is kept only when the tag
 * points at that digest in the registry now: the gate carries the tag to the release (promotion writes
 * `release/<repo>:<tag>`), so a caller could otherwise name a tag the image never had, or roll a release tag
 * back to an older passing digest. A tag that does not exist or points elsewhere is a 400 on `image`.
 */
async function tagMatchingDigest(
  registry: RegistryClientFactory,
  target: { registry: string; repository: string; tag: string; digest: string },
): Promise<string> {
  let current: string;
  try {
    current = await registry(target.registry).resolveTag(target.repository, target.tag);
  } catch (err) {
    if (isGuardError(err, ErrorCodes.NOT_FOUND)) {
      throw invalidInput(
        'image',
        `a tag that exists in ${target.registry}/${target.repository} and points at ${target.digest} (tag ${target.tag} does not exist; nothing was started: rescan by digest alone)`,
      );
    }
    throw err;
  }
  if (current !== target.digest) {
    throw invalidInput(
      'image',
      `a tag that points at the given digest (${target.registry}/${target.repository}:${target.tag} points at ${current}, not ${target.digest}; nothing was started: rescan by digest alone, or by tag alone)`,
    );
  }
  return current;
}

/**
 * The images (digests) a target stands for; tags are resolved through the (allowlisted) registry. A repository's
 * tags come through the shared listing guard (src/core/listing.ts): a listing that loops, stalls, passes its
 * bounds or its time (the caller may have left) is an error, and nothing is started from part of it. The same
 * time bound covers resolving the tags.
 */
async function resolveTarget(target: RescanTarget, deps: RescanDeps): Promise<Array<{ image: ImageId; tag?: string }>> {
  if (target.kind === 'image') {
    const digest =
      target.digest !== undefined && target.tag !== undefined
        ? await tagMatchingDigest(deps.registry, target as Required<typeof target>)
        : (target.digest ?? (await deps.registry(target.registry).resolveTag(target.repository, target.tag as string)));
    return [
      {
        image: { registry: target.registry, repository: target.repository, digest },
        ...(target.tag ? { tag: target.tag } : {}),
      },
    ];
  }
  const client = deps.registry(target.registry);
  const bounds = deps.listingBounds ?? LISTING_BOUNDS.rescanTags;
  const guard = new ListingGuard(`registry ${target.registry}: tags of ${target.repository}`, bounds, {
    nowMs: deps.nowMs ?? Date.now,
    tooManyEntries: (max) =>
      invalidInput(
        'repository',
        `a repository with at most ${max} tags (this one has more; nothing was started: rescan its images one by one with "image")`,
      ),
  });
  const tags: string[] = [];
  let last: string | undefined;
  do {
    guard.beforePage(last);
    const page = await client.listTags(target.repository, {
      pageSize: Math.min(bounds.maxEntries, 1000),
      ...(last !== undefined ? { last } : {}),
    });
    guard.afterPage(page.items, page.next);
    for (const t of page.items) tags.push(t);
    last = page.next;
  } while (last !== undefined);
  const byDigest = new Map<string, { image: ImageId; tag?: string }>();
  for (const tag of tags.filter((t) => !isReferrerTag(t))) {
    guard.checkTime();
    const digest = await client.resolveTag(target.repository, tag);
    if (!byDigest.has(digest))
      byDigest.set(digest, { image: { registry: target.registry, repository: target.repository, digest }, tag });
  }
  // Nothing starts after the caller's time is up.
  guard.checkTime();
  return [...byDigest.values()];
}

/** A registry's 404 while resolving what the body named is about that field (`image` or `repository`). */
async function namingField<T>(field: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isGuardError(err, ErrorCodes.NOT_FOUND) && err.field === undefined)
      throw new GuardError(ErrorCodes.NOT_FOUND, `${field}: ${err.message}; nothing was started`, {
        field,
        cause: err,
      });
    throw err;
  }
}

/** Origin of the request URL (for the links in answers). */
function originOf(request: HttpRequest): string {
  try {
    return new URL(request.url).origin;
  } catch {
    return '';
  }
}

/** The API path of an image's latest verdict. */
export function verdictPath(image: ImageId): string {
  return `/api/verdicts/${image.registry}/${image.repository}@${image.digest}`;
}

/** `POST /api/rescan`. */
export async function handleRescan(
  request: HttpRequest,
  deps: RescanDeps,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return answer(
    async () => {
      const principal = requireRole(request, deps.auth, [AppRoles.rescan]);
      const target = parseRescanBody(await readJsonBody(request));
      checkAllowed(deps.policy, target.registry, target.kind);
      const images = await namingField(target.kind, () => resolveTarget(target, deps));
      const origin = originOf(request);
      const nonce = (deps.nonce ?? randomUUID)();
      const rescans = [];
      for (const [i, { image, tag }] of images.entries()) {
        const started = await startRescan(deps.starter, { image, tag, nonce: `${nonce}:${i}` });
        context.log(
          `rescan: ${started.started ? 'started' : 'not started'} ${started.instanceId} for ${started.image}${principal?.name ? ` (requested by ${principal.name})` : ''}`,
        );
        rescans.push({
          id: started.instanceId,
          image: formatImage(image),
          ...(tag ? { tag } : {}),
          started: started.started,
          statusQueryGetUri: `${origin}/api/rescan/${started.instanceId}`,
          verdictGetUri: `${origin}${verdictPath(image)}`,
        });
      }
      const headers: Record<string, string> = rescans.length === 1 ? { location: rescans[0].statusQueryGetUri } : {};
      return jsonResponse(
        202,
        {
          // The envelope: the gates are started, not decided (outcome pending); `rescans` as before.
          ...resultOf({
            kind: 'RescanResult',
            subject: target.kind === 'image' ? (rescans[0]?.image ?? '') : `${target.registry}/${target.repository}`,
            outcome: 'pending',
            summary: `${plural(rescans.length, 'gate')} started; follow statusQueryGetUri`,
            data: { rescans },
          }),
          rescans,
        },
        headers,
      );
    },
    (line) => context.warn(`rescan: ${line}`),
  );
}

const INSTANCE_ID = /^(?:rescan-[0-9a-f]{32}|gate-[0-9a-f]{40})$/;

/** `GET /api/rescan/{instanceId}`: the gate's runtime status, progress (custom status) and outcome. */
export async function handleRescanStatus(
  request: HttpRequest,
  deps: Pick<RescanDeps, 'starter' | 'auth'>,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return answer(
    async () => {
      requireRole(request, deps.auth, [AppRoles.read, AppRoles.rescan]);
      const id = request.params.instanceId ?? '';
      if (!INSTANCE_ID.test(id))
        throw invalidInput('instanceId', 'an instance id from a rescan answer: rescan-<32 hex> or gate-<40 hex>', id);
      const status = await deps.starter.getStatus(id);
      if (!status) return errorResponse(404, HttpErrorCodes.NOT_FOUND, `no gate instance ${id}`, 'instanceId');
      return jsonResponse(200, {
        ...rescanStatusResult(id, status),
        id,
        runtimeStatus: status.runtimeStatus,
        customStatus: status.customStatus ?? null,
        output: status.output ?? null,
        createdTime: status.createdTime ?? null,
        lastUpdatedTime: status.lastUpdatedTime ?? null,
      });
    },
    (line) => context.warn(`rescanStatus: ${line}`),
  );
}

/**
 * The envelope of a gate's status: pending while it runs, then the verdict's outcome (release: pass; block or not
 * gated: fail); error when the orchestration failed or was terminated (nothing was released).
 */
export function rescanStatusResult(
  id: string,
  status: { runtimeStatus: string; output?: unknown },
): ReturnType<typeof resultOf> {
  const output = (status.output ?? undefined) as { status?: string; verdict?: Verdict; reason?: string } | undefined;
  const verdict = output?.verdict;
  const subject = verdict ? formatImage(verdict.image) : id;
  if (status.runtimeStatus === 'Completed' && verdict)
    return resultOfVerdict(verdict, 'RescanResult', subject, { id, runtimeStatus: status.runtimeStatus });
  if (status.runtimeStatus === 'Completed')
    return resultOf({
      kind: 'RescanResult',
      subject,
      outcome: 'fail',
      decision: 'block',
      summary: `${output?.status ?? 'not gated'}: ${output?.reason ?? 'the gate produced no verdict'}; nothing was released`,
      data: { id, runtimeStatus: status.runtimeStatus },
    });
  if (['Failed', 'Terminated', 'Canceled'].includes(status.runtimeStatus))
    return resultOf({
      kind: 'RescanResult',
      subject,
      outcome: 'error',
      summary: `the gate ${status.runtimeStatus.toLowerCase()}; nothing was released`,
      errors: [
        { code: ErrorCodes.ACTIVITY_FAILED, message: `gate ${id}: ${status.runtimeStatus}`, field: 'instanceId' },
      ],
      errorKind: 'runtime',
      data: { id, runtimeStatus: status.runtimeStatus },
    });
  return resultOf({
    kind: 'RescanResult',
    subject,
    outcome: 'pending',
    summary: `the gate is ${status.runtimeStatus.toLowerCase()}; ask again`,
    data: { id, runtimeStatus: status.runtimeStatus },
  });
}
