/**
 * docs/ci.md cannot rot: the blocks marked `ci-test` are exactly what both copy-paste workflows run, and they
 * work end to end against the local service (loopback registry whose pushes start the real gate, verdicts in
 * its audit dir), run with `sh` from the repository root on the built CLI (`node bin/acr-guard.js`).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { pushWithReport } from '../support/pushSamples';
import { createRegistryClient } from '../../src/adapters/registry';
import { FileAuditStore } from '../../src/adapters/auditStore';
import { startLocalStack, type LocalStack } from '../../src/local/stack';
import { demoPolicyYaml } from '../../src/local/demo';
import type { ImageId } from '../../src/core/types';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const doc = readFileSync(join(ROOT, 'docs/ci.md'), 'utf8');

/** The `ci-test` blocks by name. */
function testedBlocks(): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const m of doc.matchAll(/<!-- ci-test: ([a-z-]+) -->\n```sh\n([\s\S]*?)```/g)) blocks.set(m[1], m[2].trim());
  return blocks;
}

/** Every script a workflow's steps run (`run`, `script`, `inputs.inlineScript`), trimmed. */
function workflowScripts(name: string): string[] {
  const m = new RegExp(`<!-- ci-workflow: ${name} -->\\n\`\`\`yaml\\n([\\s\\S]*?)\`\`\``).exec(doc);
  if (!m) throw new Error(`docs/ci.md has no ${name} workflow`);
  const parsed = parse(m[1]) as { jobs?: Record<string, { steps: unknown[] }>; steps?: unknown[] };
  const steps = (parsed.steps ?? Object.values(parsed.jobs ?? {}).flatMap((j) => j.steps)) as Array<{
    run?: string;
    script?: string;
    inputs?: { inlineScript?: string };
  }>;
  return steps.map((s) => (s.run ?? s.script ?? s.inputs?.inlineScript ?? '').trim()).filter((s) => s !== '');
}

describe('docs/ci.md', () => {
  const blocks = testedBlocks();

  it('marks the gate and deploy blocks, and both workflows run exactly them', () => {
    expect([...blocks.keys()]).toEqual(['gate', 'deploy']);
    for (const workflow of ['github', 'azure']) {
      const scripts = workflowScripts(workflow);
      for (const [name, block] of blocks)
        expect({ workflow, name, found: scripts.includes(block) }).toMatchObject({ found: true });
      // acr-guard runs from a checkout, never as an unpublished npx package.
      expect(scripts.join('\n')).not.toMatch(/npx acr-guard/);
      expect(scripts).toContain('npm ci && npm run build');
    }
    expect(doc).not.toMatch(/npx acr-guard/);
  });

  describe('against the local service', () => {
    let stack: LocalStack;
    let dir: string;
    let policyFile: string;
    let clean: ImageId;
    let vulnerable: ImageId;

    beforeAll(async () => {
      // The blocks run `node bin/acr-guard.js`: build it from this checkout first, as the jobs do.
      await run('node', ['scripts/build.mjs'], { cwd: ROOT, timeout: 180_000 });
      dir = mkdtempSync(join(tmpdir(), 'acr-guard-ci-doc-'));
      stack = await startLocalStack({ stateDir: join(dir, 'state'), port: 0, registryPort: 0, seed: false });
      policyFile = join(dir, 'policy.yaml');
      writeFileSync(policyFile, demoPolicyYaml(stack.registry.host));
      const client = createRegistryClient({ host: stack.registry.host, plainHttp: true });
      clean = await pushWithReport(client, 'demo/ci-api', '1.0', false);
      vulnerable = await pushWithReport(client, 'demo/ci-api', '1.1', true);
      // The service gates each push (its registry notifies it); wait for both verdicts.
      const audit = new FileAuditStore(join(dir, 'state', 'audit'));
      for (let i = 0; i < 300; i++) {
        const [a, b] = await Promise.all([audit.latestVerdict(clean), audit.latestVerdict(vulnerable)]);
        if (a && b) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }, 240_000);
    afterAll(async () => {
      await stack?.stop();
    });

    const sh = async (block: string, image: string) => {
      try {
        const { stdout, stderr } = await run('sh', ['-c', block], {
          cwd: ROOT,
          timeout: 120_000,
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            IMAGE: image,
            POLICY: policyFile,
            TARGET:
              '/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-platform/providers/Microsoft.App/containerApps/ca-api',
            CONTAINER: 'api',
            VERDICTS: `--audit-dir ${join(dir, 'state', 'audit')}`,
            REGISTRY_FLAGS: '--plain-http',
            DRY_RUN: 'true',
          },
        });
        return { code: 0, out: stdout, err: stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: e.code ?? -1, out: e.stdout ?? '', err: e.stderr ?? '' };
      }
    };

    it('a clean image: the gate block passes and the deploy block would deploy it from the release repository', async () => {
      const gate = await sh(blocks.get('gate') as string, `${stack.registry.host}/demo/ci-api:1.0`);
      expect(gate).toMatchObject({ code: 0 });
      expect(gate.out).toContain('RELEASE');
      const deploy = await sh(blocks.get('deploy') as string, `${stack.registry.host}/demo/ci-api:1.0`);
      expect(deploy.err).toBe('');
      expect(deploy.code).toBe(0);
      expect(deploy.out).toContain(
        `WOULD DEPLOY  ${stack.registry.host}/release/demo/ci-api@${clean.digest} to /subscriptions/00000000-0000-4000-8000-000000000001/`,
      );
    }, 180_000);

    it('a vulnerable image: the gate block fails (3) and the deploy block refuses it (3)', async () => {
      const image = `${stack.registry.host}/demo/ci-api:1.1`;
      expect((await sh(blocks.get('gate') as string, image)).code).toBe(3);
      const deploy = await sh(blocks.get('deploy') as string, image);
      expect(deploy.code).toBe(3);
      expect(deploy.out).toContain(`REFUSED  ${stack.registry.host}/demo/ci-api@${vulnerable.digest}`);
      expect(deploy.out).toContain('CVE-2024-6119');
    }, 180_000);
  });
});
