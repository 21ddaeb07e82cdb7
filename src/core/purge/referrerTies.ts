/**
 * Which manifest a referrer refers to, decided by content (issue 17: a tag never changes what a manifest is).
 *
 * A tag is the word of whoever can push; the purge deletes with rights they do not have. So a referrer-style tag
 * (`sha256-<hex>`, cosign's `sha256-<hex>.sig`, `.att`, `.sbom`) never by itself ties a manifest to the digest it
 * names. A manifest refers to another only when its content says so:
 * - its own OCI `subject` field (the listing reads it; a runnable body is an image whatever it claims);
 * - a referrers fallback index (an index tagged `sha256-<hex>`): its tag is only a listing of referrers, so the
 *   index itself goes with that digest only when EVERY manifest it lists that is in the repository names that
 *   digest in its own `subject` (an index of images, as a re-PUT release index is, is judged as itself);
 * - a cosign signature or attestation manifest (tagged `sha256-<hex>.sig` / `.att`, no `subject`, no filesystem
 *   layer): tied when every layer is a simple-signing payload or a DSSE envelope, each read (bounded, see
 *   {@link COSIGN_PAYLOAD_LIMITS}), and every payload names exactly the digest its tag names. Anything else
 *   (cosign's `.sbom`, a payload too large, unreadable, naming another digest) is not tied: the plan keeps it
 *   (`unverified-referrer-tag`), never deletes it.
 */
import { CosignNames } from '../signatures/cosign';
import { isReferrerTag, referrerTagSubject } from '../reference';
import { isSha256Digest } from '../digest';

/** Bounds of reading a cosign payload, checked on the layer descriptors before any byte is read. */
export const COSIGN_PAYLOAD_LIMITS = {
  /** Most layers (signatures) of one cosign manifest read to tie it to its image. */
  maxLayers: 16,
  /** Largest payload read (a simple-signing payload is a few hundred bytes; an attestation's DSSE envelope more). */
  maxPayloadBytes: 256 * 1024,
} as const;

/** DSSE envelope media type (cosign's `.att` layers). */
export const DSSE_ENVELOPE_TYPE = 'application/vnd.dsse.envelope.v1+json';

/** A layer to read: digest and declared size. */
export interface PayloadLayer {
  digest: string;
  size: number;
  mediaType: string;
}

/**
 * The layers of a cosign signature or attestation manifest to read for the digest they name, or undefined when
 * the manifest cannot be one (a layer of another type, too many layers, a layer larger than the bound, or a
 * layer without digest/size): then nothing is read and the manifest is not tied.
 */
export function cosignPayloadLayers(json: Record<string, unknown>): PayloadLayer[] | undefined {
  const layers = json.layers;
  if (!Array.isArray(layers) || layers.length === 0 || layers.length > COSIGN_PAYLOAD_LIMITS.maxLayers)
    return undefined;
  const out: PayloadLayer[] = [];
  for (const l of layers as unknown[]) {
    if (!l || typeof l !== 'object') return undefined;
    const { digest, size, mediaType } = l as { digest?: unknown; size?: unknown; mediaType?: unknown };
    if (typeof digest !== 'string' || typeof size !== 'number' || typeof mediaType !== 'string') return undefined;
    if (mediaType !== CosignNames.simpleSigning && mediaType !== DSSE_ENVELOPE_TYPE) return undefined;
    if (!Number.isInteger(size) || size < 0 || size > COSIGN_PAYLOAD_LIMITS.maxPayloadBytes) return undefined;
    out.push({ digest, size, mediaType });
  }
  return out;
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The image digest one payload names: a simple-signing payload's `critical.image.docker-manifest-digest`, or the
 * sole sha256 digest of the subjects of the in-toto statement in a DSSE envelope. Undefined when it names none,
 * or several different ones.
 */
export function digestNamedByPayload(mediaType: string, bytes: Buffer): string | undefined {
  const json = parseJson(bytes);
  if (!json || typeof json !== 'object') return undefined;
  if (mediaType === CosignNames.simpleSigning) {
    const d = (json as { critical?: { image?: { 'docker-manifest-digest'?: unknown } } }).critical?.image?.[
      'docker-manifest-digest'
    ];
    return isSha256Digest(d) ? d : undefined;
  }
  if (mediaType === DSSE_ENVELOPE_TYPE) {
    const payload = (json as { payload?: unknown }).payload;
    if (typeof payload !== 'string') return undefined;
    const statement = parseJson(Buffer.from(payload, 'base64'));
    const subjects = (statement as { subject?: unknown } | undefined)?.subject;
    if (!Array.isArray(subjects) || subjects.length === 0) return undefined;
    const named = new Set<string>();
    for (const s of subjects as unknown[]) {
      const hex = (s as { digest?: { sha256?: unknown } } | null)?.digest?.sha256;
      if (typeof hex !== 'string' || !isSha256Digest(`sha256:${hex}`)) return undefined;
      named.add(`sha256:${hex}`);
    }
    return named.size === 1 ? [...named][0] : undefined;
  }
  return undefined;
}

/** What the listing read of one manifest, for {@link tiedSubject}. */
export interface ReadManifest {
  digest: string;
  tags: readonly string[];
  /** The body's own `subject` digest (absent for a runnable body: an image whatever it claims). */
  ownSubject?: string;
  runnable: boolean;
  isIndex: boolean;
  children?: readonly string[];
  /** For a cosign-shaped body: the digest every payload names (undefined: none, several, or not read). */
  payloadDigest?: string;
}

/**
 * The digest `m` refers to, by content only (see the module comment): its own subject; else, for a
 * referrer-tagged index whose listed manifests (those in `all`) all name one tag's digest as their own subject,
 * that digest; else, for a cosign-shaped body, the digest its payloads name when a `.sig`/`.att` tag names it too.
 * Undefined otherwise: then the manifest is judged as itself (or kept, when it has only referrer-style tags).
 */
export function tiedSubject(m: ReadManifest, all: ReadonlyMap<string, ReadManifest>): string | undefined {
  if (m.runnable) return undefined;
  if (m.ownSubject !== undefined) return m.ownSubject !== m.digest ? m.ownSubject : undefined;
  for (const tag of [...m.tags].sort()) {
    if (!isReferrerTag(tag)) continue;
    const named = referrerTagSubject(tag);
    if (named === undefined || named === m.digest) continue;
    const plain = !tag.includes('.');
    if (m.isIndex) {
      if (!plain) continue;
      const listed = (m.children ?? []).map((c) => all.get(c)).filter((c): c is ReadManifest => c !== undefined);
      if (listed.every((c) => c.ownSubject === named && !c.runnable)) return named;
    } else if ((tag.endsWith('.sig') || tag.endsWith('.att')) && m.payloadDigest === named) return named;
  }
  return undefined;
}
