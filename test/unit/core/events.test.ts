import { readFileSync } from 'node:fs';
import path from 'node:path';
import { IMAGE_PUSHED, parseAcrEvent, parseRegistryNotification } from '../../../src/core/events';
import { GuardError } from '../../../src/core/errors';

const FIXTURES = path.join(__dirname, '../../fixtures/events');
const fixture = (name: string): any => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8'));

const DOC_DIGEST = 'sha256:213bbc182920ab41e18edc2001e06abcca6735d87782d9cef68abd83941cf0e5';

function guardError(fn: () => unknown, field: string): GuardError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GuardError);
    const e = err as GuardError;
    expect({ code: e.code, field: e.field }).toEqual({ code: 'INVALID_INPUT', field });
    return e;
  }
  throw new Error(`expected a GuardError for ${field}, nothing was thrown`);
}

describe('parseAcrEvent: Microsoft sample payloads', () => {
  it.each([
    'eventgrid-image-pushed.json',
    'cloudevent-image-pushed.json',
    'eventgrid-image-pushed-connected-registry.json',
  ])('reads the push in %s', (name) => {
    expect(parseAcrEvent(fixture(name))).toEqual({
      kind: 'push',
      image: { registry: 'demo.azurecr.io', repository: 'aci-helloworld', digest: DOC_DIGEST },
      tag: 'v1',
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      eventId: '831e1650-001e-001b-66ab-eeb76e069631',
    });
  });

  it('reads a push by digest (no tag) of an index', () => {
    expect(parseAcrEvent(fixture('eventgrid-index-pushed-by-digest.json'))).toEqual({
      kind: 'push',
      image: {
        registry: 'contosoacrprod.azurecr.io',
        repository: 'contoso/web',
        digest: 'sha256:b151b56832511a7cb607d568f48771e4be245ab96e08ee6913361e2f91df83a8',
      },
      mediaType: 'application/vnd.oci.image.index.v1+json',
      eventId: '6a4b0a5e-91f1-4c8e-9a44-0f3b6de1c7a2',
    });
  });

  it.each([
    ['eventgrid-image-deleted.json', 'Microsoft.ContainerRegistry.ImageDeleted'],
    ['cloudevent-image-deleted.json', 'Microsoft.ContainerRegistry.ImageDeleted'],
    ['eventgrid-chart-pushed.json', 'Microsoft.ContainerRegistry.ChartPushed'],
  ])('ignores %s with a reason', (name, type) => {
    const parsed = parseAcrEvent(fixture(name));
    expect(parsed).toEqual({
      kind: 'ignored',
      reason: `event type ${type} is not ${IMAGE_PUSHED}`,
      eventId: fixture(name).id,
    });
  });

  it('ignores other event types even with malformed data (nothing of theirs is read)', () => {
    const parsed = parseAcrEvent({
      id: 'x',
      eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
      data: { validationCode: 'abc' },
    });
    expect(parsed.kind).toBe('ignored');
    expect(parseAcrEvent({ id: 'x', eventType: 'ImagePushed', data: {} }).kind).toBe('ignored');
  });

  it('normalises the registry host from data.request.host', () => {
    const event = fixture('eventgrid-image-pushed.json');
    event.data.request.host = 'Demo.AzureCR.io:443';
    const parsed = parseAcrEvent(event);
    expect(parsed.kind === 'push' && parsed.image.registry).toBe('demo.azurecr.io');
  });

  it('treats an empty tag as a push by digest', () => {
    const event = fixture('cloudevent-image-pushed.json');
    event.data.target.tag = '';
    const parsed = parseAcrEvent(event);
    expect(parsed.kind === 'push' && parsed.tag).toBeUndefined();
  });

  it('ignores a pushed blob media type', () => {
    const event = fixture('eventgrid-image-pushed.json');
    event.data.target.mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip';
    expect(parseAcrEvent(event)).toMatchObject({ kind: 'ignored', reason: expect.stringContaining('blob') });
  });
});

describe('parseAcrEvent: malformed push events name the field', () => {
  type Mutate = (e: any) => void;
  const cases: Array<[string, Mutate, string]> = [
    ['data.target.digest', (e) => (e.data.target.digest = 'sha256:abc'), 'sha256:<64 lower-case hex>'],
    ['data.target.digest', (e) => delete e.data.target.digest, 'a non-empty string'],
    ['data.target.digest', (e) => (e.data.target.digest = 42), 'a non-empty string'],
    ['data.target.digest', (e) => (e.data.target.digest = DOC_DIGEST.toUpperCase()), 'sha256:'],
    ['data.target.repository', (e) => (e.data.target.repository = 'a/../b'), 'OCI repository path'],
    ['data.target.repository', (e) => (e.data.target.repository = '%2e%2e/etc'), 'OCI repository path'],
    ['data.target.repository', (e) => (e.data.target.repository = 'Upper/Case'), 'OCI repository path'],
    ['data.target.repository', (e) => (e.data.target.repository = ['a']), 'a non-empty string'],
    ['data.target.tag', (e) => (e.data.target.tag = '-bad'), 'a tag of'],
    ['data.target.tag', (e) => (e.data.target.tag = 1), 'a string'],
    ['data.target.mediaType', (e) => (e.data.target.mediaType = {}), 'a string'],
    ['data.target.size', (e) => (e.data.target.size = '3023'), 'a non-negative integer'],
    ['data.target.length', (e) => (e.data.target.length = -1), 'a non-negative integer'],
    ['data.target', (e) => delete e.data.target, 'an object'],
    ['data.target', (e) => (e.data.target = []), 'an object'],
    ['data.request', (e) => delete e.data.request, 'an object'],
    ['data.request.host', (e) => delete e.data.request.host, 'a non-empty string'],
    ['data.request.host', (e) => (e.data.request.host = 'user@demo.azurecr.io'), 'registry host'],
    ['data.request.host', (e) => (e.data.request.host = 'https://demo.azurecr.io'), 'registry host'],
    ['data.request.host', (e) => (e.data.request.host = 'demo.azurecr.io/evil'), 'registry host'],
    ['data.action', (e) => (e.data.action = 'delete'), '"push"'],
    ['data', (e) => (e.data = 'push'), 'an object'],
    ['data', (e) => delete e.data, 'an object'],
    ['id', (e) => delete e.id, 'a non-empty string'],
    ['id', (e) => (e.id = 7), 'a non-empty string'],
    ['subject', (e) => (e.subject = {}), 'a string'],
    ['data.request.useragent', (e) => (e.data.request.useragent = 'x'.repeat(4097)), 'at most 4096 chars'],
    ['data.target.annotations.x', (e) => (e.data.target.annotations = { x: 'y'.repeat(10_000) }), 'at most 4096 chars'],
  ];

  it.each(cases)('Event Grid: %s (%#)', (field, mutate, message) => {
    const event = fixture('eventgrid-image-pushed.json');
    mutate(event);
    expect(guardError(() => parseAcrEvent(event), field).message).toContain(message);
  });

  it.each(cases)('CloudEvents: %s (%#)', (field, mutate, message) => {
    const event = fixture('cloudevent-image-pushed.json');
    mutate(event);
    expect(guardError(() => parseAcrEvent(event), field).message).toContain(message);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['eventType', { eventType: 7 }, 'eventType'],
    ['eventTime', { eventTime: 1 }, 'eventTime'],
    ['topic', { topic: null as unknown as string }, ''],
  ])('Event Grid envelope field %s', (_w, patch, field) => {
    const event = { ...fixture('eventgrid-image-pushed.json'), ...patch };
    if (field === '') expect(parseAcrEvent(event).kind).toBe('push');
    else guardError(() => parseAcrEvent(event), field);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['specversion', { specversion: '0.3' }, 'specversion'],
    ['type', { type: 5 }, 'type'],
    ['source', { source: undefined }, 'source'],
    ['time', { time: 12 }, 'time'],
  ])('CloudEvents envelope field %s', (_w, patch, field) => {
    const event = { ...fixture('cloudevent-image-pushed.json'), ...patch };
    guardError(() => parseAcrEvent(event), field);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['a string', 'event'],
    ['a number', 1],
    ['an array (a batch, not one event)', [{}]],
  ])('rejects a body that is %s', (_w, body) => {
    guardError(() => parseAcrEvent(body), '(body)');
  });

  it('rejects an object that is neither schema', () => {
    guardError(() => parseAcrEvent({ id: 'x', data: {} }), 'eventType');
  });

  it('rejects absurd nesting', () => {
    const event = fixture('eventgrid-image-pushed.json');
    let deep: any = {};
    event.data.extra = deep;
    for (let i = 0; i < 30; i++) deep = deep.next = {};
    expect(() => parseAcrEvent(event)).toThrow(/levels of nesting/);
  });

  it('never echoes a huge value whole in the message', () => {
    const event = fixture('eventgrid-image-pushed.json');
    event.data.target.repository = 'A'.repeat(3000);
    const e = guardError(() => parseAcrEvent(event), 'data.target.repository');
    expect(e.message.length).toBeLessThan(500);
  });
});

describe('parseRegistryNotification (docker-registry envelope)', () => {
  it('reads a manifest push', () => {
    expect(parseRegistryNotification(fixture('registry-notification-push.json'))).toEqual([
      {
        kind: 'push',
        image: {
          registry: '127.0.0.1:5000',
          repository: 'contoso/api',
          digest: 'sha256:ae11e056392a65acd4e08a36a95a1d5f9bbe27c06b112d9600f2bffa0d90535d',
        },
        tag: 'v1',
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        eventId: 'f9319330-83ff-4c0c-9373-5853be307946',
      },
    ]);
  });

  it('reads an index push', () => {
    const [parsed] = parseRegistryNotification(fixture('registry-notification-push-index.json'));
    expect(parsed).toMatchObject({
      kind: 'push',
      tag: 'multi',
      mediaType: 'application/vnd.oci.image.index.v1+json',
      image: { repository: 'contoso/web' },
    });
  });

  it('ignores deletes, pulls and blob pushes, keeping order', () => {
    const push = fixture('registry-notification-push.json').events[0];
    const del = fixture('registry-notification-delete.json').events[0];
    const pull = { ...structuredClone(push), id: 'pull-1', action: 'pull' };
    const blob = structuredClone(push);
    blob.id = 'blob-1';
    blob.target = {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      size: 436,
      digest: push.target.references[1].digest,
      repository: 'contoso/api',
    };
    const config = structuredClone(blob);
    config.id = 'config-1';
    config.target.mediaType = 'application/vnd.oci.image.config.v1+json';
    const octet = structuredClone(blob);
    octet.id = 'octet-1';
    octet.target.mediaType = 'application/octet-stream';
    const parsed = parseRegistryNotification({ events: [blob, config, octet, push, del, pull] });
    expect(parsed.map((p) => p.kind)).toEqual(['ignored', 'ignored', 'ignored', 'push', 'ignored', 'ignored']);
    expect(parsed[4]).toEqual({ kind: 'ignored', reason: 'action delete is not a push', eventId: del.id });
    expect(parsed[0]).toMatchObject({ reason: expect.stringContaining('not a manifest'), eventId: 'blob-1' });
  });

  it('accepts an empty envelope', () => {
    expect(parseRegistryNotification({ events: [] })).toEqual([]);
  });

  it.each<[string, (b: any) => void, string]>([
    ['events[3].target.digest', (b) => (b.events[3].target.digest = 'sha256:nope'), 'sha256:'],
    ['events[3].target.repository', (b) => (b.events[3].target.repository = '../etc'), 'repository'],
    ['events[3].request.host', (b) => (b.events[3].request.host = 'a b'), 'registry host'],
    ['events[3].request', (b) => delete b.events[3].request, 'an object'],
    ['events[3].action', (b) => (b.events[3].action = 3), 'a non-empty string'],
    ['events[3].id', (b) => delete b.events[3].id, 'a non-empty string'],
    ['events[3]', (b) => (b.events[3] = 'push'), 'an event object'],
    ['events', (b) => (b.events = {}), 'an array'],
    ['events[3].target.url', (b) => (b.events[3].target.url = 'x'.repeat(5000)), 'at most 4096'],
  ])('names %s', (field, mutate, message) => {
    const push = fixture('registry-notification-push.json').events[0];
    const body = { events: [push, push, push, structuredClone(push)] };
    mutate(body);
    expect(guardError(() => parseRegistryNotification(body), field).message).toContain(message);
  });

  it('rejects bodies that are not envelopes', () => {
    guardError(() => parseRegistryNotification([]), '(body)');
    guardError(() => parseRegistryNotification(null), '(body)');
    guardError(() => parseRegistryNotification({}), 'events');
  });

  it('rejects more events than the cap', () => {
    const push = fixture('registry-notification-push.json').events[0];
    guardError(() => parseRegistryNotification({ events: new Array(1001).fill(push) }), 'events');
  });
});
