/**
 * `acr-guard purge`: exit codes and the JSON (`deleted` and `kept` with repository, digest, tags, reason),
 * against a real docker-registry on loopback; the dry run and the real run agree.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli';
import { useRegistry } from '../support/registry';
import { seedRepository, seededDigests as seededDigestsOf, whatIsLeft } from '../support/purgeFixtures';
import { listRepositoryManifests } from '../../src/adapters/registry/manifestListing';

jest.setTimeout(60_000);

interface Entry {
  repository: string;
  digest: string;
  tags: string[];
  reason: string;
}

describe('acr-guard purge', () => {
  const reg = useRegistry();
  let dir: string;
  let policyFile: string;
  let deployedFile: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-purge-cli-'));
    policyFile = join(dir, 'policy.yaml');
    deployedFile = join(dir, 'deployed.json');
  });

  function writePolicy(): void {
    writeFileSync(
      policyFile,
      `version: 1
registries: ["${reg.registry.host}"]
gate: []
retention:
  - scope: "team/**"
    keep: 1
    olderThan: 30d
    untagged: true
    maxDeletes: "100%"
`,
    );
  }

  it('dry run prints the plan, the real run deletes exactly that, exit 0; the registry holds the rest', async () => {
    writePolicy();
    const now = Date.now();
    const web = await seedRepository(reg.client, 'team/web', now);
    const api = await seedRepository(reg.client, 'team/api', now);
    await seedRepository(reg.client, 'other/untouched', now);
    writeFileSync(
      deployedFile,
      JSON.stringify([{ image: `${reg.registry.host}/team/web:v2`, source: 'containerApps/web' }]),
    );
    const args = [
      'purge',
      '--registry',
      reg.registry.host,
      '--policy',
      policyFile,
      '--plain-http',
      '--deployed',
      deployedFile,
      '--output',
      'json',
    ];

    const dry = await runCli([...args, '--dry-run']);
    expect(dry.err).toBe('');
    expect(dry.code).toBe(0);
    const dryResult = JSON.parse(dry.out);
    expect(dryResult).toMatchObject({ kind: 'PurgeResult', outcome: 'pass', decision: 'planned', exitCode: 0 });
    const planned = dryResult.data as {
      dryRun: boolean;
      deleted: number;
      deletedManifests: Entry[];
      keptManifests: Entry[];
      repositories: Array<{ repository: string }>;
    };
    expect(planned.dryRun).toBe(true);
    expect(planned.deleted).toBe(planned.deletedManifests.length);
    expect(planned.repositories.map((r) => r.repository)).toEqual(['team/api', 'team/web']);
    expect(reg.requests.some((r) => r.startsWith('DELETE'))).toBe(false);
    expect(planned.keptManifests).toContainEqual(
      expect.objectContaining({ repository: 'team/web', digest: web.v2.digest, tags: ['v2'], reason: 'in-use' }),
    );
    expect(planned.deletedManifests).toContainEqual(
      expect.objectContaining({ repository: 'team/api', digest: api.v2.digest, tags: ['v2'], reason: 'rule' }),
    );
    expect(planned.deletedManifests).toContainEqual(
      expect.objectContaining({
        repository: 'team/web',
        digest: web.oldChildren[0].digest,
        tags: [],
        reason: 'child-of-deleted-index',
      }),
    );

    const real = await runCli(args);
    expect(real.code).toBe(0);
    expect(JSON.parse(real.out)).toMatchObject({ outcome: 'pass', decision: 'done' });
    const done = JSON.parse(real.out).data as {
      dryRun: boolean;
      deletedManifests: Entry[];
      keptManifests: Entry[];
      failedManifests: unknown[];
      failed: number;
    };
    expect(done.dryRun).toBe(false);
    expect(done.failedManifests).toEqual([]);
    expect(done.failed).toBe(0);
    const key = (e: Entry): string => `${e.repository}@${e.digest}:${e.reason}`;
    expect(done.deletedManifests.map(key).sort()).toEqual(planned.deletedManifests.map(key).sort());
    expect(done.keptManifests.map(key).sort()).toEqual(planned.keptManifests.map(key).sort());

    // Listed afterwards: exactly the kept entries are left, the other repository is untouched.
    for (const repository of ['team/web', 'team/api']) {
      const kept = planned.keptManifests
        .filter((e) => e.repository === repository)
        .map((e) => e.digest)
        .sort();
      const all = [
        ...kept,
        ...planned.deletedManifests.filter((e) => e.repository === repository).map((e) => e.digest),
      ];
      expect((await whatIsLeft(reg.client, repository, all)).present).toEqual(kept);
      expect((await listRepositoryManifests(reg.client, repository)).map((m) => m.digest).sort()).toEqual(kept);
    }
    expect((await listRepositoryManifests(reg.client, 'other/untouched')).length).toBe(16); // 13 pushed + 3 fallback tag indexes
  });

  it('refuses (exit 2) a run whose rules protect images in use without a deployed-image list, before deleting anything', async () => {
    writePolicy();
    await seedRepository(reg.client, 'team/guarded', Date.now());
    const before = reg.requests.filter((r) => r.startsWith('DELETE')).length;
    const result = await runCli([
      'purge',
      '--registry',
      reg.registry.host,
      '--policy',
      policyFile,
      '--plain-http',
      '--repository',
      'team/guarded',
    ]);
    expect(result.code).toBe(2);
    expect(result.err).toContain('--deployed <file>');
    expect(reg.requests.filter((r) => r.startsWith('DELETE')).length).toBe(before);
  });

  it('usage errors exit 2 and name the option', async () => {
    writePolicy();
    expect((await runCli(['purge', '--policy', policyFile])).err).toContain('--registry <host> is required');
    const notAllowed = await runCli(['purge', '--registry', 'other.example.com', '--policy', policyFile]);
    expect(notAllowed.code).toBe(2);
    expect(notAllowed.err).toContain('not in the policy');
    expect(
      (
        await runCli([
          'purge',
          '--registry',
          reg.registry.host,
          '--policy',
          policyFile,
          '--plain-http',
          '--concurrency',
          '99',
        ])
      ).err,
    ).toContain('--concurrency: expected a whole number 1-32');
    expect(
      (await runCli(['purge', '--registry', 'contoso.azurecr.io', '--policy', policyFile, '--plain-http'])).code,
    ).toBe(2);
  });

  it('prints a table with a reason per manifest', async () => {
    writePolicy();
    await seedRepository(reg.client, 'team/table', Date.now());
    writeFileSync(deployedFile, '[]');
    const table = await runCli([
      'purge',
      '--registry',
      reg.registry.host,
      '--policy',
      policyFile,
      '--plain-http',
      '--repository',
      'team/table',
      '--deployed',
      deployedFile,
      '--dry-run',
    ]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(
      /would delete +sha256:[0-9a-f]{12} +v1 +rule: retention\[0\] scope "team\/\*\*": beyond the 1 most recent tagged, older than 30d/,
    );
    expect(table.out).toMatch(/keep +sha256:[0-9a-f]{12} +v3 +within-keep/);
    expect(table.out).toMatch(/dry run: would delete \d+ manifests? in 1 repository/);
  });

  it('holds a plan past the deletion cap (exit 3, nothing deleted, listed as held) unless --allow-over-cap', async () => {
    const capped = join(mkdtempSync(join(tmpdir(), 'acr-guard-purge-cap-')), 'policy.yaml');
    writeFileSync(
      capped,
      `version: 1\nregistries: ["${reg.registry.host}"]\ngate: []\nretention:\n  - { scope: "capped/**", keep: 1, olderThan: 30d, untagged: true, protectInUse: false }\n`,
    );
    const s = await seedRepository(reg.client, 'capped/cli', Date.now());
    const args = ['purge', '--registry', reg.registry.host, '--policy', capped, '--plain-http'];
    const held = await runCli([...args, '--output', 'json']);
    expect(held.code).toBe(3);
    const heldResult = JSON.parse(held.out);
    expect(heldResult).toMatchObject({ outcome: 'fail', decision: 'held', exitCode: 3 });
    expect(heldResult.errors).toEqual([expect.objectContaining({ code: 'PURGE_CAP_EXCEEDED' })]);
    const json = heldResult.data as {
      deleted: number;
      deletedManifests: unknown[];
      heldManifests: Array<{ repository: string; reason: string }>;
      repositories: Array<{ status: string; error?: { code: string } }>;
    };
    expect(json.deleted).toBe(0);
    expect(json.deletedManifests).toEqual([]);
    expect(json.heldManifests.length).toBeGreaterThan(1);
    expect(json.repositories).toEqual([
      expect.objectContaining({ status: 'held', error: expect.objectContaining({ code: 'PURGE_CAP_EXCEEDED' }) }),
    ]);
    expect((await whatIsLeft(reg.client, 'capped/cli', seededDigestsOf(s))).present).toHaveLength(
      seededDigestsOf(s).length,
    );
    const table = await runCli(args);
    expect(table.out).toMatch(/held — PURGE_CAP_EXCEEDED: the plan would delete 4 of the 6 tagged manifests/);
    expect(table.out).toMatch(/HELD, kept +sha256:[0-9a-f]{12} +v1 +rule/);

    const allowed = await runCli([...args, '--allow-over-cap', '--output', 'json']);
    expect(allowed.code).toBe(0);
    const done = JSON.parse(allowed.out).data as { deletedManifests: unknown[]; heldManifests: unknown[] };
    expect(done.heldManifests).toEqual([]);
    expect(done.deletedManifests).toHaveLength(json.heldManifests.length);
  });
});

describe('acr-guard purge on a registry that refuses deletes', () => {
  const reg = useRegistry({ deleteEnabled: false });

  it('exits 1 and lists what was not deleted, with the code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'acr-guard-purge-cli-'));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      `version: 1\nregistries: ["${reg.registry.host}"]\ngate: []\nretention:\n  - { scope: "team/**", olderThan: 30d, protectInUse: false, maxDeletes: "100%" }\n`,
    );
    await seedRepository(reg.client, 'team/locked', Date.now());
    const result = await runCli([
      'purge',
      '--registry',
      reg.registry.host,
      '--policy',
      policyFile,
      '--plain-http',
      '--output',
      'json',
    ]);
    expect(result.code).toBe(1);
    const envelope = JSON.parse(result.out);
    expect(envelope).toMatchObject({ outcome: 'error', decision: 'partial', exitCode: 1 });
    expect(envelope.errors).toEqual([expect.objectContaining({ code: 'REGISTRY_REJECTED', field: 'team/locked' })]);
    const json = envelope.data as {
      failedManifests: Array<{ code: string; digest: string }>;
      deletedManifests: unknown[];
      errors: Array<{ repository: string; code: string }>;
    };
    expect(json.deletedManifests).toEqual([]);
    expect(json.failedManifests.length).toBeGreaterThan(0);
    expect(
      json.failedManifests
        .filter((f) => f.code !== 'KEPT_BY_FAILED_DELETE')
        .every((f) => f.code === 'REGISTRY_REJECTED'),
    ).toBe(true);
    expect(json.errors).toEqual([expect.objectContaining({ repository: 'team/locked', code: 'REGISTRY_REJECTED' })]);
  });
});
