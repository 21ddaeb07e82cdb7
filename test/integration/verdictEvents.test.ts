/**
 * Verdict events: a real gate (the local runner over a loopback docker-registry) POSTs its recorded verdict as
 * a CloudEvent to a loopback webhook; a webhook that fails is retried a bounded number of times and never changes
 * the verdict; the Event Grid adapter drives the REAL `EventGridPublisherClient` (CloudEvent schema, bearer token)
 * against a loopback HTTPS server speaking the topic's REST contract. Every event is checked against
 * docs/verdict-event.schema.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { startLoopback, type LoopbackServer } from '../support/loopbackHttp';
import { startHttpsServer, type TestHttpsServer } from '../support/httpsServer';
import { testCredential, TEST_TOKEN } from '../support/azureStandIns';
import { pushWithReport, reportsGatePolicy } from '../support/pushSamples';
import { createRegistryClient } from '../../src/adapters/registry';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import {
  EventGridVerdictPublisher,
  WebhookVerdictPublisher,
  publishVerdictEvent,
  verdictWebhookUrl,
} from '../../src/adapters/verdictEvents';
import { composeGateServices } from '../../src/app/compose';
import { runGateLocally } from '../../src/local/orchestrationHost';
import { startRegistry, type RunningRegistry } from '../../src/local/registryServer';
import { VERDICT_EVENT_TYPE, verdictEvent, type VerdictCloudEvent } from '../../src/core/verdictEvent';
import type { Verdict } from '../../src/core/types';
import { serveCommand } from '../../src/cli/serve';
import { UsageError } from '../../src/cli/args';

const schema = JSON.parse(readFileSync(join(__dirname, '../../docs/verdict-event.schema.json'), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(schema);
const valid = (event: unknown): boolean => {
  const ok = validate(event) as boolean;
  if (!ok) throw new Error(JSON.stringify(validate.errors));
  return ok;
};

describe('verdict events from a real gate to a loopback webhook', () => {
  let registry: RunningRegistry;
  let hook: LoopbackServer;
  let answer = 202;

  beforeAll(async () => {
    registry = await startRegistry();
    hook = await startLoopback((_req, res) => {
      res.writeHead(answer);
      res.end();
    });
  });
  afterAll(async () => {
    await hook?.close();
    await registry?.stop();
  });

  const gate = async (
    repository: string,
    vulnerable: boolean,
    publishers = [new WebhookVerdictPublisher(`http://${hook.host}/hooks/verdicts`)],
  ) => {
    const client = createRegistryClient({ host: registry.host, plainHttp: true });
    const image = await pushWithReport(client, repository, '1.0', vulnerable);
    const audit = new MemoryAuditStore();
    const policy = reportsGatePolicy(registry.host);
    const services = composeGateServices({
      policy: () => policy,
      audit,
      plainHttpHosts: [registry.host],
      verdictEvents: publishers,
    });
    const outcome = await runGateLocally({ image, tag: '1.0', trigger: 'cli', services, timers: 'virtual' });
    return { image, outcome, audit };
  };

  it('POSTs each recorded verdict once, as a structured CloudEvent that matches the schema', async () => {
    const before = hook.requests.length;
    const released = await gate('team/clean', false);
    const blocked = await gate('team/vulnerable', true);
    const seen = hook.requests.slice(before);
    expect(seen).toHaveLength(2);
    for (const r of seen) {
      expect(r.method).toBe('POST');
      expect(r.path).toBe('/hooks/verdicts');
      expect(r.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    }
    const [first, second] = seen.map((r) => JSON.parse(r.body.toString('utf8')) as VerdictCloudEvent);
    expect(valid(first) && valid(second)).toBe(true);
    expect(first).toMatchObject({
      specversion: '1.0',
      type: VERDICT_EVENT_TYPE,
      source: `/acr-guard/registries/${registry.host}`,
      subject: `${registry.host}/team/clean@${released.image.digest}`,
      time: released.outcome.verdict?.decidedAt,
      data: {
        decision: 'release',
        digest: released.image.digest,
        repository: 'team/clean',
        tag: '1.0',
        policy: { hash: released.outcome.verdict?.policy.hash },
      },
    });
    expect(second.data).toMatchObject({ decision: 'block', digest: blocked.image.digest });
    expect(second.data.summary).toContain('CVE-2024-6119');
    // The event is the recorded verdict's: same id for the same record (consumers de-duplicate retries).
    expect(first.id).toBe(verdictEvent((await released.audit.latestVerdict(released.image)) as Verdict).id);
  });

  it('a webhook that answers 500 is tried 3 times; the verdict is recorded and unchanged', async () => {
    answer = 500;
    try {
      const before = hook.requests.length;
      const { outcome, audit, image } = await gate('team/clean2', false);
      expect(hook.requests.length - before).toBe(3);
      expect(outcome.verdict?.decision).toBe('release');
      expect(outcome.reason).toBeUndefined();
      expect((await audit.latestVerdict(image))?.decision).toBe('release');
    } finally {
      answer = 202;
    }
  }, 30_000);

  it('a webhook that does not answer in time does not hold the verdict (bounded)', async () => {
    const slow = await startLoopback(() => new Promise<void>(() => undefined));
    try {
      const publisher = new WebhookVerdictPublisher(`http://${slow.host}/h`, { timeoutMs: 200 });
      const started = Date.now();
      const reports = await publishVerdictEvent([publisher], sampleEvent(), { firstDelayMs: 10 });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(reports).toEqual([
        { publisher: 'webhook', delivered: false, attempts: 3, error: expect.stringContaining('TRANSIENT') },
      ]);
      expect(slow.requests).toHaveLength(3);
    } finally {
      await slow.close();
    }
  });

  it('acr-guard serve refuses a --verdict-webhook that is neither https nor loopback, before starting anything', async () => {
    await expect(
      serveCommand(['--verdict-webhook', 'http://hooks.example.com/x'], { out: () => undefined, err: () => undefined }),
    ).rejects.toThrow(UsageError);
  });

  it('accepts https and loopback http only, without credentials', () => {
    expect(verdictWebhookUrl('https://hooks.example.com/x').host).toBe('hooks.example.com');
    expect(verdictWebhookUrl('http://127.0.0.1:9/x').host).toBe('127.0.0.1:9');
    for (const bad of ['http://hooks.example.com/x', 'https://u:p@hooks.example.com/', 'file:///etc/passwd', 'nope'])
      expect(() => verdictWebhookUrl(bad)).toThrow(/--verdict-webhook/);
  });
});

function sampleEvent(): VerdictCloudEvent {
  return verdictEvent({
    image: { registry: 'contoso.azurecr.io', repository: 'team/api', digest: `sha256:${'a'.repeat(64)}` },
    tag: 'v1',
    decision: 'block',
    summary: 'blocked: CVE-2024-6119 (critical) in openssl',
    checks: [],
    findingCounts: { critical: 1 },
    rule: 'gate[0] scope "team/**"',
    policy: { version: 1, hash: 'b'.repeat(64) },
    decidedAt: '2026-12-07T20:00:00.000Z',
  });
}

describe('EventGridVerdictPublisher (real SDK, loopback HTTPS topic)', () => {
  let topic: TestHttpsServer;
  let status = 200;

  beforeAll(async () => {
    topic = await startHttpsServer();
    topic.route('POST', '/api/events', (req) =>
      req.headers.authorization === `Bearer ${TEST_TOKEN}`
        ? { status }
        : { status: 401, body: { error: { code: 'Unauthorized', message: 'no token' } } },
    );
  });
  afterAll(async () => {
    await topic?.close();
  });

  it('sends the event in the CloudEvents schema with the managed identity token', async () => {
    const credential = testCredential();
    const publisher = new EventGridVerdictPublisher({ endpoint: `${topic.url}/api/events`, credential, ca: topic.ca });
    const event = sampleEvent();
    expect(await publishVerdictEvent([publisher], event)).toEqual([
      { publisher: 'eventgrid', delivered: true, attempts: 1 },
    ]);
    const [req] = topic.requests;
    expect(req.method).toBe('POST');
    expect(req.query.get('api-version')).toBeTruthy();
    expect(String(req.headers['content-type'])).toMatch(/^application\/cloudevents-batch\+json/);
    expect(credential.scopes).toContain('https://eventgrid.azure.net/.default');
    const body = req.json as unknown[];
    expect(body).toHaveLength(1);
    expect(valid(body[0])).toBe(true);
    expect(body[0]).toEqual({ ...event, time: event.time });
  });

  it('retries a 503 within its bound and gives up on a 400 at once', async () => {
    const publisher = new EventGridVerdictPublisher({
      endpoint: `${topic.url}/api/events`,
      credential: testCredential(),
      ca: topic.ca,
    });
    const before = topic.requests.length;
    status = 503;
    const unavailable = await publishVerdictEvent([publisher], sampleEvent(), { firstDelayMs: 10 });
    expect(unavailable[0]).toMatchObject({
      delivered: false,
      attempts: 3,
      error: expect.stringContaining('TRANSIENT'),
    });
    status = 400;
    const rejected = await publishVerdictEvent([publisher], sampleEvent(), { firstDelayMs: 10 });
    expect(rejected[0]).toMatchObject({ delivered: false, attempts: 1, error: expect.stringContaining('UPSTREAM') });
    expect(topic.requests.length - before).toBe(4);
    status = 200;
  });
});
