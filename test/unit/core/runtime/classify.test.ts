/**
 * Runtime assurance core: the policy's `runtime` section, the classification into the fixed statuses, the
 * grace clock, the re-gate selection and the alert de-duplication. Pure functions, time passed in.
 */
import fc from 'fast-check';
import { loadPolicy, RUNTIME_GRACE_DEFAULTS } from '../../../../src/core/policy';
import { GuardError } from '../../../../src/core/errors';
import {
  classifyRuntime,
  digestKey,
  digestsToLookUp,
  MAX_RUNTIME_CONTAINERS,
  planInventory,
  RUNTIME_STATUSES,
  type GraceState,
  type Resolution,
  type RunningContainer,
} from '../../../../src/core/runtime/classify';
import { runtimeAlerts } from '../../../../src/core/runtime/alerts';
import type { Policy } from '../../../../src/core/policyTypes';
import type { Verdict } from '../../../../src/core/types';

const HOST = 'contoso.azurecr.io';
const POLICY_TEXT = `version: 1
registries: [${HOST}]
gate:
  - scope: "**"
    vulnerabilities: { block: [critical, high] }
runtime:
  grace: { critical: 3d, high: 14d }
  regateAfter: 24h
  allowRegistries: [mcr.microsoft.com]
`;
const policy = loadPolicy(POLICY_TEXT, 'policy.yaml');
const D = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const NOW = Date.parse('2026-12-04T12:00:00Z');
const DAY = 86_400_000;

function verdict(
  repository: string,
  digest: string,
  decision: 'release' | 'block',
  options: { severity?: 'critical' | 'high'; decidedMs?: number; hash?: string } = {},
): Verdict {
  const failing: Verdict['checks'] = options.severity
    ? [
        {
          name: 'vulnerabilities',
          status: 'fail' as const,
          reason: 'blocking',
          details: { blocking: [{ id: 'CVE-1', severity: options.severity }] },
        },
      ]
    : [];
  return {
    image: { registry: HOST, repository, digest },
    decision,
    summary: decision === 'release' ? 'released' : `blocked: CVE-1 (${options.severity ?? 'signatures'})`,
    checks:
      decision === 'block' && !options.severity
        ? [{ name: 'signatures', status: 'fail', reason: 'no signature' }]
        : failing,
    findingCounts: options.severity ? { [options.severity]: 1 } : {},
    rule: 'gate[0] scope "**"',
    policy: { version: 1, hash: options.hash ?? policy.hash },
    decidedAt: new Date(options.decidedMs ?? NOW - 3_600_000).toISOString(),
  };
}

function run(
  containers: RunningContainer[],
  options: {
    verdicts?: Verdict[];
    resolutions?: Record<string, Resolution>;
    grace?: GraceState;
    seen?: GraceState;
    nowMs?: number;
    policy?: Policy;
  } = {},
) {
  const p = options.policy ?? policy;
  const plan = planInventory(containers, p);
  const verdicts = new Map((options.verdicts ?? []).map((v) => [digestKey(v.image), v]));
  return classifyRuntime({
    plan,
    resolutions: new Map(Object.entries(options.resolutions ?? {})),
    verdicts,
    policy: p,
    graceState: options.grace ?? {},
    ...(options.seen ? { graceSeen: options.seen } : {}),
    nowMs: options.nowMs ?? NOW,
  });
}

describe('policy runtime section', () => {
  it('fills defaults, reads grace per severity, regateAfter and allowRegistries, and stays out of the hash', () => {
    expect(policy.runtime?.graceMs.critical).toBe(3 * DAY);
    expect(policy.runtime?.graceMs.high).toBe(14 * DAY);
    expect(policy.runtime?.graceMs.other).toBe(RUNTIME_GRACE_DEFAULTS.other);
    expect(policy.runtime?.regateAfterMs).toBe(DAY);
    expect(policy.runtime?.allowRegistries).toEqual(['mcr.microsoft.com']);
    const without = loadPolicy(POLICY_TEXT.split('runtime:')[0]);
    expect(without.hash).toBe(policy.hash);
    expect(without.runtime?.regateAfterMs).toBe(DAY);
  });

  it.each([
    ['runtime:\n  grace: { critical: soon }\n', 'runtime.grace.critical', 'duration'],
    ['runtime:\n  grace: { severe: 3d }\n', 'runtime.grace.severe', 'unknown keys'],
    ['runtime:\n  regateAfter: 0s\n', 'runtime.regateAfter', 'greater than zero'],
    ['runtime:\n  allowRegistries: ["bad host/x"]\n', 'runtime.allowRegistries[0]', ''],
    [`runtime:\n  allowRegistries: [${HOST}]\n`, 'runtime.allowRegistries[0]', 'not under registries'],
    [
      'runtime:\n  allowRegistries: [mcr.microsoft.com, MCR.microsoft.com]\n',
      'runtime.allowRegistries[1]',
      'each host once',
    ],
    ['runtime:\n  regate: 1h\n', 'runtime.regate', 'unknown keys'],
    ['runtime:\n  tolerateTags: sometimes\n', 'runtime.tolerateTags', 'true or false'],
  ])('rejects %j naming %s', (section, field, text) => {
    const base = POLICY_TEXT.split('runtime:')[0];
    let caught: unknown;
    try {
      loadPolicy(base + section, 'p.yaml');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GuardError);
    expect((caught as GuardError).code).toBe('INVALID_POLICY');
    expect((caught as GuardError).field).toBe(field);
    expect((caught as GuardError).message).toContain(text);
  });
});

describe('classifyRuntime', () => {
  const app = (image: string, name = 'app'): RunningContainer => ({
    image,
    source: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/${name}/revisions/${name}--1, container main`,
  });

  it('gives every status its fixed word, reason, byTag and graceUntil', () => {
    const containers = [
      app(`${HOST}/api@${D(1)}`, 'released'),
      app(`${HOST}/api:v2`, 'blocked'),
      app(`${HOST}/old@${D(3)}`, 'overdue'),
      app(`${HOST}/sneaky@${D(4)}`, 'never'),
      app('nginx:latest', 'outside'),
      app('mcr.microsoft.com/dotnet/aspnet:8.0', 'external'),
      app(`${HOST}/gone:v9`, 'unresolved'),
      app(`${HOST}/api:v1`, 'bytag'),
    ];
    const result = run(containers, {
      verdicts: [
        verdict('api', D(1), 'release'),
        verdict('api', D(2), 'block', { severity: 'high' }),
        verdict('old', D(3), 'block', { severity: 'critical' }),
      ],
      resolutions: {
        [`${HOST}/api:v2`]: { digest: D(2) },
        [`${HOST}/gone:v9`]: { error: 'NOT_FOUND: no such tag' },
        [`${HOST}/api:v1`]: { digest: D(1) },
      },
      grace: { [`${HOST}/old@${D(3)}`]: new Date(NOW - 4 * DAY).toISOString() },
    });
    const by = Object.fromEntries(result.entries.map((e) => [e.workloads[0].split('/')[8], e]));
    expect(by.released).toMatchObject({ status: 'released', digest: D(1), byTag: false });
    expect(by.blocked).toMatchObject({
      status: 'blocked',
      digest: D(2),
      byTag: true,
      graceUntil: new Date(NOW + 14 * DAY).toISOString(),
    });
    expect(by.blocked.reason).toContain('high');
    expect(by.overdue).toMatchObject({ status: 'overdue', graceUntil: new Date(NOW - DAY).toISOString() });
    expect(by.never).toMatchObject({ status: 'never-gated', digest: D(4) });
    expect(by.outside).toMatchObject({
      status: 'outside-allowlist',
      image: 'docker.io/library/nginx:latest',
      byTag: true,
    });
    expect(by.external).toMatchObject({ status: 'allowed-external' });
    expect(by.unresolved).toMatchObject({ status: 'unresolved', byTag: true });
    expect(by.unresolved.reason).toContain('NOT_FOUND');
    // Released digest, but deployed by tag: never `released` (what the replicas pulled is not recorded).
    expect(by.bytag).toMatchObject({ status: 'by-tag', digest: D(1), byTag: true });
    expect(by.bytag.reason).toContain('runtime.tolerateTags');
    expect(Object.keys(result.summary).sort()).toEqual([...RUNTIME_STATUSES].sort());
    expect(Object.values(result.summary).every((n) => n === 1)).toBe(true);
    // The grace clock of the newly blocked digest starts now; the overdue one keeps its first sighting.
    expect(result.graceState).toEqual({
      [`${HOST}/api@${D(2)}`]: new Date(NOW).toISOString(),
      [`${HOST}/old@${D(3)}`]: new Date(NOW - 4 * DAY).toISOString(),
    });
  });

  it('a released digest deployed by tag is released only under runtime.tolerateTags: true', () => {
    const tolerant = loadPolicy(`${POLICY_TEXT}  tolerateTags: true\n`, 'policy.yaml');
    expect(tolerant.hash).toBe(policy.hash);
    expect(policy.runtime?.tolerateTags).toBe(false);
    const options = {
      verdicts: [verdict('api', D(1), 'release')],
      resolutions: { [`${HOST}/api:v1`]: { digest: D(1) } },
    };
    expect(run([app(`${HOST}/api:v1`)], options).entries[0]).toMatchObject({ status: 'by-tag', byTag: true });
    const tolerated = run([app(`${HOST}/api:v1`)], { ...options, policy: tolerant }).entries[0];
    expect(tolerated).toMatchObject({ status: 'released', byTag: true });
    expect(tolerated.reason).toContain('tolerated by runtime.tolerateTags');
  });

  it('never asks to resolve or look up an image outside the allowlist', () => {
    const plan = planInventory(
      [app('docker.io/library/nginx:1'), app('evil.example.com/x:latest'), app(`${HOST}/a:1`)],
      policy,
    );
    expect(plan.toResolve.map((r) => r.registry)).toEqual([HOST]);
    expect(digestsToLookUp(plan, new Map([[`${HOST}/a:1`, { digest: D(9) }]])).map((i) => i.registry)).toEqual([HOST]);
  });

  it('groups containers running the same image under one entry with every workload', () => {
    const r = run([app(`${HOST}/api@${D(1)}`, 'a'), app(`${HOST}/api@${D(1)}`, 'b'), app(`${HOST}/api@${D(1)}`, 'a')], {
      verdicts: [verdict('api', D(1), 'release')],
    });
    expect(r.entries).toHaveLength(1);
    expect(r.entries[0].workloads).toHaveLength(2);
  });

  it('marks a verdict older than regateAfter or from another policy due; a release under another policy is not released', () => {
    const r = run([app(`${HOST}/a@${D(1)}`), app(`${HOST}/b@${D(2)}`), app(`${HOST}/c@${D(3)}`)], {
      verdicts: [
        verdict('a', D(1), 'release', { decidedMs: NOW - 2 * DAY }),
        verdict('b', D(2), 'release', { hash: 'f'.repeat(64) }),
        verdict('c', D(3), 'release'),
      ],
    });
    expect(r.due.map((d) => d.image.repository)).toEqual(['a', 'b']);
    expect(r.entries.find((e) => e.image.includes('/b@'))?.status).toBe('never-gated');
    expect(r.entries.find((e) => e.image.includes('/a@'))?.status).toBe('released');
    expect(r.dueLeft).toBe(0);
  });

  it('keeps a block under another policy blocked (a policy edit alone never lifts a block)', () => {
    const r = run([app(`${HOST}/a@${D(1)}`)], {
      verdicts: [verdict('a', D(1), 'block', { severity: 'critical', hash: 'e'.repeat(64) })],
    });
    expect(r.entries[0].status).toBe('blocked');
    expect(r.due).toHaveLength(1);
  });

  it('uses the other grace for a block no finding caused, and clears the clock once released', () => {
    const blocked = run([app(`${HOST}/a@${D(1)}`)], { verdicts: [verdict('a', D(1), 'block')] });
    expect(blocked.entries[0].graceUntil).toBe(new Date(NOW + RUNTIME_GRACE_DEFAULTS.other).toISOString());
    const released = run([app(`${HOST}/a@${D(1)}`)], {
      verdicts: [verdict('a', D(1), 'release')],
      grace: blocked.graceState,
    });
    expect(released.graceState).toEqual({});
  });

  it('keeps the clock of a blocked digest that stopped running, so a redeploy does not restart it', () => {
    const first = run([app(`${HOST}/a@${D(1)}`)], {
      verdicts: [verdict('a', D(1), 'block', { severity: 'critical' })],
    });
    const away = run([], { grace: first.graceState, nowMs: NOW + DAY });
    const back = run([app(`${HOST}/a@${D(1)}`)], {
      verdicts: [verdict('a', D(1), 'block', { severity: 'critical' })],
      grace: away.graceState,
      nowMs: NOW + 4 * DAY,
    });
    expect(back.entries[0].status).toBe('overdue');
  });

  it('keeps an overdue clock 90 days after the digest was LAST seen running, not after it was first seen blocked', () => {
    const running = [app(`${HOST}/a@${D(1)}`)];
    const blocked = [verdict('a', D(1), 'block', { severity: 'critical' })];
    let state = run(running, { verdicts: blocked });
    // Seen running (and overdue) every day for 100 days.
    for (let day = 1; day <= 100; day += 11) {
      state = run(running, {
        verdicts: blocked,
        grace: state.graceState,
        seen: state.graceSeen,
        nowMs: NOW + day * DAY,
      });
    }
    expect(state.entries[0].status).toBe('overdue');
    // One run where it is not seen (a tag that did not resolve, a workload being recreated) ...
    const missed = run([], { grace: state.graceState, seen: state.graceSeen, nowMs: NOW + 101 * DAY });
    expect(missed.graceState[`${HOST}/a@${D(1)}`]).toBe(new Date(NOW).toISOString());
    // ... does not buy a new grace: it is still overdue when seen again.
    const back = run(running, {
      verdicts: blocked,
      grace: missed.graceState,
      seen: missed.graceSeen,
      nowMs: NOW + 102 * DAY,
    });
    expect(back.entries[0].status).toBe('overdue');
  });

  it('treats an invalid reference as unresolved and refuses an inventory over the bound', () => {
    expect(run([app('UPPER/Case::bad')]).entries[0]).toMatchObject({ status: 'unresolved', byTag: false });
    const many = { length: MAX_RUNTIME_CONTAINERS + 1 } as unknown as RunningContainer[];
    expect(() => planInventory(many, policy)).toThrow(expect.objectContaining({ code: 'RUNTIME_INVENTORY_TOO_LARGE' }));
  });
});

describe('runtimeAlerts', () => {
  it('alerts once per image and status change, high for overdue, never-gated and outside-allowlist', () => {
    const r = run(
      [
        { image: 'nginx:latest', source: 'w' },
        { image: `${HOST}/a@${D(1)}`, source: 'w' },
        { image: `${HOST}/b@${D(2)}`, source: 'w' },
      ],
      {
        verdicts: [verdict('b', D(2), 'release')],
      },
    );
    const first = runtimeAlerts({ entries: r.entries, lastAlerted: {}, nowMs: NOW });
    expect(first.alerts.map((a) => [a.fields.status, a.severity]).sort()).toEqual([
      ['never-gated', 'high'],
      ['outside-allowlist', 'high'],
    ]);
    expect(runtimeAlerts({ entries: r.entries, lastAlerted: first.next, nowMs: NOW + 1 }).alerts).toEqual([]);
    const changed = r.entries.map((e) => (e.status === 'never-gated' ? { ...e, status: 'overdue' as const } : e));
    const second = runtimeAlerts({ entries: changed, lastAlerted: first.next, nowMs: NOW + 2 });
    expect(second.alerts.map((a) => a.fields.status)).toEqual(['overdue']);
  });
});

describe('properties', () => {
  const statuses = ['release', 'block-critical', 'block-high', 'none', 'unresolved', 'outside', 'external'] as const;
  let cases = 0;
  afterAll(() => {
    // Reported in the engineer's report: how many generated inventories the properties ran over.
    process.stdout.write(`runtime classify property cases: ${cases}\n`);
  });

  it('every image gets exactly one status; only allowlisted digests are looked up; graceUntil iff blocked/overdue; the clock never moves forward on re-runs', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            n: fc.integer({ min: 1, max: 30 }),
            kind: fc.constantFrom(...statuses),
            byTag: fc.boolean(),
            workload: fc.integer({ min: 0, max: 5 }),
          }),
          { maxLength: 40 },
        ),
        fc.integer({ min: 0, max: 30 * DAY }),
        (items, elapsed) => {
          cases++;
          const containers: RunningContainer[] = [];
          const verdicts: Verdict[] = [];
          const resolutions: Record<string, Resolution> = {};
          for (const it of items) {
            const repo = `r${it.n}`;
            const host = it.kind === 'outside' ? 'docker.io' : it.kind === 'external' ? 'mcr.microsoft.com' : HOST;
            const ref = it.byTag ? `${host}/${repo}:t` : `${host}/${repo}@${D(it.n)}`;
            containers.push({ image: ref, source: `w${it.workload}` });
            if (it.byTag && host === HOST)
              resolutions[`${HOST}/${repo}:t`] =
                it.kind === 'unresolved' ? { error: 'NOT_FOUND' } : { digest: D(it.n) };
            if (it.kind === 'release') verdicts.push(verdict(repo, D(it.n), 'release'));
            if (it.kind === 'block-critical') verdicts.push(verdict(repo, D(it.n), 'block', { severity: 'critical' }));
            if (it.kind === 'block-high') verdicts.push(verdict(repo, D(it.n), 'block', { severity: 'high' }));
          }
          const first = run(containers, { verdicts, resolutions });
          const plan = planInventory(containers, policy);
          expect(first.entries).toHaveLength(plan.images.length);
          expect(Object.values(first.summary).reduce((a, b) => a + b, 0)).toBe(plan.images.length);
          for (const id of digestsToLookUp(plan, new Map(Object.entries(resolutions)))) expect(id.registry).toBe(HOST);
          for (const e of first.entries)
            expect(e.graceUntil !== undefined).toBe(e.status === 'blocked' || e.status === 'overdue');
          const later = run(containers, { verdicts, resolutions, grace: first.graceState, nowMs: NOW + elapsed });
          for (const e of later.entries) {
            const before = first.entries.find((x) => x.image === e.image);
            if (e.graceUntil && before?.graceUntil) expect(e.graceUntil).toBe(before.graceUntil);
            if (e.status === 'overdue') expect(Date.parse(e.graceUntil as string)).toBeLessThanOrEqual(NOW + elapsed);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
