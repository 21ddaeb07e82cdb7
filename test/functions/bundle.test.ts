/**
 * The Functions bundle as deployed (scripts/build.mjs, esbuild): it loads in plain node with a stand-in for the
 * host's `@azure/functions-core`, registers every function the TypeScript entry registers, and reads none of
 * the lazily loaded SDK files while loading; each of those files loads and holds what the adapters take from it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { registeredFunctions } from '../support/functionsCore';

// eslint-disable-next-line @typescript-eslint/no-require-imports
jest.mock('@azure/functions-core', () => require('../support/functionsCore').recordingFunctionsCore(), {
  virtual: true,
});

const run = promisify(execFile);
const ROOT = join(__dirname, '../..');
const STUB = join(ROOT, 'bench/functionsCoreStub.cjs');

describe('the built Functions bundle', () => {
  let out: string;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'acr-guard-bundle-'));
    await run(process.execPath, ['scripts/build.mjs'], {
      cwd: ROOT,
      env: { ...process.env, ACR_GUARD_BUILD_DIR: out },
    });
  }, 180_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('registers every function the source registers, without reading a lazy SDK file', async () => {
    const bundle = join(out, 'src/functions/index.js');
    // What the loaded bundle pulled in, besides node's own modules: the bundle itself and nothing under sdk/.
    const script = `require(${JSON.stringify(bundle)}); process.on('exit', () => console.error(JSON.stringify(Object.keys(require.cache))));`;
    const { stdout, stderr } = await run(process.execPath, ['-r', STUB, '-e', script], {
      cwd: ROOT,
      env: { ...process.env, ACR_GUARD_PRINT_REGISTRATIONS: '1' },
    });
    const fromBundle = (JSON.parse(stdout) as string[]).sort();

    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('../../src/functions/index');
    const fromSource = registeredFunctions()
      .map((f) => f.name)
      .sort();
    expect(fromSource.length).toBeGreaterThanOrEqual(20);
    expect(fromBundle).toEqual(fromSource);

    const loaded = JSON.parse(stderr.trim().split('\n').pop() as string) as string[];
    expect(loaded.filter((p) => p.startsWith(out))).toEqual([bundle]);
    // The verdicts page's static files sit beside the bundle, where src/app/page.ts looks for them.
    expect(readdirSync(join(out, 'src/app/page')).sort()).toEqual(['app.js', 'index.html', 'style.css']);
  }, 60_000);

  it('starts an orchestration through the bundled durable client (axios loaded on first use, behind its proxy)', async () => {
    // The nightlyPurge timer, invoked as the host would: its durable client asks the host's RPC endpoint for
    // the instance, then starts registryPurge. A loopback server plays that endpoint.
    const calls: string[] = [];
    const server = createServer((req, res) => {
      calls.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        if (req.method === 'GET') {
          res.writeHead(404).end();
        } else {
          res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'purge-x' }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const rpc = `http://127.0.0.1:${(server.address() as AddressInfo).port}/durabletask/`;
      const clientData = {
        taskHubName: 'hub',
        creationUrls: {},
        managementUrls: {},
        baseUrl: rpc,
        requiredQueryStringParameters: '',
        rpcBaseUrl: rpc,
      };
      const script = `require(${JSON.stringify(join(out, 'src/functions/index.js'))});
        const handler = globalThis.acrGuardHandlers.get('nightlyPurge');
        const context = { options: { extraInputs: [{ type: 'durableClient', name: 'starter' }] }, extraInputs: { get: () => (${JSON.stringify(clientData)}) },
          log: (line) => console.log(line) };
        handler({ isPastDue: false }, context).then(() => console.log('done'), (err) => { console.error(err); process.exit(1); });`;
      const env = {
        ...process.env,
        WEBSITE_HOSTNAME: 'bundle-test',
        ACR_GUARD_POLICY: 'version: 1\nregistries: [127.0.0.1]\ngate: []\n',
        ACR_GUARD_AUDIT_DIR: out,
      };
      const { stdout } = await run(process.execPath, ['-r', STUB, '-e', script], { cwd: ROOT, env });
      expect(stdout).toMatch(/nightlyPurge: started registryPurge purge-\d{12}/);
      expect(calls).toEqual([
        expect.stringMatching(/^GET \/durabletask\/instances\/purge-\d{12}/),
        expect.stringMatching(/^POST \/durabletask\/orchestrators\/registryPurge\/purge-\d{12}/),
      ]);
    } finally {
      server.close();
    }
  }, 60_000);

  it('ships one file per lazy group, each loading what the adapters use', async () => {
    const sdk = join(out, 'src/functions/sdk');
    expect(
      readdirSync(sdk)
        .filter((f) => f.endsWith('.js'))
        .sort(),
    ).toEqual([
      'axios.js',
      'azure-arm-appcontainers.js',
      'azure-arm-containerinstance.js',
      'azure-arm-containerregistry.js',
      'azure-arm-resourcegraph.js',
      'azure-data-tables.js',
      'azure-identity.js',
      'azure-keyvault-keys.js',
      'azure-keyvault-secrets.js',
      'azure-monitor-ingestion.js',
      'azure-monitor-query-logs.js',
      'azure-storage-blob.js',
      'signature-libs.js',
    ]);
    const uses: Record<string, [string, string[]]> = {
      '@azure/identity': ['azure-identity', ['DefaultAzureCredential', 'ManagedIdentityCredential']],
      '@azure/data-tables': ['azure-data-tables', ['TableClient', 'AzureNamedKeyCredential', 'odata']],
      '@azure/storage-blob': ['azure-storage-blob', ['ContainerClient', 'StorageSharedKeyCredential']],
      '@azure/arm-appcontainers': ['azure-arm-appcontainers', ['ContainerAppsAPIClient']],
      '@azure/arm-containerinstance': ['azure-arm-containerinstance', ['ContainerInstanceManagementClient']],
      '@azure/arm-containerregistry': ['azure-arm-containerregistry', ['ContainerRegistryManagementClient']],
      '@azure/arm-resourcegraph': ['azure-arm-resourcegraph', ['ResourceGraphClient']],
      '@azure/keyvault-secrets': ['azure-keyvault-secrets', ['SecretClient']],
      '@azure/keyvault-keys': ['azure-keyvault-keys', ['CryptographyClient', 'KeyClient']],
      '@azure/monitor-query-logs': ['azure-monitor-query-logs', ['LogsQueryClient', 'LogsQueryResultStatus']],
      '@azure/monitor-ingestion': ['azure-monitor-ingestion', ['LogsIngestionClient']],
      '@peculiar/asn1-schema': ['signature-libs', ['AsnConvert']],
      '@peculiar/asn1-x509': ['signature-libs', ['Certificate', 'KeyUsage', 'id_ce_keyUsage']],
      '@peculiar/asn1-cms': ['signature-libs', ['ContentInfo', 'SignedData', 'id_signedData']],
      asn1js: ['signature-libs', ['fromBER', 'Sequence']],
      cbor: ['signature-libs', ['decodeFirstSync', 'Tagged']],
      axios: ['axios', ['create']],
    };
    const script = `const uses = ${JSON.stringify(uses)}; const missing = [];
      for (const [pkg, [file, names]] of Object.entries(uses)) {
        const mod = require(${JSON.stringify(sdk)} + '/' + file + '.js')[pkg];
        for (const n of names) if (mod?.[n] === undefined) missing.push(pkg + '.' + n);
      }
      console.log(JSON.stringify(missing));`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: ROOT });
    expect(JSON.parse(stdout)).toEqual([]);
  }, 60_000);

  it('parses a real certificate with the ASN.1 libraries of the signature-libs file (one shared schema store)', async () => {
    // asn1-x509 registers its schemas in asn1-schema's store: both must come from the same copy.
    const cert = join(out, 'cert.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=bundle-test',
      '-days',
      '1',
      '-keyout',
      join(out, 'key.pem'),
      '-out',
      cert,
    ]);
    const script = `const { X509Certificate } = require('node:crypto');
      const libs = require(${JSON.stringify(join(out, 'src/functions/sdk/signature-libs.js'))});
      const { AsnConvert } = libs['@peculiar/asn1-schema'];
      const { Certificate } = libs['@peculiar/asn1-x509'];
      const parsed = AsnConvert.parse(new X509Certificate(require('node:fs').readFileSync(${JSON.stringify(cert)})).raw, Certificate);
      console.log(parsed.tbsCertificate.subject.length);`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: ROOT });
    expect(Number(stdout.trim())).toBe(1);
  }, 60_000);
});
