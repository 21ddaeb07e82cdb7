/**
 * The azd `predeploy` hook in azure.yaml (posix), run as azd runs it (`sh -c <run>` from the project root) with
 * a small `azd` on PATH that answers `azd env get-value NAME` from the test's values (exit 1 for a missing
 * key, as azd does). The verdicts come from Azurite's Table service (`--audit-table`), recorded there by a real
 * gate over a loopback docker-registry.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { useAzurite } from '../support/azurite';
import { pushWithReport } from '../support/pushSamples';
import { createRegistryClient } from '../../src/adapters/registry';
import { TableAuditStore } from '../../src/adapters/auditStore';
import { composeGateServices } from '../../src/app/compose';
import { runGateLocally } from '../../src/local/orchestrationHost';
import { startRegistry, type RunningRegistry } from '../../src/local/registryServer';
import { loadPolicy } from '../../src/core/policy';

const exec = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const hook = (
  parse(readFileSync(join(ROOT, 'azure.yaml'), 'utf8')) as {
    hooks: { predeploy: { posix: { shell: string; run: string }; windows: { shell: string; run: string } } };
  }
).hooks.predeploy;

const AZD_SHIM = `#!/bin/sh
# azd env get-value NAME: the test's AZD_ENV_<NAME>, or exit 1 like azd for a key that is not set.
[ "$1 $2" = "env get-value" ] || { echo "azd shim: unexpected: $*" >&2; exit 64; }
eval "set -- \\"\\\${AZD_ENV_$3+x}\\" \\"\\\${AZD_ENV_$3}\\" \\"$3\\""
[ "$1" = x ] || { echo "ERROR: key '$3' not found in the environment values" >&2; exit 1; }
printf '%s\\n' "$2"
`;

describe('azd predeploy hook', () => {
  const azurite = useAzurite();
  let registry: RunningRegistry;
  let dir: string;
  let policyFile: string;
  let blockedRef: string;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/src/cli/main.js')))
      await exec('node', ['scripts/build.mjs'], { cwd: ROOT, timeout: 180_000 });
    registry = await startRegistry();
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-azd-hook-'));
    writeFileSync(join(dir, 'azd'), AZD_SHIM);
    chmodSync(join(dir, 'azd'), 0o755);
    const text = `version: 1
registries: [{ host: "${registry.host}", apply: none }]
gate:
  - scope: "team/**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
`;
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, text);
    const policy = loadPolicy(text, policyFile);
    const client = createRegistryClient({ host: registry.host, plainHttp: true });
    const image = await pushWithReport(client, 'team/api', '2.0', true);
    const audit = new TableAuditStore({
      endpoint: azurite().tableUrl,
      credential: azurite().credential,
      allowInsecureConnection: true,
    });
    const services = composeGateServices({ policy: () => policy, audit, plainHttpHosts: [registry.host] });
    const outcome = await runGateLocally({ image, tag: '2.0', trigger: 'cli', services, timers: 'virtual' });
    expect(outcome.verdict?.decision).toBe('block');
    blockedRef = `${registry.host}/team/api@${image.digest}`;
  }, 240_000);
  afterAll(async () => {
    await registry?.stop();
  });

  const runHook = async (values: Record<string, string>) => {
    expect(hook.posix.shell).toBe('sh');
    const env: Record<string, string | undefined> = {
      PATH: `${dir}:${process.env.PATH}`,
      HOME: process.env.HOME,
      ACR_GUARD_POLICY_FILE: policyFile,
    };
    for (const [k, v] of Object.entries(values)) env[`AZD_ENV_${k}`] = v;
    try {
      const { stdout, stderr } = await exec('sh', ['-c', hook.posix.run], { cwd: ROOT, env, timeout: 120_000 });
      return { code: 0, out: stdout, err: stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, out: e.stdout ?? '', err: e.stderr ?? '' };
    }
  };

  it('without DEPLOY_IMAGE: says so and lets azd deploy go on (exit 0)', async () => {
    const r = await runHook({});
    expect(r.code).toBe(0);
    expect(r.out).toContain('DEPLOY_IMAGE is not set');
  });

  it('without DEPLOY_TARGET: a configuration error (exit 2) naming it', async () => {
    const r = await runHook({ DEPLOY_IMAGE: blockedRef });
    expect(r.code).toBe(2);
    expect(r.err).toContain('DEPLOY_TARGET');
  });

  it('a blocked image stops azd deploy (exit 3) before any ARM request, with the reason', async () => {
    const r = await runHook({
      DEPLOY_IMAGE: blockedRef,
      DEPLOY_TARGET:
        '/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.App/containerApps/ca-api',
      ACR_GUARD_AUDIT_TABLE_ENDPOINT: azurite().tableUrl,
      DEPLOY_FLAGS: '--plain-http',
    });
    expect(r.code).toBe(3);
    expect(r.out).toContain(`REFUSED  ${blockedRef}`);
    expect(r.out).toContain('CVE-2024-6119');
  });

  it('the windows hook runs the same command in pwsh', () => {
    expect(hook.windows.shell).toBe('pwsh');
    expect(hook.windows.run).toContain(
      'node bin/acr-guard.js deploy $image --policy $policy --target $target @extra --audit-table $table',
    );
    expect(hook.posix.run).not.toMatch(/npx acr-guard/);
  });
});
