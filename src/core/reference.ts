/**
 * Image references: validation of every part (registry host, repository, tag, digest) against the OCI
 * distribution grammar, parsing of `<registry>/<repository>[:tag][@digest]`, and the deterministic
 * Durable instance ids derived from a digest.
 *
 * Everything that later reaches a URL, a KQL literal or an instance id passes through here first, so the
 * checks are strict: a value outside the grammar is an `INVALID_INPUT` naming the field and the expected
 * form, never something "cleaned up".
 */
import { createHash } from 'node:crypto';
import { invalidInput } from './errors';
import { DIGEST_PATTERN as DIGEST_RE } from './digest';
import type { ImageId, ImageReference } from './types';

/** One repository path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` (OCI distribution spec). */
const REPOSITORY_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPOSITORY_RE = new RegExp(`^${REPOSITORY_COMPONENT}(?:/${REPOSITORY_COMPONENT})*$`);
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DNS_LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const PORT_RE = /^[0-9]{1,5}$/;

/** Longest repository name accepted (the distribution spec's practical limit). */
export const MAX_REPOSITORY_LENGTH = 255;
/** Longest full reference accepted by {@link parseImageReference}. */
export const MAX_REFERENCE_LENGTH = 1024;

const REPOSITORY_FORM =
  'a lower-case OCI repository path like team/app (components [a-z0-9] joined by ".", "_", "__" or "-", separated by "/", at most 255 chars)';
const DIGEST_FORM = 'a digest sha256:<64 lower-case hex> or sha512:<128 lower-case hex>';
const TAG_FORM = 'a tag of 1-128 chars [A-Za-z0-9_.-] not starting with "." or "-"';
const HOST_FORM = 'a registry host[:port] like contoso.azurecr.io or 127.0.0.1:5000 (no scheme, user, path or query)';
const REFERENCE_FORM =
  '<registry>/<repository>[:tag][@digest], e.g. contoso.azurecr.io/team/app:v1 or contoso.azurecr.io/team/app@sha256:<64 hex>';

/** Validates an OCI repository name; returns it unchanged. Throws `INVALID_INPUT` naming `field`. */
export function validateRepository(name: string, field = 'repository'): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > MAX_REPOSITORY_LENGTH ||
    !REPOSITORY_RE.test(name)
  ) {
    throw invalidInput(field, REPOSITORY_FORM, name);
  }
  return name;
}

/** Validates a manifest digest (`sha256:` + 64 hex or `sha512:` + 128 hex, lower case); returns it unchanged. */
export function validateDigest(d: string, field = 'digest'): string {
  if (typeof d !== 'string' || !DIGEST_RE.test(d)) throw invalidInput(field, DIGEST_FORM, d);
  return d;
}

/** Validates a tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`); returns it unchanged. */
export function validateTag(t: string, field = 'tag'): string {
  if (typeof t !== 'string' || !TAG_RE.test(t)) throw invalidInput(field, TAG_FORM, t);
  return t;
}

/** True when `text` is a syntactically valid IPv6 address (no zone id), e.g. `::1`, `fe80::1`, `::ffff:10.0.0.1`. */
function isIpv6(text: string): boolean {
  if (text.length < 2 || text.length > 45 || !/^[0-9a-f:.]+$/.test(text)) return false;
  let head = text;
  let groupsAvailable = 8;
  // An embedded IPv4 tail takes the room of two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    if (!isIpv4(text.slice(lastColon + 1))) return false;
    head = text.slice(0, lastColon + 1) + '0';
    groupsAvailable = 7;
  }
  const halves = head.split('::');
  if (halves.length > 2) return false;
  const groups = (part: string): string[] | undefined => {
    if (part === '') return [];
    const list = part.split(':');
    return list.every((g) => /^[0-9a-f]{1,4}$/.test(g)) ? list : undefined;
  };
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  if (!left || !right) return false;
  const count = left.length + right.length;
  return halves.length === 2 ? count < groupsAvailable : count === groupsAvailable;
}

/** True for a dotted-quad IPv4 literal with octets 0..255 and no leading zeros. */
function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^(?:0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

/**
 * Validates a registry host and returns it normalised: lower case `host[:port]`, with a default `:443`
 * removed. IP literals (including bracketed IPv6) are syntactically allowed; whether acr-guard may talk to
 * them is the policy allowlist's decision, not the grammar's.
 */
export function validateRegistryHost(h: string, field = 'registry'): string {
  if (typeof h !== 'string' || h.length === 0 || h.length > 260) throw invalidInput(field, HOST_FORM, h);
  const text = h.toLowerCase();
  let host: string;
  let port: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw invalidInput(field, HOST_FORM, h);
    host = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw invalidInput(field, HOST_FORM, h);
    port = rest === '' ? undefined : rest.slice(1);
    if (!isIpv6(host.slice(1, -1))) throw invalidInput(field, HOST_FORM, h);
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    port = colon < 0 ? undefined : text.slice(colon + 1);
    if (host.length === 0 || host.length > 253) throw invalidInput(field, HOST_FORM, h);
    const labels = host.split('.');
    if (!labels.every((label) => DNS_LABEL_RE.test(label))) throw invalidInput(field, HOST_FORM, h);
    // All-numeric dotted names must be real IPv4 literals (no `999.1.1.1`, no `010.0.0.1` octal ambiguity).
    if (labels.every((label) => /^[0-9]+$/.test(label)) && !isIpv4(host)) throw invalidInput(field, HOST_FORM, h);
  }
  if (port !== undefined) {
    if (!PORT_RE.test(port)) throw invalidInput(field, HOST_FORM, h);
    const n = Number(port);
    if (n < 1 || n > 65535) throw invalidInput(field, `${HOST_FORM}; port 1..65535`, h);
    port = String(n);
  }
  return port === undefined || port === '443' ? host : `${host}:${port}`;
}

/** Options for {@link parseImageReference}. */
export interface ParseReferenceOptions {
  /** Field name for errors. Default `image`. */
  field?: string;
  /** Accept `<registry>/<repository>` with neither tag nor digest. Default false. */
  allowBare?: boolean;
}

/**
 * Parses `<registry>/<repository>[:tag][@digest]`. The first path component is always the registry and
 * must look like one (contain `.` or `:`, or be `localhost`): acr-guard never guesses a default registry.
 * A tag or a digest is required unless `allowBare`. The registry is returned normalised.
 */
export function parseImageReference(text: string, options: ParseReferenceOptions | string = {}): ImageReference {
  const opts: ParseReferenceOptions = typeof options === 'string' ? { field: options } : options;
  const field = opts.field ?? 'image';
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_REFERENCE_LENGTH)
    throw invalidInput(field, REFERENCE_FORM, text);
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest))
      throw invalidInput(field, `${REFERENCE_FORM}; the part after "@" must be ${DIGEST_FORM}`, text);
  }
  const slash = rest.indexOf('/');
  if (slash <= 0) throw invalidInput(field, `${REFERENCE_FORM}; a registry host is required`, text);
  const registryText = rest.slice(0, slash);
  if (!(registryText.includes('.') || registryText.includes(':') || registryText === 'localhost')) {
    throw invalidInput(
      field,
      `${REFERENCE_FORM}; the first component must be a registry host (with "." or ":" or "localhost")`,
      text,
    );
  }
  let registry: string;
  try {
    registry = validateRegistryHost(registryText, field);
  } catch {
    throw invalidInput(field, `${REFERENCE_FORM}; the registry part must be ${HOST_FORM}`, text);
  }
  let path = rest.slice(slash + 1);
  let tag: string | undefined;
  // After the registry, ":" can only introduce the tag (repository components never contain it).
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG_RE.test(tag)) throw invalidInput(field, `${REFERENCE_FORM}; the part after ":" must be ${TAG_FORM}`, text);
  }
  if (path.length === 0 || path.length > MAX_REPOSITORY_LENGTH || !REPOSITORY_RE.test(path)) {
    throw invalidInput(field, `${REFERENCE_FORM}; the repository must be ${REPOSITORY_FORM}`, text);
  }
  if (tag === undefined && digest === undefined && !opts.allowBare) {
    throw invalidInput(field, `${REFERENCE_FORM}; a tag or a digest is required`, text);
  }
  const ref: ImageReference = { registry, repository: path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/**
 * Formats an image as `registry/repository@digest`; a reference without a digest as `registry/repository:tag`,
 * one with both as `registry/repository:tag@digest`.
 */
export function formatImage(image: ImageId | ImageReference): string {
  const base = `${image.registry}/${image.repository}`;
  const tag = 'tag' in image && image.tag ? `:${image.tag}` : '';
  return image.digest ? `${base}${tag}@${image.digest}` : `${base}${tag}`;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The Durable instance id of the gate for one image: `gate-` + 40 hex of sha256(`registry/repository@digest`).
 * Deterministic, so Event Grid's at-least-once delivery (and a push of one digest under two tags) maps to
 * one instance; 45 chars and free of `/ \ # ?`, which Durable instance ids must avoid.
 */
export function gateInstanceId(image: ImageId): string {
  return `gate-${sha256Hex(`${image.registry}/${image.repository}@${image.digest}`).slice(0, 40)}`;
}

/**
 * The Durable instance id of an on-demand rescan: `rescan-` + 32 hex of sha256(image, nonce). A new nonce
 * gives a new instance, so a rescan never collides with the push-triggered gate.
 */
export function rescanInstanceId(image: ImageId, nonce: string): string {
  // The newline separates the two parts, so (image, nonce) pairs cannot run together into the same text.
  return `rescan-${sha256Hex(`${image.registry}/${image.repository}@${image.digest}\n${nonce}`).slice(0, 32)}`;
}

/**
 * True for tags that name no image: the OCI referrers tag schema (`sha256-<hex>`, the index of an image's
 * referrers on registries without the referrers API) and cosign's `sha256-<hex>.sig`, `.att`, `.sbom`.
 */
export function isReferrerTag(tag: string): boolean {
  return /^sha(?:256|512)-[0-9a-f]{64,128}(?:\.[a-z]+)?$/.test(tag);
}

/**
 * The digest a referrer tag names (see {@link isReferrerTag}): `sha256-<hex>` and cosign's `sha256-<hex>.sig`,
 * `.att`, `.sbom` all name `sha256:<hex>`, the manifest they refer to. Undefined for any other tag, and for a
 * hex part whose length does not fit the algorithm (64 for sha256, 128 for sha512).
 */
export function referrerTagSubject(tag: string): string | undefined {
  if (!isReferrerTag(tag)) return undefined;
  const m = /^(sha256-[0-9a-f]{64}|sha512-[0-9a-f]{128})(?:\.[a-z]+)?$/.exec(tag);
  return m ? m[1].replace('-', ':') : undefined;
}
