/**
 * Severity scales shared by every findings source: CVSS scores and scanners' words, mapped to one scale.
 */
import type { Severity } from './types';

/** Rank of each severity; higher is more severe. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = {
  critical: 5,
  high: 4,
  medium: 3,
  low: 2,
  negligible: 1,
  unknown: 0,
};

/** The more severe of two severities. */
export function moreSevere(a: Severity, b: Severity): Severity {
  return SEVERITY_RANK[b] > SEVERITY_RANK[a] ? b : a;
}

/** CVSS base score to severity (the CVSS v3 qualitative scale GitHub code scanning also uses). */
export function severityFromScore(score: number): Severity {
  if (!Number.isFinite(score) || score < 0 || score > 10) return 'unknown';
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  if (score > 0) return 'low';
  return 'negligible';
}

/** A textual severity as scanners and Defender write it (`CRITICAL`, `High`, `moderate`, `info`, …); undefined otherwise. */
export function severityFromText(text: string): Severity | undefined {
  switch (text.trim().toLowerCase()) {
    case 'critical':
      return 'critical';
    case 'high':
    case 'important':
      return 'high';
    case 'medium':
    case 'moderate':
      return 'medium';
    case 'low':
      return 'low';
    case 'negligible':
    case 'info':
    case 'informational':
    case 'none':
      return 'negligible';
    case 'unknown':
      return 'unknown';
    default:
      return undefined;
  }
}
