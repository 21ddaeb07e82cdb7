/**
 * CVSS vectors to a base score and a severity, for scanners that write a vector without a score (a CycloneDX
 * rating with only `vector`, a SARIF property, a Defender CVSS entry). Pure; never throws: a vector that is
 * not well formed answers `{ ok: false, reason }` and the caller falls back to its other signals.
 *
 * Scores come from the pinned `ae-cvss-calculator` (FIRST's formulas for v2.0, v3.0, v3.1 and v4.0). That
 * library is lenient (`CVSS:3.1/AV:X` scores 0), so the vector is validated here first, strictly: the
 * version prefix, every base metric exactly once with a value the specification allows, no unknown metric.
 * Only the base metrics are scored (temporal, threat, environmental and supplemental metrics are checked
 * for form and then dropped): the base score is what NVD and the scanners publish.
 *
 * Severity, by the specifications' qualitative scales:
 * - v3.0, v3.1 (CVSS v3.1 specification §5) and v4.0 (CVSS v4.0 specification §6): 0.0 none (`negligible`
 *   here), 0.1–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical;
 * - v2.0 has no qualitative scale of its own; NVD's v2 ranges are used: 0.0–3.9 low, 4.0–6.9 medium,
 *   7.0–10.0 high. So a v2-only 10.0 is `high`, never `critical` (as NVD shows it).
 */
import { Cvss2, Cvss3P0, Cvss3P1, Cvss4P0 } from 'ae-cvss-calculator';
import type { Severity } from './types';
import { severityFromScore } from './severity';

/** The CVSS versions acr-guard scores. */
export type CvssVersion = '2.0' | '3.0' | '3.1' | '4.0';

/** Longest vector accepted (a full v4.0 vector with every optional metric is about 200 characters). */
export const MAX_CVSS_VECTOR_LENGTH = 512;

/** A scored vector, or why it was ignored. */
export type CvssScore =
  | { ok: true; version: CvssVersion; score: number; severity: Severity; vector: string }
  | { ok: false; reason: string };

type MetricTable = Record<string, readonly string[]>;

const V2_BASE: MetricTable = {
  AV: ['L', 'A', 'N'],
  AC: ['H', 'M', 'L'],
  Au: ['M', 'S', 'N'],
  C: ['N', 'P', 'C'],
  I: ['N', 'P', 'C'],
  A: ['N', 'P', 'C'],
};
const V2_OTHER: MetricTable = {
  E: ['U', 'POC', 'F', 'H', 'ND'],
  RL: ['OF', 'TF', 'W', 'U', 'ND'],
  RC: ['UC', 'UR', 'C', 'ND'],
  CDP: ['N', 'L', 'LM', 'MH', 'H', 'ND'],
  TD: ['N', 'L', 'M', 'H', 'ND'],
  CR: ['L', 'M', 'H', 'ND'],
  IR: ['L', 'M', 'H', 'ND'],
  AR: ['L', 'M', 'H', 'ND'],
};
const V3_BASE: MetricTable = {
  AV: ['N', 'A', 'L', 'P'],
  AC: ['L', 'H'],
  PR: ['N', 'L', 'H'],
  UI: ['N', 'R'],
  S: ['U', 'C'],
  C: ['H', 'L', 'N'],
  I: ['H', 'L', 'N'],
  A: ['H', 'L', 'N'],
};
const V3_OTHER: MetricTable = {
  E: ['X', 'U', 'P', 'F', 'H'],
  RL: ['X', 'O', 'T', 'W', 'U'],
  RC: ['X', 'U', 'R', 'C'],
  CR: ['X', 'L', 'M', 'H'],
  IR: ['X', 'L', 'M', 'H'],
  AR: ['X', 'L', 'M', 'H'],
  MAV: ['X', 'N', 'A', 'L', 'P'],
  MAC: ['X', 'L', 'H'],
  MPR: ['X', 'N', 'L', 'H'],
  MUI: ['X', 'N', 'R'],
  MS: ['X', 'U', 'C'],
  MC: ['X', 'H', 'L', 'N'],
  MI: ['X', 'H', 'L', 'N'],
  MA: ['X', 'H', 'L', 'N'],
};
const V4_BASE: MetricTable = {
  AV: ['N', 'A', 'L', 'P'],
  AC: ['L', 'H'],
  AT: ['N', 'P'],
  PR: ['N', 'L', 'H'],
  UI: ['N', 'P', 'A'],
  VC: ['H', 'L', 'N'],
  VI: ['H', 'L', 'N'],
  VA: ['H', 'L', 'N'],
  SC: ['H', 'L', 'N'],
  SI: ['H', 'L', 'N'],
  SA: ['H', 'L', 'N'],
};
const V4_OTHER: MetricTable = {
  E: ['X', 'A', 'P', 'U'],
  CR: ['X', 'H', 'M', 'L'],
  IR: ['X', 'H', 'M', 'L'],
  AR: ['X', 'H', 'M', 'L'],
  MAV: ['X', 'N', 'A', 'L', 'P'],
  MAC: ['X', 'L', 'H'],
  MAT: ['X', 'N', 'P'],
  MPR: ['X', 'N', 'L', 'H'],
  MUI: ['X', 'N', 'P', 'A'],
  MVC: ['X', 'H', 'L', 'N'],
  MVI: ['X', 'H', 'L', 'N'],
  MVA: ['X', 'H', 'L', 'N'],
  MSC: ['X', 'H', 'L', 'N'],
  MSI: ['X', 'S', 'H', 'L', 'N'],
  MSA: ['X', 'S', 'H', 'L', 'N'],
  S: ['X', 'N', 'P'],
  AU: ['X', 'N', 'Y'],
  R: ['X', 'A', 'U', 'I'],
  V: ['X', 'D', 'C'],
  RE: ['X', 'L', 'M', 'H'],
  U: ['X', 'Clear', 'Green', 'Amber', 'Red'],
};

const TABLES: Record<CvssVersion, { base: MetricTable; other: MetricTable }> = {
  '2.0': { base: V2_BASE, other: V2_OTHER },
  '3.0': { base: V3_BASE, other: V3_OTHER },
  '3.1': { base: V3_BASE, other: V3_OTHER },
  '4.0': { base: V4_BASE, other: V4_OTHER },
};

function bad(reason: string): CvssScore {
  return { ok: false, reason };
}

/** The version a vector declares (`CVSS:3.1/…`), or 2.0 for NVD's unprefixed v2 form (`AV:N/AC:L/Au:N/…`). */
function splitVersion(text: string): { version: CvssVersion; body: string } | { error: string } {
  const m = /^CVSS:(\d+\.\d+)\/(.*)$/.exec(text);
  if (!m) return { version: '2.0', body: text };
  const version = m[1];
  if (version !== '2.0' && version !== '3.0' && version !== '3.1' && version !== '4.0')
    return { error: `CVSS version ${version} is not one of 2.0, 3.0, 3.1, 4.0` };
  return { version, body: m[2] };
}

/**
 * The CVSS version a CycloneDX rating `method` names (`CVSSv2`, `CVSSv3`, `CVSSv31`, `CVSSv4`), for vectors
 * written without their `CVSS:x.y/` prefix (CycloneDX's own examples do that); undefined otherwise.
 */
export function cvssVersionOfMethod(method: string | undefined): CvssVersion | undefined {
  switch (method?.trim().toLowerCase()) {
    case 'cvssv2':
      return '2.0';
    case 'cvssv3':
      return '3.0';
    case 'cvssv31':
      return '3.1';
    case 'cvssv4':
      return '4.0';
    default:
      return undefined;
  }
}

/**
 * Scores the base metrics of a CVSS v2.0, v3.0, v3.1 or v4.0 vector; `{ ok: false, reason }` when malformed.
 * `unprefixed` is the version to assume when the vector has no `CVSS:x.y/` prefix (default 2.0, NVD's form).
 */
export function scoreCvssVector(vector: unknown, unprefixed?: CvssVersion): CvssScore {
  if (typeof vector !== 'string') return bad('the CVSS vector is not a string');
  if (vector.length > MAX_CVSS_VECTOR_LENGTH)
    return bad(`the CVSS vector is over ${MAX_CVSS_VECTOR_LENGTH} characters`);
  // NVD's v2 vectors are sometimes written in parentheses: (AV:N/AC:L/Au:N/C:P/I:P/A:P).
  let text = vector.trim().replace(/^\((.*)\)$/, '$1');
  if (unprefixed && unprefixed !== '2.0' && !text.startsWith('CVSS:')) text = `CVSS:${unprefixed}/${text}`;
  const split = splitVersion(text);
  if ('error' in split) return bad(split.error);
  const { version, body } = split;
  const { base, other } = TABLES[version];
  const seen = new Map<string, string>();
  for (const part of body.split('/')) {
    const colon = part.indexOf(':');
    const key = part.slice(0, colon);
    const value = part.slice(colon + 1);
    if (colon <= 0 || value === '') return bad(`"${part.slice(0, 16)}" is not a metric:value pair (CVSS ${version})`);
    const allowed = Object.hasOwn(base, key) ? base[key] : Object.hasOwn(other, key) ? other[key] : undefined;
    if (!allowed) return bad(`metric ${key.slice(0, 8)} is not a CVSS ${version} metric`);
    if (seen.has(key)) return bad(`metric ${key} appears twice`);
    if (!allowed.includes(value))
      return bad(`metric ${key} has value ${value.slice(0, 8)}, expected one of ${allowed.join(', ')}`);
    seen.set(key, value);
  }
  const missing = Object.keys(base).filter((k) => !seen.has(k));
  if (missing.length > 0) return bad(`base metric(s) ${missing.join(', ')} missing (CVSS ${version})`);
  const baseOnly = Object.keys(base)
    .map((k) => `${k}:${seen.get(k)}`)
    .join('/');
  let score: number | undefined;
  try {
    if (version === '2.0') score = new Cvss2(baseOnly).calculateScores().base;
    else if (version === '3.0') score = new Cvss3P0(`CVSS:3.0/${baseOnly}`).calculateScores().base;
    else if (version === '3.1') score = new Cvss3P1(`CVSS:3.1/${baseOnly}`).calculateScores().base;
    else score = new Cvss4P0(`CVSS:4.0/${baseOnly}`).calculateScores().base;
  } catch {
    return bad(`the CVSS ${version} calculator refused the vector`);
  }
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 10)
    return bad(`the CVSS ${version} calculator gave no base score`);
  const normalized = version === '2.0' ? `${baseOnly}` : `CVSS:${version}/${baseOnly}`;
  return { ok: true, version, score, severity: severityFromCvss(version, score), vector: normalized };
}

/** A base score of a given CVSS version to a severity (see the module comment for the scales). */
export function severityFromCvss(version: CvssVersion, score: number): Severity {
  if (version !== '2.0') return severityFromScore(score);
  if (!Number.isFinite(score) || score < 0 || score > 10) return 'unknown';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  return 'low';
}
