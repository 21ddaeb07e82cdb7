/**
 * A recorded verdict as a CloudEvent 1.0 (structured JSON): what acr-guard publishes to an Event Grid topic (in
 * Azure) or a webhook (locally), so that pipelines and `deploy` can wait on an event instead of polling. Pure:
 * the event is a function of the verdict alone, so a retried publication carries the same `id` and a consumer
 * de-duplicates on (`source`, `id`). Schema: docs/verdict-events.md and docs/verdict-event.schema.json.
 */
import { createHash } from 'node:crypto';
import type { Decision, Severity, Verdict } from './types';

/** The CloudEvents `type` of a verdict (reverse-DNS, versioned: a breaking change gets `.v2`). */
export const VERDICT_EVENT_TYPE = 'com.acrguard.verdict.v1';

/** Most characters of `data.summary` in an event (a summary can name many CVEs). */
export const MAX_EVENT_SUMMARY_CHARS = 1000;

/** `data` of a verdict event. */
export interface VerdictEventData {
  decision: Decision;
  /** `registry/repository@digest`. */
  image: string;
  registry: string;
  repository: string;
  digest: string;
  /** The tag it was pushed or asked with, when known (informational: act on the digest). */
  tag?: string;
  policy: { version: number; hash: string };
  rule: string;
  summary: string;
  findingCounts: Partial<Record<Severity, number>>;
  /** When the gate decided (the same as the event's `time`). */
  decidedAt: string;
}

/** A verdict event: CloudEvents 1.0 context attributes and the data. */
export interface VerdictCloudEvent {
  specversion: '1.0';
  /** sha256 of the verdict's identity (image, time, decision, policy hash): the same verdict, the same id. */
  id: string;
  /** `/acr-guard/registries/<registry host>`. */
  source: string;
  type: typeof VERDICT_EVENT_TYPE;
  /** The image by digest: what a subscriber filters on (`subjectBeginsWith`). */
  subject: string;
  /** RFC 3339: the verdict's `decidedAt`. */
  time: string;
  datacontenttype: 'application/json';
  data: VerdictEventData;
}

/** The event of a recorded verdict. */
export function verdictEvent(verdict: Verdict): VerdictCloudEvent {
  const { registry, repository, digest } = verdict.image;
  const image = `${registry}/${repository}@${digest}`;
  const hash = String(verdict.policy?.hash ?? '');
  const id = createHash('sha256')
    .update(`${image}|${verdict.decidedAt}|${verdict.decision}|${hash}`)
    .digest('hex')
    .slice(0, 32);
  const summary =
    verdict.summary.length > MAX_EVENT_SUMMARY_CHARS
      ? `${verdict.summary.slice(0, MAX_EVENT_SUMMARY_CHARS - 1)}…`
      : verdict.summary;
  return {
    specversion: '1.0',
    id,
    source: `/acr-guard/registries/${registry}`,
    type: VERDICT_EVENT_TYPE,
    subject: image,
    time: verdict.decidedAt,
    datacontenttype: 'application/json',
    data: {
      decision: verdict.decision,
      image,
      registry,
      repository,
      digest,
      ...(verdict.tag !== undefined ? { tag: verdict.tag } : {}),
      policy: { version: verdict.policy?.version ?? 1, hash },
      rule: verdict.rule,
      summary,
      findingCounts: { ...verdict.findingCounts },
      decidedAt: verdict.decidedAt,
    },
  };
}
