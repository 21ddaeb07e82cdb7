/**
 * The Event Grid trigger's handler, called as the host calls it (a real InvocationContext, Event Grid and
 * CloudEvents payloads), wired to a real docker-registry on loopback and the real orchestration run by the
 * local durable driver.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvocationContext } from '@azure/functions';
import { handleImagePushed } from '../../src/app/onImagePushed';
import { gateInstanceId } from '../../src/core/reference';
import { isGuardError } from '../../src/core/errors';
import type { ImageId } from '../../src/core/types';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { composeGateServices } from '../../src/app/compose';
import { LocalOrchestrationHost } from '../../src/local/orchestrationHost';
import { useReportsRegistry } from '../support/pushSamples';

const SAMPLE_EVENT = JSON.parse(readFileSync(join(__dirname, '../../samples/image-pushed.eventgrid.json'), 'utf8'));
const SAMPLE_CLOUDEVENT = JSON.parse(
  readFileSync(join(__dirname, '../../samples/image-pushed.cloudevent.json'), 'utf8'),
);

function context(): InvocationContext {
  return new InvocationContext({
    invocationId: 'test-invocation',
    functionName: 'onImagePushed',
    logHandler: () => undefined,
  });
}

/** An Event Grid event for a push of `image` under `tag`. */
function eventFor(image: ImageId, tag: string | undefined, id: string): Record<string, unknown> {
  const event = structuredClone(SAMPLE_EVENT);
  event.id = id;
  event.subject = `${image.repository}${tag ? `:${tag}` : ''}`;
  event.data.target = { ...event.data.target, repository: image.repository, digest: image.digest, tag };
  if (!tag) delete event.data.target.tag;
  event.data.request.host = image.registry;
  return event;
}

/** The same push in the CloudEvents 1.0 schema. */
function cloudEventFor(image: ImageId, tag: string, id: string): Record<string, unknown> {
  const event = structuredClone(SAMPLE_CLOUDEVENT);
  event.id = id;
  event.data.target = { ...event.data.target, repository: image.repository, digest: image.digest, tag };
  event.data.request.host = image.registry;
  return event;
}

describe('onImagePushed', () => {
  const gated = useReportsRegistry();
  const { reg, pushWithReport } = gated;

  function setup() {
    const audit = new MemoryAuditStore();
    const services = composeGateServices({ policy: () => gated.policy, audit, plainHttpHosts: [reg.registry.host] });
    const starter = new LocalOrchestrationHost({ services, timers: 'virtual' });
    return { audit, starter };
  }

  it('gates a pushed image end to end and records a release verdict', async () => {
    const image = await pushWithReport('team/api', 'v1', false);
    const { audit, starter } = setup();
    const handled = await handleImagePushed(eventFor(image, 'v1', 'e-1'), { policy: gated.policy, starter }, context());
    expect(handled).toMatchObject({ outcome: 'start', started: true, instanceId: gateInstanceId(image) });
    await starter.settled();
    const verdict = await audit.latestVerdict(image);
    expect(verdict?.decision).toBe('release');
    expect(verdict?.image).toEqual(image);
  });

  it('blocks a vulnerable image, naming the CVE', async () => {
    const image = await pushWithReport('team/worker', 'v1', true);
    const { audit, starter } = setup();
    await handleImagePushed(eventFor(image, 'v1', 'e-2'), { policy: gated.policy, starter }, context());
    await starter.settled();
    const verdict = await audit.latestVerdict(image);
    expect(verdict?.decision).toBe('block');
    expect(verdict?.summary).toContain('CVE-2024-6119');
  });

  it('starts one gate for a duplicate delivery and for the same digest pushed under a second tag (CloudEvents)', async () => {
    const image = await pushWithReport('team/web', 'v1', false);
    const { audit, starter } = setup();
    const first = await handleImagePushed(eventFor(image, 'v1', 'e-3'), { policy: gated.policy, starter }, context());
    const duplicate = await handleImagePushed(
      eventFor(image, 'v1', 'e-3'),
      { policy: gated.policy, starter },
      context(),
    );
    await starter.settled();
    const secondTag = await handleImagePushed(
      cloudEventFor(image, 'latest', 'e-4'),
      { policy: gated.policy, starter },
      context(),
    );
    expect(first).toMatchObject({ outcome: 'start', started: true });
    expect(duplicate).toMatchObject({ outcome: 'start', started: false });
    expect(secondTag).toMatchObject({ outcome: 'start', started: false });
    expect((secondTag as { reason: string }).reason).toMatch(/already completed.*rescan/);
    expect(await audit.listVerdicts(image.registry, image.repository)).toHaveLength(1);
  });

  it('ignores other event types and registries outside the allowlist without starting anything', async () => {
    const { starter } = setup();
    const deleted = { ...structuredClone(SAMPLE_EVENT), eventType: 'Microsoft.ContainerRegistry.ImageDeleted' };
    const other = await handleImagePushed(deleted, { policy: gated.policy, starter }, context());
    expect(other.outcome).toBe('ignored');
    const foreign = await handleImagePushed(
      structuredClone(SAMPLE_EVENT),
      { policy: gated.policy, starter },
      context(),
    );
    expect(foreign).toEqual({
      outcome: 'ignored',
      reason: expect.stringContaining('contosoacrprod.azurecr.io is not in the policy'),
    });
    await starter.settled();
    expect(starter.list()).toHaveLength(0);
  });

  it.each([
    ['data.target.digest', (e: any) => (e.data.target.digest = 'sha256:abc')],
    ['data.target.repository', (e: any) => (e.data.target.repository = 'team/../../etc')],
    ['data.target.repository', (e: any) => (e.data.target.repository = 'x'.repeat(5000))],
    ['data.request.host', (e: any) => delete e.data.request.host],
    ['data.request.host', (e: any) => (e.data.request.host = 'user@evil.example')],
    ['data.target', (e: any) => (e.data.target = 'not an object')],
  ])('rejects a malformed push event naming %s, and starts nothing', async (field, mutate) => {
    const { starter } = setup();
    const event = structuredClone(SAMPLE_EVENT);
    mutate(event);
    let error: unknown;
    try {
      await handleImagePushed(event, { policy: gated.policy, starter }, context());
    } catch (err) {
      error = err;
    }
    expect(isGuardError(error, 'INVALID_INPUT')).toBe(true);
    expect((error as { field?: string }).field).toBe(field);
    await starter.settled();
    expect(starter.list()).toHaveLength(0);
  });
});
