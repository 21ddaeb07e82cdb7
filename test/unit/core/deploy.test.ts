/** The pure deploy decision: every refusal, the release repository mapping, and signatures checked now. */
import { decideDeploy, deployedRepository } from '../../../src/core/deploy';
import { loadPolicy } from '../../../src/core/policy';
import type { SignatureResult, Verdict } from '../../../src/core/types';

const HOST = 'contosoacr.azurecr.io';
const D = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const NOW = Date.parse('2026-12-07T12:00:00Z');
const policy = loadPolicy(`version: 1
registries: [{ host: "${HOST}", apply: promote }]
gate:
  - scope: "signed/**"
    vulnerabilities: { block: [critical] }
    signatures: { required: true, trustPolicy: contoso }
    promote: { repository: "release/{repository}" }
  - scope: "**"
    vulnerabilities: { block: [critical] }
    promote: { repository: "release/{repository}" }
runtime:
  regateAfter: 12h
`);

function verdict(repository: string, digest: string, options: Partial<Verdict> = {}): Verdict {
  return {
    image: { registry: HOST, repository, digest },
    decision: 'release',
    summary: 'released',
    checks: [],
    findingCounts: {},
    rule: 'gate[1] scope "**"',
    policy: { version: 1, hash: policy.hash },
    decidedAt: new Date(NOW - 3_600_000).toISOString(),
    ...options,
  };
}

const sig = (status: SignatureResult['status']): SignatureResult => ({
  status,
  reason: `signatures ${status}`,
  signatures: [],
});

describe('decideDeploy', () => {
  const base = { policy, nowMs: NOW, signatures: { required: false as const } };

  it('deploys a fresh release under the current policy, pinned in the release repository', () => {
    const d = decideDeploy({
      ...base,
      requested: { registry: HOST, repository: 'team/api', tag: 'v1' },
      digest: D(1),
      evidence: {
        source: 'audit-store',
        verdict: verdict('team/api', D(1), { tag: 'v1' }),
        tagVerdict: verdict('team/api', D(1), { tag: 'v1' }),
      },
    });
    expect(d).toMatchObject({
      decision: 'deploy',
      image: `${HOST}/release/team/api@${D(1)}`,
      releaseRepository: 'release/team/api',
    });
    expect(deployedRepository(policy, { registry: HOST, repository: 'team/api', digest: D(1) })).toEqual({
      repository: 'release/team/api',
      promoted: true,
    });
  });

  it.each([
    ['never-gated', {}, undefined],
    ['blocked', { verdict: verdict('team/api', D(1), { decision: 'block', summary: 'blocked: CVE-1' }) }, undefined],
    ['stale', { verdict: verdict('team/api', D(1), { policy: { version: 1, hash: 'f'.repeat(64) } }) }, undefined],
    [
      'stale',
      { verdict: verdict('team/api', D(1), { decidedAt: new Date(NOW - 13 * 3_600_000).toISOString() }) },
      undefined,
    ],
    ['tag-moved', { verdict: verdict('team/api', D(1)), tagVerdict: verdict('team/api', D(2), { tag: 'v1' }) }, 'v1'],
  ])('refuses %s', (refusal, evidence, tag) => {
    const d = decideDeploy({
      ...base,
      requested: { registry: HOST, repository: 'team/api', ...(tag ? { tag } : { digest: D(1) }) },
      digest: D(1),
      evidence: { source: 'audit-store', ...evidence },
    });
    expect(d).toMatchObject({ decision: 'refuse', refusal, image: `${HOST}/team/api@${D(1)}` });
  });

  it('a tag verdict for another digest is ignored when deploying by digest (the digest decides)', () => {
    const d = decideDeploy({
      ...base,
      requested: { registry: HOST, repository: 'team/api', digest: D(1) },
      digest: D(1),
      evidence: { source: 'audit-store', verdict: verdict('team/api', D(1)), tagVerdict: verdict('team/api', D(2)) },
    });
    expect(d.decision).toBe('deploy');
  });

  it('where the rule requires signatures, only a signature verified now deploys', () => {
    const input = {
      ...base,
      requested: { registry: HOST, repository: 'signed/api', digest: D(3) },
      digest: D(3),
      evidence: { source: 'audit-store', verdict: verdict('signed/api', D(3)) },
    };
    for (const status of ['inconclusive', 'failed', 'skipped'] as const)
      expect(decideDeploy({ ...input, signatures: { required: true, result: sig(status) } })).toMatchObject({
        decision: 'refuse',
        refusal: 'signatures',
      });
    const ok = decideDeploy({ ...input, signatures: { required: true, result: sig('verified') } });
    expect(ok).toMatchObject({ decision: 'deploy', image: `${HOST}/release/signed/api@${D(3)}` });
    expect(ok.reason).toContain('signatures verified now');
  });

  it('refuses a registry outside the allowlist', () => {
    expect(
      decideDeploy({
        ...base,
        requested: { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' },
        digest: D(4),
        evidence: { source: 'audit-store' },
      }),
    ).toMatchObject({ decision: 'refuse', refusal: 'not-allowlisted' });
  });
});
