/**
 * The gate's decision over what it read (src/orchestrations/gateDecision.ts), shared by the orchestrator and
 * version 3's prepareAndFinish: what waiting can still change, and the verdict over every platform.
 */
import { loadPolicy } from '../../src/core/policy';
import type { FindingsResult, FindingsSourceName, ImageId, SignatureResult } from '../../src/core/types';
import { loadGateContext, type GateContext } from '../../src/orchestrations/gateContext';
import { decideGate, findingsKey, pendingFindings } from '../../src/orchestrations/gateDecision';
import type { GateServices } from '../../src/orchestrations/services';
import { pending, ready } from '../support/durableGateFakes';

const ACR = 'contoso.azurecr.io';
const NOW = new Date('2025-06-01T12:00:00.000Z');
const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const INDEX = `sha256:${'c'.repeat(64)}`;
const PLATFORMS = [
  { digest: A, platform: 'linux/amd64' },
  { digest: B, platform: 'linux/arm64' },
];
const UNSIGNED: SignatureResult = { status: 'inconclusive', reason: 'no trust policy', signatures: [] };

async function context(require: 'all' | 'any', repository = 'team/api'): Promise<GateContext> {
  const policy = loadPolicy(
    `version: 1
registries: [{ host: "${ACR}" }]
gate:
  - scope: "team/**"
    vulnerabilities: { block: [critical], sources: [defender, reports], require: ${require} }
    signatures: { required: false }
`,
    'test policy',
  );
  const image: ImageId = { registry: ACR, repository, digest: INDEX };
  const gate = await loadGateContext({ policy: () => policy } as unknown as GateServices, { image });
  if (!gate.ok) throw new Error(gate.detail);
  return gate;
}

function results(...entries: Array<[digest: string, source: FindingsSourceName, FindingsResult]>) {
  return new Map(entries.map(([digest, source, r]) => [findingsKey(digest, source), r]));
}

const errored = (source: FindingsSourceName): FindingsResult => ({
  source,
  status: 'error',
  code: 'TRANSIENT',
  detail: 'HTTP 500',
});
const CRITICAL = { id: 'CVE-2024-6119', severity: 'critical' as const, package: 'openssl' };

describe('pendingFindings', () => {
  it('require all: only the pending sources of the platforms whose scan is not complete', async () => {
    const gate = await context('all');
    const read = results(
      [A, 'defender', pending('defender')],
      [A, 'reports', ready('reports', [])],
      [B, 'defender', ready('defender', [])],
      [B, 'reports', ready('reports', [])],
    );
    expect(pendingFindings(gate.rule!, gate.sources, PLATFORMS, read)).toEqual([
      { digest: A, platform: 'linux/amd64', source: 'defender' },
    ]);
  });

  it('require any: one ready source completes a platform; only a platform with none ready waits', async () => {
    const gate = await context('any');
    const read = results(
      [A, 'defender', pending('defender')],
      [A, 'reports', ready('reports', [])],
      [B, 'defender', pending('defender')],
      [B, 'reports', pending('reports')],
    );
    expect(pendingFindings(gate.rule!, gate.sources, PLATFORMS, read)).toEqual([
      { digest: B, platform: 'linux/arm64', source: 'defender' },
      { digest: B, platform: 'linux/arm64', source: 'reports' },
    ]);
  });

  it('never waits for an error (final for this gate), only for what is pending beside it', async () => {
    const gate = await context('all');
    const read = results([A, 'defender', errored('defender')], [A, 'reports', pending('reports')]);
    expect(pendingFindings(gate.rule!, gate.sources, [PLATFORMS[0]], read)).toEqual([
      { digest: A, platform: 'linux/amd64', source: 'reports' },
    ]);
  });
});

describe('decideGate', () => {
  it('blocks an index when one platform has a blocking finding, naming that platform', async () => {
    const gate = await context('all');
    const read = results(
      [A, 'defender', ready('defender', [])],
      [A, 'reports', ready('reports', [])],
      [B, 'defender', ready('defender', [CRITICAL])],
      [B, 'reports', ready('reports', [])],
    );
    const verdict = decideGate({
      gate,
      image: { registry: ACR, repository: 'team/api', digest: INDEX },
      tag: '1.0',
      platforms: PLATFORMS,
      results: read,
      signatures: UNSIGNED,
      deadlinePassed: false,
      now: NOW,
    });
    expect(verdict).toMatchObject({ decision: 'block', tag: '1.0', decidedAt: NOW.toISOString() });
    expect(verdict.summary).toContain('CVE-2024-6119');
    expect(JSON.stringify(verdict.checks)).toContain('linux/arm64');
  });

  it('blocks an image under no gate rule, whatever was read', async () => {
    const gate = await context('all', 'other/api');
    expect(gate.rule).toBeUndefined();
    const verdict = decideGate({
      gate,
      image: { registry: ACR, repository: 'other/api', digest: INDEX },
      platforms: PLATFORMS,
      results: results(),
      signatures: UNSIGNED,
      deadlinePassed: false,
      now: NOW,
    });
    expect(verdict.decision).toBe('block');
    expect(verdict.summary).toContain('no gate rule');
  });

  it('blocks a scan still pending when the deadline has passed', async () => {
    const gate = await context('all');
    const read = results([A, 'defender', pending('defender')], [A, 'reports', ready('reports', [])]);
    const verdict = decideGate({
      gate,
      image: { registry: ACR, repository: 'team/api', digest: A },
      platforms: [{ digest: A }],
      results: read,
      signatures: UNSIGNED,
      deadlinePassed: true,
      now: NOW,
    });
    expect(verdict.decision).toBe('block');
  });
});
