/**
 * A CLI that helps (issue 21): `--version`, `--help` exiting 0 everywhere, "did you mean" for options, commands and
 * subcommands, and the hints under runtime errors (plain-HTTP registry, registry not running, no Azure sign-in),
 * against a real loopback docker-registry and the real @azure/identity credential classes.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvironmentCredential, ChainedTokenCredential } from '@azure/identity';
import { runCli } from '../support/cli';
import { COMMANDS } from '../../src/cli/main';
import { alertsCommand } from '../../src/cli/timers';
import { closest, editDistance } from '../../src/cli/suggest';
import { errorHint } from '../../src/cli/hints';
import { startRegistry, freePort, type RunningRegistry } from '../../src/local/registryServer';
import { startLogAnalytics, type LogAnalyticsStandIn } from '../support/azureStandIns';
import { SEED, seedResources } from '../support/doctorSeeds';

describe('acr-guard --version and --help', () => {
  it('--version and -V print the package version, exit 0', async () => {
    const version = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).version;
    for (const flag of ['--version', '-V', 'version']) {
      const { code, out, err } = await runCli([flag]);
      expect({ flag, code, out, err }).toEqual({ flag, code: 0, out: `acr-guard ${version}\n`, err: '' });
    }
  });

  it('<command> --help, <command> -h and help <command> exit 0 for every command', async () => {
    for (const command of COMMANDS) {
      for (const argv of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
      ]) {
        const { code, out } = await runCli(argv);
        expect({ argv, code }).toEqual({ argv, code: 0 });
        expect(out).toMatch(/usage: acr-guard /);
      }
    }
  });

  it('<command> <sub> --help exits 0 for every subcommand', async () => {
    const subs = [
      ['alerts', 'list'],
      ['alerts', 'run'],
      ['tokens', 'rotate'],
      ['doctor', 'pull'],
      ['doctor', 'identities'],
      ['doctor', 'platform'],
      ['doctor', 'snapshot'],
    ];
    for (const argv of subs) {
      const { code, out } = await runCli([...argv, '--help']);
      expect({ argv, code }).toEqual({ argv, code: 0 });
      expect(out).toMatch(/usage: acr-guard /);
    }
  });
});

describe('did you mean', () => {
  it('an unknown option names the closest known one, not node parseArgs text', async () => {
    const { code, err } = await runCli(['gate', 'example.azurecr.io/app:1', '--polcy', 'p.yaml']);
    expect(code).toBe(2);
    expect(err).toMatch(/unknown option --polcy; did you mean --policy\?/);
    expect(err).not.toMatch(/To specify a positional argument/);
    const eq = await runCli(['purge', '--dryrun']);
    expect(eq.err).toMatch(/unknown option --dryrun; did you mean --dry-run\?/);
  });

  it('an option far from every known one lists the options', async () => {
    const { code, err } = await runCli(['verify', '--zzzzzzzz']);
    expect(code).toBe(2);
    expect(err).toMatch(/unknown option --zzzzzzzz \(options: .*--trust-policy.*\); --help lists them/);
  });

  it('an option without its value says the expected form', async () => {
    const { code, err } = await runCli(['gate', 'example.azurecr.io/app:1', '--policy']);
    expect(code).toBe(2);
    expect(err).toMatch(/--policy expects a value: --policy <value>/);
  });

  it('an unknown command names the closest and lists the commands, without 100 lines of usage', async () => {
    const { code, err, out } = await runCli(['purg']);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(/unknown command "purg"; did you mean purge\?/);
    expect(err).toMatch(/commands: gate, serve, demo/);
    expect(err.split('\n').length).toBeLessThan(5);
  });

  it('unknown subcommands of alerts and tokens name the closest', async () => {
    expect((await runCli(['alerts', 'lst'])).err).toMatch(/unknown alerts subcommand "lst"; did you mean list\?/);
    expect((await runCli(['tokens', 'rotat'])).err).toMatch(/did you mean rotate\?/);
    expect((await runCli(['doctor', 'pul'])).err).toMatch(/unknown doctor command "pul"; did you mean pull\?/);
  });

  it('doctor pull with a misspelt workload: a usage error listing the workloads found and the closest', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'acr-guard-doctor-')), 'snapshot.json');
    writeFileSync(file, JSON.stringify({ resources: await seedResources() }));
    const name = `ca-api-${SEED.token}`;
    const typo = `ca-aip-${SEED.token}`;
    const { code, err, out } = await runCli(['doctor', 'pull', typo, '--snapshot', file]);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain(`no Container App or container group "${typo}" in ${file}; did you mean ${name}?`);
    expect(err).toMatch(new RegExp(`workloads found: .*${name}`));
    // The right name still diagnoses (exit 0 or 3, never 2).
    expect([0, 3]).toContain((await runCli(['doctor', 'pull', name, '--snapshot', file])).code);
  });

  it('the edit distance counts a swap of neighbours as one edit', () => {
    expect(editDistance('polciy', 'policy')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(closest('--plian-http', ['--policy', '--plain-http'])).toBe('--plain-http');
    expect(closest('x', ['--policy'])).toBeUndefined();
  });
});

describe('hints under runtime errors', () => {
  let registry: RunningRegistry;
  let policyFile: string;
  let closedPort: number;

  beforeAll(async () => {
    registry = await startRegistry();
    closedPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'acr-guard-hints-'));
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      `version: 1
registries:
  - { host: "${registry.host}" }
  - { host: "127.0.0.1:${closedPort}" }
gate:
  - scope: "**"
    vulnerabilities: { block: [critical], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
`,
    );
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('a plain-HTTP loopback registry without --plain-http: add --plain-http', async () => {
    const { code, err } = await runCli(['gate', `${registry.host}/app:1`, '--policy', policyFile]);
    expect(code).toBe(1);
    expect(err).toContain(
      `hint: the registry at ${registry.host} answers plain HTTP: add --plain-http (allowed for loopback registries only)`,
    );
  });

  it('a registry that is not running: is it running there?', async () => {
    const host = `127.0.0.1:${closedPort}`;
    const { code, err } = await runCli(['gate', `${host}/app:1`, '--policy', policyFile, '--plain-http']);
    expect(code).toBe(1);
    expect(err).toContain(`hint: is the registry running at ${host}? nothing accepted the connection`);
  });

  it('serve with its registry port taken: refused, exit 2, naming the port and --registry-port (not another registry used)', async () => {
    const port = Number(registry.host.split(':')[1]);
    const state = mkdtempSync(join(tmpdir(), 'acr-guard-serve-'));
    const { code, err, out } = await runCli([
      'serve',
      '--port',
      '0',
      '--registry-port',
      String(port),
      '--state-dir',
      state,
      '--no-seed',
    ]);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain(`registry port ${port} on 127.0.0.1 is in use`);
    expect(err).toContain('nothing was started: stop what listens there or pass another --registry-port');
  });

  describe('purge: a repository that could not be listed is reported in the result, with the same hint', () => {
    const purgePolicy = (): string => {
      const file = join(mkdtempSync(join(tmpdir(), 'acr-guard-hints-')), 'policy.yaml');
      writeFileSync(
        file,
        `version: 1\nregistries: ["${registry.host}", "127.0.0.1:${closedPort}"]\ngate: []\n` +
          'retention:\n  - { scope: "app/**", olderThan: 30d, protectInUse: false }\n',
      );
      return file;
    };

    it('a plain-HTTP loopback registry without --plain-http: exit 1, the failed repository, hint add --plain-http', async () => {
      const args = [
        'purge',
        '--registry',
        registry.host,
        '--policy',
        purgePolicy(),
        '--repository',
        'app/x',
        '--dry-run',
      ];
      const { code, out, err } = await runCli(args);
      expect(code).toBe(1);
      expect(out).toMatch(/app\/x\s+\(retention\[0\] scope "app\/\*\*"\): failed/);
      expect(err).toContain(
        `hint: the registry at ${registry.host} answers plain HTTP: add --plain-http (allowed for loopback registries only)`,
      );
      // --output json: the envelope as before (the error in `errors`), no hint anywhere.
      const json = await runCli([...args, '--output', 'json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.out)).toMatchObject({ outcome: 'error', errors: [{ field: 'app/x' }] });
      expect(`${json.out}${json.err}`).not.toContain('hint:');
    });

    it('a registry that is not running: is it running there?', async () => {
      const host = `127.0.0.1:${closedPort}`;
      const { code, err } = await runCli([
        'purge',
        '--registry',
        host,
        '--policy',
        purgePolicy(),
        '--repository',
        'app/x',
        '--dry-run',
        '--plain-http',
      ]);
      expect(code).toBe(1);
      expect(err).toContain(`hint: is the registry running at ${host}? nothing accepted the connection`);
    });
  });

  it('no hint for an error that has none', () => {
    expect(errorHint(new Error('boom'), [])).toBeUndefined();
  });

  describe('alerts run without an Azure sign-in', () => {
    let logs: LogAnalyticsStandIn;
    const WORKSPACE = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
    beforeAll(async () => {
      logs = await startLogAnalytics(WORKSPACE, () => ({ columns: [['x', 'string']], rows: [] }));
    });
    afterAll(async () => {
      await logs.server.close();
    });

    // The real @azure/identity classes with nothing to sign in with (no AZURE_* settings): no network is touched.
    const noEnv = { AZURE_TENANT_ID: undefined, AZURE_CLIENT_ID: undefined, AZURE_CLIENT_SECRET: undefined };
    it.each([
      ['EnvironmentCredential (CredentialUnavailableError)', () => new EnvironmentCredential()],
      ['a chain of them (AggregateAuthenticationError)', () => new ChainedTokenCredential(new EnvironmentCredential())],
    ])('%s: named as a missing sign-in with the fix, not "no response; retry later"', async (_name, make) => {
      const saved = { ...process.env };
      Object.assign(process.env, noEnv);
      for (const k of Object.keys(noEnv)) delete process.env[k];
      try {
        let out = '';
        const code = await alertsCommand(
          ['run', '--rule', 'image-pull-failures', '--dry-run'],
          { out: (s) => (out += `${s}\n`), err: () => undefined },
          {
            env: { ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE, ACR_GUARD_LOG_ANALYTICS_ENDPOINT: logs.endpoint },
            credential: make(),
            ca: logs.server.ca,
          },
        );
        expect(code).toBe(1);
        expect(out).toMatch(/no Azure sign-in \(DefaultAzureCredential found no credential\); sign in with `az login`/);
        expect(out).not.toMatch(/no response/);
        expect(logs.queries).toEqual([]);
      } finally {
        process.env = saved;
      }
    });
  });
});
