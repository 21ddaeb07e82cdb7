/**
 * `acr-guard deploy` carried out: a released image from the loopback registry (gated into a local verdict store)
 * deployed through the REAL ARM SDKs to a loopback HTTPS server speaking ARM's contract (PATCH/PUT, the
 * long-running operation behind `Azure-AsyncOperation`, the revision's and the group's states). What the server
 * received is asserted: the body pins the digest on the named container and keeps the rest.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployResultData, promotePolicyYaml, runCli } from '../support/cli';
import { pushWithReport } from '../support/pushSamples';
import { useRegistry } from '../support/registry';
import { armDeployer, startArmDeploy, type ArmDeployStandIn } from '../support/armDeploy';
import { deployCommand } from '../../src/cli/deploy';
import { hiddenGroupValues } from '../../src/adapters/workloadDeployer';
import { UsageError } from '../../src/cli/args';
import { isUsageError } from '../../src/cli/gate';

const SUB = '00000000-0000-4000-8000-000000000001';
const RG = 'rg-apps';
const appId = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.App/containerApps/${name}`;
const jobId = (name: string) => `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.App/jobs/${name}`;
const groupId = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ContainerInstance/containerGroups/${name}`;

describe('acr-guard deploy to ARM (real SDKs, loopback contract server)', () => {
  const reg = useRegistry();
  let arm: ArmDeployStandIn;
  let dir: string;
  let auditDir: string;
  let policyFile: string;
  let released: string;
  let blocked: string;

  beforeAll(async () => {
    const { client } = reg;
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-deploy-arm-'));
    auditDir = join(dir, 'verdicts');
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, promotePolicyYaml(reg.registry.host));
    const clean = await pushWithReport(client, 'app/api', '1.0', false);
    const bad = await pushWithReport(client, 'app/api', '1.1', true);
    const gate = (ref: string) =>
      runCli(['gate', ref, '--policy', policyFile, '--plain-http', '--audit-dir', auditDir]);
    expect((await gate(`${reg.registry.host}/app/api:1.0`)).code).toBe(0);
    expect((await gate(`${reg.registry.host}/app/api:1.1`)).code).toBe(3);
    released = `${reg.registry.host}/release/app/api@${clean.digest}`;
    blocked = `${reg.registry.host}/app/api@${bad.digest}`;
  });
  beforeEach(async () => {
    arm = await startArmDeploy();
    arm.apps.push({
      subscription: SUB,
      resourceGroup: RG,
      name: 'ca-api',
      containers: [
        { name: 'api', image: `${reg.registry.host}/release/app/api:old` },
        { name: 'sidecar', image: 'mcr.microsoft.com/oss/envoy:v1' },
      ],
      initContainers: [{ name: 'migrate', image: `${reg.registry.host}/release/app/migrate@sha256:${'1'.repeat(64)}` }],
      revisions: [
        {
          name: 'ca-api--r1',
          active: true,
          replicas: 1,
          trafficWeight: 100,
          containers: [{ name: 'api', image: `${reg.registry.host}/release/app/api:old` }],
        },
      ],
    });
    arm.jobs.push({
      subscription: SUB,
      resourceGroup: RG,
      name: 'job-nightly',
      containers: [{ name: 'worker', image: `${reg.registry.host}/release/app/api:old` }],
    });
    arm.groups.push({
      subscription: SUB,
      resourceGroup: RG,
      name: 'ci-worker',
      state: 'Running',
      containers: [
        { name: 'worker', image: `${reg.registry.host}/release/app/api:old` },
        { name: 'logger', image: 'mcr.microsoft.com/oss/fluent-bit:2' },
      ],
    });
  });
  afterEach(async () => {
    await arm?.server.close();
  });

  async function deploy(image: string, target: string, extra: string[] = []) {
    let out = '';
    let err = '';
    const deployer = armDeployer(arm, { retryDelayMs: 10 });
    const code = await deployCommand(
      [
        image,
        '--target',
        target,
        '--policy',
        policyFile,
        '--plain-http',
        '--audit-dir',
        auditDir,
        '--output',
        'json',
        ...extra,
      ],
      { out: (s) => (out += s), err: (s) => (err += `${s}\n`), deployer },
    );
    return { code, out, err, json: deployResultData(out, code) };
  }

  it('Container App: PATCHes the template with only the named container pinned, then waits for the new revision to run', async () => {
    const r = await deploy(`${reg.registry.host}/app/api:1.0`, appId('ca-api'), ['--container', 'api']);
    expect(r.err).toContain('revision ca-api--r2: provisioningState Provisioning, runningState Processing');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({
      decision: 'deploy',
      image: released,
      container: 'api',
      previousImage: `${reg.registry.host}/release/app/api:old`,
      rollout: { status: 'running', revision: 'ca-api--r2' },
    });
    expect(r.err).toMatch(/operation (InProgress|running)/i);
    expect(arm.writes).toHaveLength(1);
    const [w] = arm.writes;
    expect(w.method).toBe('PATCH');
    expect(w.path).toBe(appId('ca-api'));
    const template = (w.body.properties as { template: Record<string, unknown> }).template;
    expect(template).toEqual({
      containers: [
        { name: 'api', image: released, resources: { cpu: 0.5, memory: '1Gi' } },
        { name: 'sidecar', image: 'mcr.microsoft.com/oss/envoy:v1', resources: { cpu: 0.5, memory: '1Gi' } },
      ],
      initContainers: [
        {
          name: 'migrate',
          image: `${reg.registry.host}/release/app/migrate@sha256:${'1'.repeat(64)}`,
          resources: { cpu: 0.5, memory: '1Gi' },
        },
      ],
      scale: { minReplicas: 0, maxReplicas: 10 },
    });
    // Nothing else of the app is sent: configuration (secrets, ingress) stays as it is.
    expect(Object.keys(w.body.properties as object)).toEqual(['template']);
    // The SDK polled the operation it was given.
    expect(arm.server.requests.some((q) => /containerappOperationStatuses/.test(q.path))).toBe(true);
  });

  it('Container App with several containers and no --container, or an unknown name: usage error, nothing written', async () => {
    await expect(deploy(`${reg.registry.host}/app/api:1.0`, appId('ca-api'))).rejects.toThrow(
      new UsageError('the target has 2 containers ("api", "sidecar"): name one with --container <name>'),
    );
    await expect(deploy(`${reg.registry.host}/app/api:1.0`, appId('ca-api'), ['--container', 'web'])).rejects.toThrow(
      new UsageError('--container: the target has no container named "web"; its containers: "api", "sidecar"'),
    );
    expect(isUsageError(new UsageError('x'))).toBe(true);
    expect(arm.writes).toHaveLength(0);
  });

  it('a failed revision: exit 1 (something changed), naming the previous image', async () => {
    arm.failRevision = true;
    const r = await deploy(`${reg.registry.host}/app/api:1.0`, appId('ca-api'), ['--container', 'api']);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ decision: 'deploy', rollout: { status: 'failed' } });
    expect(r.err).toContain('provisioningState Failed, runningState Failed');
    expect(r.err).toContain(`it was ${reg.registry.host}/release/app/api:old`);
  });

  it('a failed long-running operation: exit 1 with DEPLOY_FAILED', async () => {
    arm.failOperation = true;
    await expect(
      armDeployer(arm).update(
        {
          kind: 'containerAppJob',
          id: jobId('job-nightly'),
          subscriptionId: SUB,
          resourceGroup: RG,
          name: 'job-nightly',
        },
        'worker',
        released,
        { timeoutMs: 30_000 },
      ),
    ).rejects.toMatchObject({ code: 'DEPLOY_FAILED', message: expect.stringContaining('ContainerAppOperationError') });
  });

  it('a revision that never runs within --timeout: DEPLOY_TIMEOUT (exit 1)', async () => {
    arm.revisionPolls = 1_000_000;
    await expect(
      armDeployer(arm).update(
        { kind: 'containerApp', id: appId('ca-api'), subscriptionId: SUB, resourceGroup: RG, name: 'ca-api' },
        'api',
        released,
        { timeoutMs: 500 },
      ),
    ).rejects.toMatchObject({ code: 'DEPLOY_TIMEOUT' });
  });

  it('Container Apps job: PATCHes the template, the only container chosen without --container', async () => {
    const r = await deploy(`${reg.registry.host}/app/api:1.0`, jobId('job-nightly'));
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ container: 'worker', rollout: { status: 'running' } });
    const [w] = arm.writes;
    expect(w.method).toBe('PATCH');
    expect(w.path).toBe(jobId('job-nightly'));
    expect(w.body).toEqual({
      properties: {
        template: {
          // A job's template has no `scale` (the SDK's JobTemplate has containers, initContainers, volumes).
          containers: [{ name: 'worker', image: released, resources: { cpu: 0.5, memory: '1Gi' } }],
        },
      },
    });
  });

  it('container group: PUTs the group whole with only the named container pinned, then waits for Running', async () => {
    const r = await deploy(`${reg.registry.host}/app/api:1.0`, groupId('ci-worker'), ['--container', 'worker']);
    expect(r.code).toBe(0);
    expect(r.err).toContain('state Pending');
    expect(r.json).toMatchObject({ container: 'worker', rollout: { status: 'running' } });
    const [w] = arm.writes;
    expect(w.method).toBe('PUT');
    expect(w.body).toMatchObject({
      location: 'westeurope',
      properties: {
        sku: 'Standard',
        restartPolicy: 'OnFailure',
        osType: 'Linux',
        containers: [
          {
            name: 'worker',
            properties: {
              image: released,
              resources: { requests: { cpu: 1, memoryInGB: 1.5 } },
              environmentVariables: [],
            },
          },
          { name: 'logger', properties: { image: 'mcr.microsoft.com/oss/fluent-bit:2' } },
        ],
      },
    });
    // Read-only state is not written back.
    expect((w.body.properties as Record<string, unknown>).instanceView).toBeUndefined();
    expect((w.body.properties as Record<string, unknown>).provisioningState).toBeUndefined();
  });

  it('refuses a blocked digest without any ARM request (exit 3)', async () => {
    const r = await deploy(blocked, appId('ca-api'), ['--container', 'api']);
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ decision: 'refuse', refusal: 'blocked' });
    expect(arm.server.requests).toHaveLength(0);
  });

  it('a container group whose GET hides values a PUT needs is never written back', () => {
    const group = {
      containers: [
        {
          name: 'worker',
          image: 'x',
          resources: { requests: { cpu: 1, memoryInGB: 1 } },
          environmentVariables: [{ name: 'DB_PASSWORD' }, { name: 'PLAIN', value: 'v' }],
        },
      ],
      imageRegistryCredentials: [{ server: 'contoso.azurecr.io', username: 'u' }],
      volumes: [{ name: 'share', azureFile: { shareName: 's', storageAccountName: 'a' } }],
      osType: 'Linux',
    };
    expect(hiddenGroupValues(group)).toBe(
      'secure environment variable DB_PASSWORD, registry credential contoso.azurecr.io, Azure Files volume share',
    );
    expect(hiddenGroupValues({ containers: [], osType: 'Linux' })).toBeUndefined();
  });
});
