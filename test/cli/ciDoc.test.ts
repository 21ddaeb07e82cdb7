/**
 * docs/ci.md cannot rot: the blocks marked `ci-setup` and `ci-test` are exactly what both copy-paste workflows run,
 * and the `ci-test` blocks work end to end, in pipeline order, against the local service (loopback registry whose
 * pushes start the real gate, verdicts in its audit dir), with the real `notation` and `oras`. Only the lines a
 * block's `replaces=` names are swapped (Docker and `az`, the Key Vault key, Trivy), each for a stated stand-in:
 * a local `notation cert generate-test` key of the same name, and the shipped Trivy fixtures rewritten to name
 * the pushed digest.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { createRegistryClient } from '../../src/adapters/registry';
import { FileAuditStore } from '../../src/adapters/auditStore';
import { loadSignatureTrust } from '../../src/adapters/trustStoreFiles';
import { startLocalStack, type LocalStack } from '../../src/local/stack';
import { pushImage } from '../../src/local/ociPush';
import type { ImageId } from '../../src/core/types';
import { describeRequiring } from '../support/required';
import { exec, signingTools, TOOLS_BIN, tool } from '../support/signingTools';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const doc = readFileSync(join(ROOT, 'docs/ci.md'), 'utf8');

/** A marked block: its kind, name, the line prefixes the test replaces, and its text. */
interface Block {
  kind: 'ci-setup' | 'ci-test';
  name: string;
  replaces: string[];
  text: string;
}

/** The marked `sh` blocks, in document order. */
function markedBlocks(): Block[] {
  const blocks: Block[] = [];
  for (const m of doc.matchAll(/<!-- (ci-setup|ci-test): ([a-z-]+)(?: replaces="([^"]*)")? -->\n```sh\n([\s\S]*?)```/g))
    blocks.push({
      kind: m[1] as Block['kind'],
      name: m[2],
      replaces: m[3] ? m[3].split('|') : [],
      text: m[4].trim(),
    });
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

/** The name `notation key add` gives the Key Vault key in the guide (its last argument), which `sign --key` uses. */
function signingKeyName(evidence: string): string {
  const line = evidence.split('\n').find((l) => l.startsWith('notation key add '));
  const name = line?.trim().split(/\s+/).pop();
  if (!name) throw new Error('the evidence block has no `notation key add … <name>` line');
  return name;
}

/**
 * The test's stand-in for each replaced line (see "How this guide is tested" in docs/ci.md); `undefined` for a
 * line the test does not know, which fails the test rather than run something unreviewed.
 */
function substitute(line: string, keyName: string): string | undefined {
  if (/^(az acr login|docker build|docker push)\b/.test(line)) return ': pushed by the test with its OCI client';
  if (line.startsWith('notation key add ')) return `notation key ls | grep -q ${keyName}`;
  const trivy = /^trivy image .*--output (\S+) /.exec(line);
  if (trivy) return `cp "$CI_TEST_REPORTS/${trivy[1]}" ${trivy[1]}`;
  return undefined;
}

/** The block as the test runs it: each line a `replaces=` prefix names becomes its stand-in. */
function runnable(block: Block, keyName: string): string {
  return block.text
    .split('\n')
    .map((line) => {
      if (!block.replaces.some((p) => line.startsWith(p))) return line;
      const stand = substitute(line, keyName);
      if (stand === undefined) throw new Error(`no stand-in for the replaced line: ${line}`);
      return stand;
    })
    .join('\n');
}

/** The fixture's image digest (test/fixtures/reports/README.md). */
const FIXTURE_HEX = '5b0ad3ed1e4d8e1e2a6f8d07c3a3a3f7f8d5b5e4c1d6a2b9e8f7c6d5a4b3c2d1';

/**
 * The shipped Trivy reports as Trivy would write them for `digest` now: the fixture's digest replaced (both the
 * `sha256:` and purl `sha256%3A` forms), its scan time set to `now`, and, for a clean image, no findings.
 */
function trivyReports(dir: string, digest: string, vulnerable: boolean, now: string): void {
  mkdirSync(dir, { recursive: true });
  const read = (name: string) =>
    JSON.parse(
      readFileSync(join(ROOT, 'test/fixtures/reports', name), 'utf8').replaceAll(
        FIXTURE_HEX,
        digest.slice('sha256:'.length),
      ),
    );
  const cdx = read('trivy.cdx.json');
  cdx.metadata.timestamp = now;
  if (!vulnerable) cdx.vulnerabilities = [];
  const sarif = read('trivy.sarif.json');
  for (const r of sarif.runs) {
    for (const inv of r.invocations ?? []) {
      inv.startTimeUtc = now;
      inv.endTimeUtc = now;
    }
    if (!vulnerable) {
      r.results = [];
      r.tool.driver.rules = [];
    }
  }
  writeFileSync(join(dir, 'trivy.cdx.json'), JSON.stringify(cdx, null, 2));
  writeFileSync(join(dir, 'trivy.sarif.json'), JSON.stringify(sarif, null, 2));
}

describe('docs/ci.md', () => {
  const blocks = markedBlocks();

  it('marks the blocks, and both workflows run exactly them', async () => {
    expect(blocks.map((b) => `${b.kind}: ${b.name}`)).toEqual([
      'ci-setup: tools',
      'ci-test: push',
      'ci-test: evidence',
      'ci-test: gate',
      'ci-test: deploy',
    ]);
    for (const workflow of ['github', 'azure']) {
      const scripts = workflowScripts(workflow);
      for (const block of blocks)
        expect({ workflow, block: block.name, found: scripts.includes(block.text) }).toMatchObject({ found: true });
      // acr-guard runs from a checkout, never as an unpublished npx package.
      expect(scripts.join('\n')).not.toMatch(/npx acr-guard/);
      expect(scripts).toContain('npm ci && npm run build');
    }
    // Each replaced prefix names lines that are there, and each has a stand-in.
    for (const block of blocks)
      for (const prefix of block.replaces) {
        const lines = block.text.split('\n').filter((l) => l.startsWith(prefix));
        expect({ block: block.name, prefix, lines: lines.length > 0 }).toMatchObject({ lines: true });
        for (const line of lines)
          expect({ line, stand: substitute(line, 'k') !== undefined }).toMatchObject({ stand: true });
      }
    // The setup block downloads (not run here), but it parses.
    for (const block of blocks.filter((b) => b.kind === 'ci-setup')) await run('sh', ['-n', '-c', block.text]);
  });

  it('the upload steps take the SARIF the gate step writes', () => {
    const gate = blocks.find((b) => b.name === 'gate')?.text ?? '';
    expect(gate).toMatch(/--output sarif .*> acr-guard\.sarif/);
    expect(doc).toContain('uses: github/codeql-action/upload-sarif@v4');
    expect(doc).toContain('sarif_file: acr-guard/acr-guard.sarif');
    expect(doc).toMatch(
      /PathtoPublish: \$\(Build\.SourcesDirectory\)\/acr-guard\/acr-guard\.sarif\n\s+ArtifactName: CodeAnalysisLogs/,
    );
  });
});

describeRequiring(signingTools)('docs/ci.md against the local service, with the real notation and oras', () => {
  const byName = new Map(markedBlocks().map((b) => [b.name, b]));
  const evidence = byName.get('evidence') as Block;
  const keyName = signingKeyName(evidence.text);
  let stack: LocalStack;
  let dir: string;
  let policyFile: string;
  let trustPolicyFile: string;
  let trustStore: string;
  /** The notation home the evidence block signs from (XDG_CONFIG_HOME). */
  let notationHome: string;
  /** Stands in for the acr-guard checkout: its `bin` is this checkout's, so `node bin/acr-guard.js` runs the build. */
  let checkout: string;

  beforeAll(async () => {
    // The blocks run `node bin/acr-guard.js`: build it from this checkout first, as the jobs do.
    await run('node', ['scripts/build.mjs'], { cwd: ROOT, timeout: 180_000 });
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-ci-doc-'));
    checkout = join(dir, 'acr-guard');
    mkdirSync(checkout);
    symlinkSync(join(ROOT, 'bin'), join(checkout, 'bin'));
    // The stand-in for the Key Vault certificate: a local key under the guide's key name, its certificate in the
    // trust store (generate-test adds it as ca:<name>).
    notationHome = join(dir, 'notation-home');
    mkdirSync(notationHome);
    await exec(tool('notation') as string, ['cert', 'generate-test', keyName], {
      XDG_CONFIG_HOME: notationHome,
      HOME: notationHome,
    });
    trustStore = join(notationHome, 'notation', 'truststore');
    trustPolicyFile = join(dir, 'trustpolicy.json');
    policyFile = join(dir, 'policy.yaml');
    let host = '';
    const policyYaml = (registryHost: string): string => {
      host = registryHost;
      writeFileSync(
        trustPolicyFile,
        JSON.stringify({
          version: '1.0',
          trustPolicies: [
            {
              name: 'release-images',
              registryScopes: [`${registryHost}/demo/ci-api`, `${registryHost}/release/demo/ci-api`],
              signatureVerification: { level: 'strict' },
              trustStores: [`ca:${keyName}`],
              trustedIdentities: [`x509.subject: CN=${keyName},O=Notary,L=Seattle,ST=WA,C=US`],
            },
          ],
        }),
      );
      const yaml = `version: 1
registries:
  - { host: "${registryHost}", apply: promote }
gate:
  - scope: "demo/**"
    vulnerabilities:
      block: [critical, high]
      maxReportAge: 7d
      sources: [reports]
      reportsSignedBy: release-images
      scanDeadline: 2m
      pollInterval: 1s
    signatures: { required: true, trustPolicy: release-images }
    promote: { repository: "release/{repository}" }
`;
      writeFileSync(policyFile, yaml);
      return yaml;
    };
    stack = await startLocalStack({
      stateDir: join(dir, 'state'),
      port: 0,
      registryPort: 0,
      seed: false,
      policyYaml,
      // Loaded on the first verification: the trust policy file is written once the registry's host is known.
      signatureTrust: () => loadSignatureTrust(trustPolicyFile, trustStore),
    });
    expect(host).toBe(stack.registry.host);
  }, 240_000);
  afterAll(async () => {
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The job's variables, as the workflows set them, for the local stand-in. */
  const env = (image: string, reports: string): NodeJS.ProcessEnv => ({
    PATH: `${TOOLS_BIN}:${process.env.PATH}`,
    HOME: notationHome,
    XDG_CONFIG_HOME: notationHome,
    IMAGE: image,
    POLICY: policyFile,
    TRUST_POLICY: trustPolicyFile,
    TRUST_STORE: trustStore,
    SIGNING_KEY_ID: 'https://contoso-signing.vault.azure.net/keys/release-signing/0123456789abcdef',
    TARGET:
      '/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-platform/providers/Microsoft.App/containerApps/ca-api',
    CONTAINER: 'api',
    VERDICTS: `--audit-dir ${join(dir, 'state', 'audit')}`,
    REGISTRY_FLAGS: '--plain-http',
    ORAS_FLAGS: '--plain-http',
    NOTATION_FLAGS: '--insecure-registry',
    DRY_RUN: 'true',
    CI_TEST_REPORTS: reports,
  });

  interface Step {
    name: string;
    code: number;
    out: string;
    err: string;
  }

  const sh = async (script: string, cwd: string, environment: NodeJS.ProcessEnv): Promise<Step> => {
    try {
      const { stdout, stderr } = await run('sh', ['-c', script], { cwd, timeout: 150_000, env: environment });
      return { name: '', code: 0, out: stdout, err: stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { name: '', code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '', err: e.stderr ?? '' };
    }
  };

  /**
   * One pipeline run for `tag`: the test's push (the `push` block's stand-in), then the blocks in job order, each
   * in the folder its step runs in, stopping at the first that fails, as a pipeline does.
   */
  async function pipeline(tag: string, vulnerable: boolean): Promise<{ image: ImageId; steps: Step[] }> {
    const client = createRegistryClient({ host: stack.registry.host, plainHttp: true });
    const pushed = await pushImage(client, 'demo/ci-api', {
      tag,
      layers: [Buffer.from(`demo/ci-api:${tag}:${vulnerable}`)],
      created: new Date().toISOString(),
    });
    const image: ImageId = { registry: stack.registry.host, repository: 'demo/ci-api', digest: pushed.digest };
    const app = join(dir, `app-${tag}`);
    const reports = join(dir, `reports-${tag}`);
    mkdirSync(app);
    trivyReports(reports, pushed.digest, vulnerable, new Date().toISOString());
    const environment = env(`${stack.registry.host}/demo/ci-api:${tag}`, reports);
    const steps: Step[] = [];
    for (const [name, cwd] of [
      ['push', app],
      ['evidence', app],
      ['gate', checkout],
      ['deploy', checkout],
    ] as const) {
      const block = byName.get(name) as Block;
      if (name === 'gate') await waitForVerdict(image);
      const step = { ...(await sh(runnable(block, keyName), cwd, environment)), name };
      steps.push(step);
      if (step.code !== 0) break;
    }
    return { image, steps };
  }

  /** The service gates the push (its registry notifies it); the gate step runs once that verdict is recorded. */
  async function waitForVerdict(image: ImageId): Promise<void> {
    const audit = new FileAuditStore(join(dir, 'state', 'audit'));
    for (let i = 0; i < 600; i++) {
      if (await audit.latestVerdict(image)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the service recorded no verdict for ${image.digest}`);
  }

  it('a clean image: signed, reports attached, the gate passes (0) and deploy would deploy it (0)', async () => {
    const { image, steps } = await pipeline('1.0', false);
    expect(steps.map((s) => [s.name, s.code, s.code === 0 ? '' : s.err])).toEqual([
      ['push', 0, ''],
      ['evidence', 0, ''],
      ['gate', 0, ''],
      ['deploy', 0, ''],
    ]);
    const [, , gate, deploy] = steps;
    expect(gate.out).toContain('RELEASE');
    expect(gate.out).toMatch(/signatures verified \(strict, policy entry release-images\)/);
    // The service's own verdict (the one deploy reads) saw the same signature and reports.
    const verdict = await new FileAuditStore(join(dir, 'state', 'audit')).latestVerdict(image);
    expect(verdict).toMatchObject({ decision: 'release' });
    expect(verdict?.summary).toContain('signatures verified (strict, policy entry release-images)');
    const sarif = JSON.parse(readFileSync(join(checkout, 'acr-guard.sarif'), 'utf8'));
    expect(sarif).toMatchObject({ version: '2.1.0', runs: [{ properties: { decision: 'release' } }] });
    expect(deploy.err).toBe('');
    expect(deploy.out).toContain(
      `WOULD DEPLOY  ${stack.registry.host}/release/demo/ci-api@${image.digest} to /subscriptions/00000000-0000-4000-8000-000000000001/`,
    );
  }, 240_000);

  it('a vulnerable image: the gate step exits 3 and the pipeline stops before deploy, which alone refuses (3)', async () => {
    const { image, steps } = await pipeline('1.1', true);
    expect(steps.map((s) => [s.name, s.code])).toEqual([
      ['push', 0],
      ['evidence', 0],
      ['gate', 3],
    ]);
    expect(steps[2].out).toContain('BLOCK');
    expect(steps[2].out).toContain('CVE-2024-45490');
    // The SARIF was written before the failing run, for the upload steps.
    const sarif = JSON.parse(readFileSync(join(checkout, 'acr-guard.sarif'), 'utf8'));
    expect(sarif.runs[0].properties).toMatchObject({ decision: 'block' });
    expect(sarif.runs[0].tool.driver.rules.map((r: { id: string }) => r.id)).toEqual(
      expect.arrayContaining(['CVE-2024-45490', 'CVE-2023-5363']),
    );
    // deploy, had the pipeline gone on, refuses the digest.
    const deploy = await sh(
      runnable(byName.get('deploy') as Block, keyName),
      checkout,
      env(`${stack.registry.host}/demo/ci-api:1.1`, ''),
    );
    expect(deploy.code).toBe(3);
    expect(deploy.out).toContain(`REFUSED  ${stack.registry.host}/demo/ci-api@${image.digest}`);
  }, 240_000);
});
