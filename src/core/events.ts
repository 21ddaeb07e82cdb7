/**
 * Push events: ACR's `Microsoft.ContainerRegistry.ImagePushed` (Event Grid schema or CloudEvents 1.0) and
 * the open-source registry's notification envelope (`{ events: [...] }`, used by the local service).
 *
 * A push becomes an {@link ImageId} (registry from `data.request.host`, repository, digest) plus the tag it
 * was pushed with, if any. Anything else is `ignored` with a reason. A push event that is malformed throws
 * `INVALID_INPUT` whose `field` is the JSON path of the bad value: such an event must fail loudly (so Event
 * Grid retries or dead-letters it), never be dropped or half-read.
 */
import { JsonReader, isJsonObject, type JsonObject } from './jsonReader';
import { MediaTypes, type ImageId } from './types';
import { validateDigest, validateRegistryHost, validateRepository, validateTag } from './reference';

/** The result of parsing one event. */
export type PushEventParse =
  | { kind: 'push'; image: ImageId; tag?: string; mediaType?: string; eventId: string }
  | { kind: 'ignored'; reason: string; eventId?: string };

/** The one ACR event type acr-guard acts on. */
export const IMAGE_PUSHED = 'Microsoft.ContainerRegistry.ImagePushed';

/** Longest string accepted anywhere in an event (4 KiB). */
export const MAX_EVENT_STRING = 4096;
/** Most events accepted in one registry notification envelope. */
export const MAX_NOTIFICATION_EVENTS = 1000;
const MAX_DEPTH = 16;

/** Media types of manifests (what a gate can be about); anything else pushed is a blob or unknown. */
const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

type Json = JsonObject;

/** The reader of every event: `INVALID_INPUT` at the JSON path, `(body)` for the whole body. */
const reader = new JsonReader();
const fail = reader.fail.bind(reader);
const isObject = isJsonObject;
const join = reader.join.bind(reader);

/** Rejects over-long strings and absurd nesting anywhere in the body before any field is read. */
function checkLimits(value: unknown, path: string, depth: number): void {
  if (typeof value === 'string') {
    if (value.length > MAX_EVENT_STRING)
      throw fail(path || '(body)', `a string of at most ${MAX_EVENT_STRING} chars`, value);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (depth > MAX_DEPTH) throw fail(path || '(body)', `at most ${MAX_DEPTH} levels of nesting`, value);
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkLimits(item, join(path, i), depth + 1));
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (key.length > MAX_EVENT_STRING) throw fail(path || '(body)', `keys of at most ${MAX_EVENT_STRING} chars`);
    checkLimits(item, join(path, key), depth + 1);
  }
}

const requireObject = reader.requireObject.bind(reader);
const requireString = reader.requireString.bind(reader);
const optionalString = reader.optionalString.bind(reader);
const optionalSize = reader.optionalCount.bind(reader);

/** True when a pushed `mediaType` is a manifest or index (absent counts as a manifest: ACR always sends it). */
function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === undefined || MANIFEST_MEDIA_TYPES.has(mediaType.split(';')[0].trim());
}

/**
 * Reads the push-specific part shared by ACR's `data` and a registry notification event:
 * `target` {digest, repository, tag?, mediaType?, size?, length?} and `request.host`.
 */
function readPush(event: Json, path: string, eventId: string): PushEventParse {
  const target = requireObject(event, 'target', path);
  const targetPath = join(path, 'target');
  const mediaType = optionalString(target, 'mediaType', targetPath);
  if (mediaType !== undefined && mediaType.length > 255)
    throw fail(join(targetPath, 'mediaType'), 'a media type of at most 255 chars', mediaType);
  if (!isManifestMediaType(mediaType)) {
    return { kind: 'ignored', reason: `push of ${mediaType} (a blob, not a manifest)`, eventId };
  }
  const digest = validateDigest(requireString(target, 'digest', targetPath), join(targetPath, 'digest'));
  const repository = validateRepository(
    requireString(target, 'repository', targetPath),
    join(targetPath, 'repository'),
  );
  const tagText = optionalString(target, 'tag', targetPath);
  const tag = tagText === undefined || tagText === '' ? undefined : validateTag(tagText, join(targetPath, 'tag'));
  optionalSize(target, 'size', targetPath);
  optionalSize(target, 'length', targetPath);
  const request = requireObject(event, 'request', path);
  const requestPath = join(path, 'request');
  const registry = validateRegistryHost(requireString(request, 'host', requestPath), join(requestPath, 'host'));
  const parsed: PushEventParse = { kind: 'push', image: { registry, repository, digest }, eventId };
  if (tag !== undefined) parsed.tag = tag;
  if (mediaType !== undefined) parsed.mediaType = mediaType;
  return parsed;
}

/**
 * Parses one ACR event delivered by Event Grid, in the Event Grid schema (`eventType`, `eventTime`, `topic`,
 * `subject`, `dataVersion`, `data`) or CloudEvents 1.0 (`specversion`, `type`, `source`, `time`, `data`).
 * Event types other than {@link IMAGE_PUSHED} are `ignored`. A push that is malformed throws
 * `INVALID_INPUT` with the JSON path (`data.target.digest`); so does a body that is not an event object.
 */
export function parseAcrEvent(body: unknown): PushEventParse {
  if (!isObject(body)) throw fail('(body)', 'one event object (Event Grid schema or CloudEvents 1.0)', body);
  checkLimits(body, '', 0);
  const cloudEvent = body.specversion !== undefined;
  let type: string;
  if (cloudEvent) {
    if (body.specversion !== '1.0') throw fail('specversion', '"1.0" (CloudEvents 1.0)', body.specversion);
    type = requireString(body, 'type', '');
    requireString(body, 'source', '');
    optionalString(body, 'time', '');
  } else {
    if (body.eventType === undefined)
      throw fail(
        'eventType',
        'an Event Grid event (eventType, data, ...) or a CloudEvent (specversion, type, ...)',
        undefined,
      );
    type = requireString(body, 'eventType', '');
    for (const key of ['topic', 'eventTime', 'dataVersion', 'metadataVersion']) optionalString(body, key, '');
  }
  optionalString(body, 'subject', '');
  const idValue = body.id;
  if (type !== IMAGE_PUSHED) {
    return {
      kind: 'ignored',
      reason: `event type ${type} is not ${IMAGE_PUSHED}`,
      eventId: typeof idValue === 'string' ? idValue : undefined,
    };
  }
  const eventId = requireString(body, 'id', '');
  const data = requireObject(body, 'data', '');
  const action = optionalString(data, 'action', 'data');
  if (action !== undefined && action !== 'push') throw fail('data.action', '"push" in an ImagePushed event', action);
  return readPush(data, 'data', eventId);
}

/**
 * Parses the open-source registry's notification envelope (`application/vnd.docker.distribution.events.v1+json`,
 * `{ events: [...] }`). A `push` of a manifest becomes a push; deletes, pulls, mounts and pushes of blobs
 * (layers, configs) are `ignored`. Errors name the event: `events[3].target.digest`.
 */
export function parseRegistryNotification(body: unknown): PushEventParse[] {
  if (!isObject(body)) throw fail('(body)', 'a registry notification envelope { "events": [...] }', body);
  checkLimits(body, '', 0);
  const events = body.events;
  if (!Array.isArray(events)) throw fail('events', 'an array of events', events);
  if (events.length > MAX_NOTIFICATION_EVENTS)
    throw fail('events', `at most ${MAX_NOTIFICATION_EVENTS} events`, events);
  return events.map((event, i): PushEventParse => {
    const path = `events[${i}]`;
    if (!isObject(event)) throw fail(path, 'an event object', event);
    const eventId = requireString(event, 'id', path);
    const action = requireString(event, 'action', path);
    if (action !== 'push') return { kind: 'ignored', reason: `action ${action} is not a push`, eventId };
    return readPush(event, path, eventId);
  });
}
