/** A gate verdict as the audit store holds it, for doctor tests (the quarantined seed image). */
import type { Verdict } from '../../src/core/types';
import { SeedIds } from './doctorSeeds';

export const API_DIGEST = `sha256:${'ab'.repeat(32)}`;

/** The gate's block of contoso/api:1.4.2 (a critical CVE): the image stays quarantined. */
export function blockedApiVerdict(): Verdict {
  return {
    image: { registry: SeedIds.loginServer, repository: 'contoso/api', digest: API_DIGEST },
    tag: '1.4.2',
    decision: 'block',
    summary: 'blocked: CVE-2024-3094 (critical) in xz-utils 5.6.0',
    checks: [
      {
        name: 'vulnerabilities',
        status: 'fail',
        reason: 'CVE-2024-3094 (critical) in xz-utils 5.6.0 exceeds the policy (block critical)',
      },
      { name: 'signatures', status: 'pass', reason: 'verified by notation (trust policy production)' },
    ],
    findingCounts: { critical: 1 },
    rule: 'gate[0] scope "**"',
    policy: { version: 1, hash: 'sha256:0' },
    decidedAt: '2026-12-04T09:00:00.000Z',
  } as Verdict;
}

/** The same image released. */
export function releasedApiVerdict(): Verdict {
  return {
    ...blockedApiVerdict(),
    decision: 'release',
    summary: 'released',
    checks: [{ name: 'vulnerabilities', status: 'pass', reason: 'no finding above the policy' }],
    findingCounts: {},
  } as Verdict;
}
